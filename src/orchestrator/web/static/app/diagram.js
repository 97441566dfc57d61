/* Draws a deployed diagram with bpmn-js (NavigatedViewer); on an instance page it also marks
   completed elements and walked flows, active tasks and waiting timers with their due dates. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || typeof BpmnJS === "undefined") return;
  var stateNode = document.getElementById("instance-state");
  var state = stateNode ? JSON.parse(stateNode.textContent) : null;
  var viewer = new BpmnJS({ container: container });

  function showError(text) {
    var box = document.querySelector(".diagram-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
    container.setAttribute("data-state", "error");
  }

  function mark() {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var exists = function (id) { return !!registry.get(id); };
    state.completed.forEach(function (id) {
      if (exists(id)) canvas.addMarker(id, "orc-done");
    });
    state.walked.forEach(function (pair) {
      registry.filter(function (e) {
        var bo = e.businessObject;
        return e.type === "bpmn:SequenceFlow" && bo.sourceRef && bo.targetRef &&
          bo.sourceRef.id === pair[0] && bo.targetRef.id === pair[1];
      }).forEach(function (flow) { canvas.addMarker(flow.id, "orc-walked"); });
    });
    state.active.forEach(function (id) {
      if (!exists(id)) return;
      var type = registry.get(id).businessObject.$type;
      var container = type === "bpmn:SubProcess" || type === "bpmn:CallActivity";
      canvas.addMarker(id, state.tasks.indexOf(id) >= 0 ? "orc-active" : container ? "orc-running" : "orc-waiting");
      // the flow the case took into what it waits at now
      registry.filter(function (e) {
        var bo = e.businessObject;
        return e.type === "bpmn:SequenceFlow" && bo.targetRef && bo.targetRef.id === id &&
          bo.sourceRef && state.completed.indexOf(bo.sourceRef.id) >= 0;
      }).forEach(function (flow) { canvas.addMarker(flow.id, "orc-walked"); });
    });
    state.overlays.forEach(function (item) {
      if (!exists(item.element_id)) return;
      canvas.addMarker(item.element_id, item.kind === "timer" ? "orc-waiting" : "orc-active");
      var note = document.createElement("div");
      note.className = "orc-overlay orc-overlay-" + item.kind + (item.overdue ? " orc-overlay-overdue" : "");
      note.textContent = item.label;
      if (item.who) {
        var who = document.createElement("span");
        who.className = "orc-overlay-who";
        who.textContent = item.who;
        note.appendChild(who);
      }
      var position = item.kind === "timer" ? { top: 2, left: 42 } : { top: -30, left: 0 };
      overlays.add(item.element_id, "orc-due", { position: position, html: note });
    });
  }

  fetch(container.getAttribute("data-xml-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("Diagrammet kunne ikke hentes (" + response.status + ").");
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get("canvas").zoom("fit-viewport", "auto");
      if (state) mark();
      container.setAttribute("data-state", "ready");
    })
    .catch(function (error) { showError("Diagrammet kunne ikke vises: " + error.message); });
})();
