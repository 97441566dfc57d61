/* Small progressive enhancements; every page works without them. No inline script (CSP). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.orchestratorCsrfToken = csrfToken;

  // --- repeating rows (form-js dynamiclist) ------------------------------------------------
  function renumber(node, index) {
    ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
      node.querySelectorAll("[" + attr + "]").forEach(function (el) {
        el.setAttribute(attr, el.getAttribute(attr).split("__INDEX__").join(String(index)));
      });
    });
  }

  function setupList(list) {
    var rows = list.querySelector(".dl-rows");
    var template = list.querySelector("template.dl-template");
    var add = list.querySelector(".dl-add");
    if (!rows || !template || !add) return;
    add.hidden = false;
    var hint = list.querySelector(".dl-nojs");
    if (hint) hint.hidden = true;
    function wireRemove(row) {
      var remove = row.querySelector(".dl-remove");
      if (!remove) return;
      remove.hidden = false;
      remove.addEventListener("click", function () {
        row.remove();
      });
    }
    rows.querySelectorAll(".dl-row").forEach(wireRemove);
    add.addEventListener("click", function () {
      var index = parseInt(list.getAttribute("data-next-index") || "0", 10);
      list.setAttribute("data-next-index", String(index + 1));
      var fragment = template.content.cloneNode(true);
      var row = fragment.querySelector(".dl-row");
      row.setAttribute("data-index", String(index));
      renumber(row, index);
      rows.appendChild(fragment);
      wireRemove(row);
      var first = row.querySelector("input, select, textarea");
      if (first) first.focus();
    });
  }

  // --- form-js conditions (conditional.hide), evaluated by the server ----------------------
  function setHidden(wrapper, hidden) {
    var controls = [wrapper].concat(Array.prototype.slice.call(wrapper.querySelectorAll("input, select, textarea, fieldset")));
    wrapper.hidden = hidden;
    controls.forEach(function (el) {
      if (!("disabled" in el)) return;
      if (hidden && !el.disabled) {
        el.disabled = true;
        el.setAttribute("data-orc-hidden", "1");
      } else if (!hidden && el.getAttribute("data-orc-hidden")) {
        el.disabled = false;
        el.removeAttribute("data-orc-hidden");
      }
    });
  }

  function setupConditions(form) {
    var url = form.getAttribute("data-visibility-url");
    if (!url) return;
    var wrappers = form.querySelectorAll(".field[data-key], fieldset.group[data-keys], fieldset.dynamiclist[data-list]");
    if (!wrappers.length) return;
    var pending = null;
    function refresh() {
      var body = new FormData(form);
      fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer) return;
          var hidden = {};
          answer.hidden.forEach(function (k) { hidden[k] = true; });
          wrappers.forEach(function (w) {
            var key = w.getAttribute("data-key") || w.getAttribute("data-keys") || w.getAttribute("data-list");
            if (key && key.indexOf(".") === -1) setHidden(w, !!hidden[key]);
          });
        })
        .catch(function () { /* the server checks again on submit */ });
    }
    form.addEventListener("change", function () {
      clearTimeout(pending);
      pending = setTimeout(refresh, 150);
    });
  }

  // --- one submission per click -------------------------------------------------------------
  function guardDoubleSubmit(form) {
    form.addEventListener("submit", function () {
      var buttons = form.querySelectorAll("button[type=submit]");
      setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.task-form").forEach(guardDoubleSubmit);
    document.querySelectorAll("fieldset.dynamiclist").forEach(setupList);
    document.querySelectorAll("form.task-form").forEach(setupConditions);
    var summary = document.querySelector(".error-summary[tabindex]");
    if (summary) summary.focus();
  });

  // --- tables on a phone: each cell names its column (app.css stacks the rows) ---------------
  function labelCells(table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    if (!heads.length) return;
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, i) {
        if (heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
      });
    });
  }
  document.querySelectorAll("table.table").forEach(labelCells);
})();
