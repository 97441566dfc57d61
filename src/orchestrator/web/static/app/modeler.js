/* The process owners' modeler: bpmn-js Modeler + properties panel with Camunda attributes.
   "Rull ut ny versjon" saves the XML exactly as the modeler writes it and posts it to the API;
   the deploy checks it and answers with the new version or the problems (nothing stored). */
(function () {
  "use strict";
  var root = document.getElementById("modeler");
  if (!root || typeof BpmnJS === "undefined" || typeof BpmnJSPropertiesPanel === "undefined") return;
  var deployButton = document.getElementById("rull-ut");
  var downloadButton = document.getElementById("last-ned");
  var statusBox = document.getElementById("modeler-status");
  var problemsBox = document.getElementById("modeler-problems");
  var dirty = false;
  var modeler;

  function status(text, kind, link) {
    statusBox.textContent = "";
    statusBox.className = "modeler-status" + (kind ? " flash flash-" + kind : "");
    statusBox.appendChild(document.createTextNode(text));
    if (link) {
      statusBox.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      statusBox.appendChild(a);
    }
  }

  function showProblems(problems) {
    var body = problemsBox.querySelector("tbody");
    body.textContent = "";
    problems.forEach(function (p) {
      var row = document.createElement("tr");
      [p.file, p.element_id || "–", p.line || "–", p.message].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = String(value);
        row.appendChild(cell);
      });
      if (p.element_id && modeler.get("elementRegistry").get(p.element_id)) {
        row.className = "clickable";
        row.addEventListener("click", function () {
          var element = modeler.get("elementRegistry").get(p.element_id);
          modeler.get("selection").select(element);
          modeler.get("canvas").scrollToElement(element);
        });
      }
      body.appendChild(row);
    });
    problemsBox.hidden = problems.length === 0;
  }

  function deploy() {
    deployButton.disabled = true;
    status("Ruller ut …");
    showProblems([]);
    modeler.saveXML({ format: true })
      .then(function (result) {
        root.setAttribute("data-last-xml-length", String(result.xml.length));
        return fetch(root.getAttribute("data-deploy-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/xml", "Accept": "application/json",
                     "X-CSRFToken": window.orchestratorCsrfToken() },
          body: result.xml
        });
      })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (answer) {
        var body = answer.body;
        if (answer.status === 201 || answer.status === 200) {
          dirty = false;
          var href = root.getAttribute("data-process-url").replace("__KEY__", encodeURIComponent(body.key));
          var text = answer.status === 201
            ? "Rullet ut som versjon " + body.version + " av «" + body.key + "»."
            : "Ingen endringer: versjon " + body.version + " av «" + body.key + "» er lik.";
          status(text, "success", { href: href, text: "Se versjonene" });
          root.setAttribute("data-deployed-version", String(body.version));
        } else if (answer.status === 422 && body.problems) {
          status(body.message.split("\n")[0], "error");
          showProblems(body.problems);
        } else {
          status(body.message || ("Feil " + answer.status), "error");
        }
      })
      .catch(function (error) { status("Utrullingen feilet: " + error.message, "error"); })
      .then(function () { deployButton.disabled = false; });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var id = modeler.getDefinitions().rootElements.filter(function (e) { return e.$type === "bpmn:Process"; })[0];
      var blob = new Blob([result.xml], { type: "application/xml" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = (id ? id.id : "prosess") + ".bpmn";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    });
  }

  Promise.all([
    fetch(root.getAttribute("data-moddle-url"), { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    fetch(root.getAttribute("data-source-url"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("diagrammet kunne ikke hentes (" + r.status + ")");
      return r.text();
    })
  ]).then(function (loaded) {
    modeler = new BpmnJS({
      container: "#modeler-canvas",
      propertiesPanel: { parent: "#modeler-panel" },
      additionalModules: [
        BpmnJSPropertiesPanel.BpmnPropertiesPanelModule,
        BpmnJSPropertiesPanel.BpmnPropertiesProviderModule,
        BpmnJSPropertiesPanel.CamundaPlatformPropertiesProviderModule
      ],
      moddleExtensions: { camunda: loaded[0] }
    });
    window.orchestratorModeler = modeler;
    return modeler.importXML(loaded[1]);
  }).then(function (result) {
    modeler.get("canvas").zoom("fit-viewport", "auto");
    modeler.on("commandStack.changed", function () { dirty = true; });
    deployButton.disabled = false;
    deployButton.addEventListener("click", deploy);
    downloadButton.addEventListener("click", download);
    root.setAttribute("data-state", "ready");
    if (result && result.warnings && result.warnings.length) {
      status("Diagrammet ble åpnet med " + result.warnings.length + " advarsel(er) fra bpmn-js.", "info");
    }
  }).catch(function (error) {
    status("Modellereren kunne ikke starte: " + error.message, "error");
    root.setAttribute("data-state", "error");
  });

  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
