// The process owners' modeler (bundled by web/build.mjs into static/vendor/modeler.bundle.js):
// bpmn-js with the properties panel and Camunda attributes, the «Orkestrering» group, Norwegian
// texts, bpmnlint's recommended rules on the elements while editing, and the server's own check
// (POST /api/v1/processes/check) shown on the elements beside them. Saving a draft, deploying and
// the problems table are static/app/editor.js, shared with the form and decision table editors.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import "bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css";

import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import lintModule from "bpmn-js-bpmnlint";
import lintConfig from "orchestrator-bpmnlint-config";

import translateModule from "./nb.js";
import orkestreringModule from "./orkestrering.js";

const PROBLEM = "orkestrering-problem";

function json(url) {
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { items: [] }));
}

function text(url) {
  return fetch(url, { credentials: "same-origin" }).then((r) => {
    if (!r.ok) throw new Error("diagrammet kunne ikke hentes (" + r.status + ")");
    return r.text();
  });
}

function start(root) {
  let modeler = null;
  const editor = window.OrchestratorEditor.create(root, {
    contentType: "application/xml",
    content: () => modeler.saveXML({ format: true }).then((r) => r.xml),
    select: (id) => {
      const element = modeler.get("elementRegistry").get(id);
      if (!element) return;
      modeler.get("selection").select(element);
      modeler.get("canvas").scrollToElement(element);
    },
    onProblems: (problems) => mark(modeler, problems),
    key: () => {
      const process = modeler.getDefinitions().rootElements.find((e) => e.$type === "bpmn:Process");
      return process ? process.id : "";
    },
  });

  Promise.all([
    json(root.getAttribute("data-forms-url")),
    json(root.getAttribute("data-decisions-url")),
    text(root.getAttribute("data-source-url")),
  ]).then(([forms, decisions, xml]) => {
    const decisionFiles = {};
    (decisions.items || []).forEach((d) => { decisionFiles[d.key] = d.key; });
    modeler = new BpmnModeler({
      container: "#modeler-canvas",
      propertiesPanel: { parent: "#modeler-panel" },
      linting: { bpmnlint: lintConfig, active: true },
      orkestrering: {
        forms: (forms.items || []).map((f) => f.key),
        decisions: Object.keys(decisionFiles),
        decisionFiles,
        formEditorUrl: root.getAttribute("data-form-editor-url"),
        dmnEditorUrl: root.getAttribute("data-dmn-editor-url"),
      },
      additionalModules: [
        BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule,
        lintModule, translateModule, orkestreringModule,
      ],
      moddleExtensions: { camunda: camundaModdle },
    });
    window.orchestratorModeler = modeler;
    return modeler.importXML(xml);
  }).then((result) => {
    fit(modeler);
    modeler.on("commandStack.changed", editor.changed);
    modeler.on("linting.completed", (event) => {
      root.setAttribute("data-lint-issues", String(Object.keys(event.issues || {}).length));
    });
    editor.ready();
    document.getElementById("last-ned").addEventListener("click", () => download(modeler));
    if (result && result.warnings && result.warnings.length) {
      editor.status("Diagrammet ble åpnet med " + result.warnings.length + " advarsel(er) fra bpmn-js.", "info");
    }
  }).catch((error) => {
    editor.status("Modellereren kunne ikke starte: " + error.message, "error");
    root.setAttribute("data-state", "error");
  });
}

// The whole diagram in view, with room for the palette on the left: bpmn-js's «fit-viewport»
// centres on the canvas, under the palette, so the start of the diagram hid behind it.
function fit(modeler) {
  const canvas = modeler.get("canvas");
  canvas.zoom("fit-viewport", "auto");
  const palette = document.querySelector("#modeler-canvas .djs-palette");
  const box = canvas.viewbox();
  const inner = box.inner;
  const margin = ((palette ? palette.getBoundingClientRect().width : 0) + 24) / box.scale;
  if (inner.x - box.x < margin) {
    const scale = Math.min(box.scale, (box.outer.width - (margin * box.scale) - 24) / Math.max(inner.width, 1));
    canvas.zoom(scale);
    const now = canvas.viewbox();
    canvas.viewbox({ x: inner.x - ((palette ? palette.getBoundingClientRect().width : 0) + 24) / now.scale,
      y: inner.y - (now.height - inner.height) / 2, width: now.width, height: now.height });
  }
}

function download(modeler) {
  modeler.saveXML({ format: true }).then((result) => {
    const process = modeler.getDefinitions().rootElements.find((e) => e.$type === "bpmn:Process");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
    a.download = (process ? process.id : "prosess") + ".bpmn";
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  });
}

// The server's problems on the elements they name (bpmnlint's overlays show beside them).
function mark(modeler, problems) {
  if (!modeler) return;
  const overlays = modeler.get("overlays");
  const canvas = modeler.get("canvas");
  const registry = modeler.get("elementRegistry");
  overlays.remove({ type: PROBLEM });
  registry.forEach((element) => canvas.removeMarker(element, PROBLEM));
  const byElement = {};
  problems.forEach((p) => {
    if (p.element_id && registry.get(p.element_id)) (byElement[p.element_id] = byElement[p.element_id] || []).push(p.message);
  });
  Object.keys(byElement).forEach((id) => {
    const element = registry.get(id);
    canvas.addMarker(element, PROBLEM);
    const badge = document.createElement("div");
    badge.className = "orkestrering-problem-badge";
    badge.setAttribute("data-element-id", id);
    badge.textContent = "!";
    badge.title = byElement[id].join("\n");
    overlays.add(element, PROBLEM, { position: { top: -10, left: -10 }, html: badge });
  });
}

const root = document.getElementById("modeler");
if (root) start(root);
