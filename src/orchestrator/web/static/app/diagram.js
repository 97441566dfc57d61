/* Draws a deployed diagram with bpmn-js (NavigatedViewer); on an instance page it also marks
   completed elements and walked flows, active tasks and waiting timers with their due dates; on a
   version page compared with another version, what was added and changed (the server's diff). */
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

  // Readable labels: a wide routine fitted into the box draws its text too small to read, so the
  // diagram opens no smaller than READABLE, at the step the case waits at (or its start).
  var READABLE = 0.8;

  function place() {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    if (canvas.zoom() >= READABLE) return;
    var registry = viewer.get("elementRegistry");
    var focus = state && state.active.map(function (id) { return registry.get(id); }).filter(Boolean)[0];
    if (!focus) focus = registry.filter(function (e) { return e.type === "bpmn:StartEvent"; })[0];
    canvas.zoom(READABLE);
    if (focus) canvas.scrollToElement(focus, { top: 80, left: 120, right: 120, bottom: 80 });
  }

  function wireTools() {
    var tools = document.querySelector(".diagram-tools");
    if (!tools) return;
    var canvas = viewer.get("canvas");
    tools.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) return;
      var how = button.getAttribute("data-zoom");
      if (how === "fit") canvas.zoom("fit-viewport", "auto");
      else canvas.zoom(Math.min(4, Math.max(0.2, canvas.zoom() * (how === "in" ? 1.25 : 0.8))));
    });
  }

  // Clicking a step shows what happened there in this case (the server's history, by step).
  function wireHistory() {
    var panel = document.getElementById("step-history");
    if (!panel || !state || !state.history) return;
    viewer.get("eventBus").on("element.click", function (event) {
      var element = event.element;
      if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration" ||
          element.type === "bpmn:Participant" || element.type === "bpmn:Lane" || element.type === "label") return;
      var bo = element.businessObject;
      var lines = state.history[element.id] || [];
      panel.textContent = "";
      var title = document.createElement("h3");
      title.textContent = bo.name || "Steget uten navn";
      panel.appendChild(title);
      if (!lines.length) {
        var none = document.createElement("p");
        none.className = "muted";
        none.textContent = state.active.indexOf(element.id) >= 0 ? "Saken står her nå." :
          state.completed.indexOf(element.id) >= 0 ? "Saken har passert dette steget." :
          "Saken har ikke vært innom dette steget.";
        panel.appendChild(none);
      } else {
        var list = document.createElement("ul");
        lines.forEach(function (line) {
          var item = document.createElement("li");
          item.textContent = line.at + ": " + line.what + (line.who ? " (" + line.who + ")" : "");
          list.appendChild(item);
        });
        panel.appendChild(list);
      }
      panel.hidden = false;
      panel.setAttribute("data-element-id", element.id);
    });
  }

  function markDiff() {
    var url = container.getAttribute("data-diff-url");
    if (!url) return null;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (diff) {
        if (!diff) return;
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        diff.added.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "orc-added"); });
        diff.changed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "orc-changed"); });
        var list = document.getElementById("diff-summary");
        if (list) {
          var parts = [["Lagt til", diff.added], ["Endret", diff.changed], ["Fjernet", diff.removed]];
          list.textContent = "";
          parts.forEach(function (part) {
            var item = document.createElement("li");
            item.setAttribute("data-kind", part[0]);
            item.textContent = part[0] + ": " + (part[1].length ? part[1].map(function (id) {
              var element = registry.get(id);
              var name = element && element.businessObject.name;
              return name ? name + " (" + id + ")" : id;
            }).join(", ") : "ingenting");
            list.appendChild(item);
          });
        }
        container.setAttribute("data-diff", [diff.added.length, diff.changed.length, diff.removed.length].join(","));
      });
  }

  fetch(container.getAttribute("data-xml-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("Diagrammet kunne ikke hentes (" + response.status + ").");
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      place();
      wireTools();
      wireHistory();
      if (state) mark();
      return markDiff();
    })
    .then(function () {
      container.setAttribute("data-state", "ready");
    })
    .catch(function (error) { showError("Diagrammet kunne ikke vises: " + error.message); });
})();
