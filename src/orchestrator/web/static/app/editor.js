/* What the three browser editors (diagram, form, decision table) share: the buttons «Lagre
   utkast», «Forkast utkast» and «Rull ut ny versjon», the status line, the problems table and the
   check while editing (POST …/check: what deploy would refuse, nothing stored).
   Each editor gives `content()` (a promise of the document's text) and may mark problems on its
   own drawing through `onProblems`. */
(function () {
  "use strict";

  function request(url, method, body, type) {
    var headers = { "Accept": "application/json", "X-CSRFToken": window.orchestratorCsrfToken() };
    if (type) headers["Content-Type"] = type;
    return fetch(url, { method: method, credentials: "same-origin", headers: headers, body: body })
      .then(function (response) {
        if (response.status === 204) return { status: 204, body: {} };
        return response.json().then(function (json) { return { status: response.status, body: json }; },
          function () { return { status: response.status, body: { message: "Feil " + response.status } }; });
      });
  }

  function withKey(url, key) {
    if (!key) return url;
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "key=" + encodeURIComponent(key);
  }

  function create(root, options) {
    var statusBox = document.getElementById("editor-status");
    var problemsBox = document.getElementById("editor-problems");
    var draftNote = document.getElementById("draft-note");
    var deployButton = document.getElementById("rull-ut");
    var draftButton = document.getElementById("lagre-utkast");
    var discardButton = document.getElementById("forkast-utkast");
    var type = options.contentType;
    var formKey = root.getAttribute("data-form-key") || null;
    var dirty = false;
    var checkTimer = null;
    var checking = 0;

    function status(text, kind, link) {
      statusBox.textContent = "";
      statusBox.className = "editor-status" + (kind ? " flash flash-" + kind : "");
      statusBox.appendChild(document.createTextNode(text));
      if (link) {
        statusBox.appendChild(document.createTextNode(" "));
        var a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        statusBox.appendChild(a);
      }
    }

    function showProblems(problems, heading) {
      var body = problemsBox.querySelector("tbody");
      body.textContent = "";
      problemsBox.querySelector("h2").textContent = heading || "Dette må rettes før utrulling";
      problems.forEach(function (p) {
        var row = document.createElement("tr");
        [p.element_id || "–", p.message].forEach(function (value) {
          var cell = document.createElement("td");
          cell.textContent = String(value);
          row.appendChild(cell);
        });
        if (p.detail) {  // what the parser or engine said, folded away (decision 0018)
          var more = document.createElement("details"), summary = document.createElement("summary");
          more.className = "technical";
          summary.textContent = "Teknisk";
          more.appendChild(summary);
          more.appendChild(document.createTextNode(String(p.detail)));
          row.lastChild.appendChild(more);
        }
        if (p.element_id && options.select) {
          row.className = "clickable";
          row.addEventListener("click", function () { options.select(p.element_id); });
        }
        body.appendChild(row);
      });
      problemsBox.hidden = problems.length === 0;
      root.setAttribute("data-problems", String(problems.length));
      if (options.onProblems) options.onProblems(problems);
    }

    function check() {
      var ticket = ++checking;
      root.setAttribute("data-checking", "true");
      return options.content().then(function (text) {
        return request(withKey(root.getAttribute("data-check-url"), formKey), "POST", text, type);
      }).then(function (answer) {
        if (ticket !== checking) return;
        if (answer.status === 200) showProblems(answer.body.problems || []);
        root.setAttribute("data-checking", "false");
      }).catch(function () { root.setAttribute("data-checking", "false"); });
    }

    function changed() {
      dirty = true;
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 700);
    }

    function deploy() {
      deployButton.disabled = true;
      status("Ruller ut …");
      options.content().then(function (text) {
        return request(withKey(root.getAttribute("data-deploy-url"), formKey), "POST", text, type);
      }).then(function (answer) {
        var body = answer.body;
        if (answer.status === 201 || answer.status === 200) {
          dirty = false;
          if (draftNote) draftNote.hidden = true;
          if (discardButton) discardButton.hidden = true;
          var href = root.getAttribute("data-process-url").replace("__KEY__", encodeURIComponent(body.key));
          status(answer.status === 201 ? "Rullet ut som versjon " + body.version + " av «" + body.key + "»."
            : "Ingen endringer: versjon " + body.version + " av «" + body.key + "» er lik.", "success",
          { href: href, text: "Se versjonene" });
          root.setAttribute("data-deployed-version", String(body.version));
          showProblems([]);
        } else if (answer.status === 422 && body.problems) {
          status("Utrullingen ble avvist – ingenting ble lagret.", "error");
          showProblems(body.problems, "Utrullingen ble avvist – dette må rettes");
        } else {
          status(body.message || ("Feil " + answer.status), "error");
        }
      }).catch(function (error) { status("Utrullingen feilet: " + error.message, "error"); })
        .then(function () { deployButton.disabled = false; });
    }

    function draftUrl() {
      var key = options.key ? options.key() : root.getAttribute("data-key");
      return root.getAttribute("data-draft-url").replace("__KEY__", encodeURIComponent(key || ""));
    }

    function saveDraft() {
      options.content().then(function (text) {
        var url = draftUrl();
        var base = root.getAttribute("data-base-version");
        if (base) url += "?base_version=" + encodeURIComponent(base);
        return request(url, "PUT", text, type);
      }).then(function (answer) {
        if (answer.status === 200) {
          dirty = false;
          if (discardButton) discardButton.hidden = false;
          status("Utkastet er lagret. Det er ikke rullet ut: ingen saker kan starte på det før du ruller det ut.", "info");
          root.setAttribute("data-draft-saved", answer.body.saved_at);
          if (options.onDraftSaved) options.onDraftSaved();
        } else {
          status(answer.body.message || ("Feil " + answer.status), "error");
        }
      });
    }

    function discardDraft() {
      if (!window.confirm("Forkaste utkastet og åpne den gjeldende versjonen?")) return;
      request(draftUrl(), "DELETE").then(function (answer) {
        if (answer.status === 204 || answer.status === 404) {
          dirty = false;
          window.location.reload();
        } else {
          status(answer.body.message || ("Feil " + answer.status), "error");
        }
      });
    }

    function ready() {
      deployButton.disabled = false;
      deployButton.addEventListener("click", deploy);
      if (draftButton) { draftButton.disabled = false; draftButton.addEventListener("click", saveDraft); }
      if (discardButton) discardButton.addEventListener("click", discardDraft);
      root.setAttribute("data-state", "ready");
      check();
    }

    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });

    return { status: status, showProblems: showProblems, check: check, changed: changed, ready: ready,
             saveDraft: saveDraft, isDirty: function () { return dirty; } };
  }

  window.OrchestratorEditor = { create: create, request: request };
})();
