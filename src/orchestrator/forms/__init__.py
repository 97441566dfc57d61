"""Forms: form-js definitions, their server-side validation, and FEEL conditions."""
