/* The form editor: bpmn.io's form-js editor on a form (its draft, else its newest version). The
   document is saved exactly as form-js writes it; deploy and the check are the server's
   (static/app/editor.js). «Forhåndsvis og prøv» saves a draft and opens the server's preview. */
(function () {
  "use strict";
  var root = document.getElementById("form-editor");
  if (!root || typeof FormEditor === "undefined") return;
  var formEditor = null;

  var editor = window.OrchestratorEditor.create(root, {
    contentType: "application/json",
    content: function () { return Promise.resolve(JSON.stringify(formEditor.saveSchema(), null, 2)); },
    onDraftSaved: function () {
      if (root.getAttribute("data-preview-after-save") === "true") {
        window.location.href = root.getAttribute("data-preview-url");
      }
    }
  });

  fetch(root.getAttribute("data-source-url"), { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error("skjemaet kunne ikke hentes (" + r.status + ")");
      return r.json();
    })
    .then(function (schema) {
      formEditor = new FormEditor.FormEditor({ container: root });
      window.orchestratorFormEditor = formEditor;
      return formEditor.importSchema(schema);
    })
    .then(function () {
      formEditor.on("changed", editor.changed);
      document.getElementById("forhandsvis").addEventListener("click", function () {
        root.setAttribute("data-preview-after-save", "true");
        editor.saveDraft();
      });
      editor.ready();
    })
    .catch(function (error) {
      editor.status("Skjemaeditoren kunne ikke starte: " + error.message, "error");
      root.setAttribute("data-state", "error");
    });
})();
