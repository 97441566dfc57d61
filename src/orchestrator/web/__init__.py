"""The thin web layer: Flask blueprints for pages and the JSON API, calling services only."""
