/* The decision table editor: bpmn.io's dmn-js on a DMN file (its draft, else its newest version),
   with its texts in Norwegian. Cells are FEEL as the DMN standard says (unary tests in input
   entries: "ja", < 18, [1..5], -, lists, not(...)); deploy translates them for the engine and
   refuses what it cannot translate, naming the rule and column. Deploy and the check while
   editing are the server's (static/app/editor.js). */
(function () {
  "use strict";
  var root = document.getElementById("dmn-editor");
  if (!root || typeof DmnJS === "undefined") return;

  var NB = {
    "Add rule": "Ny regel", "Add rule above": "Ny regel over", "Add rule below": "Ny regel under",
    "Remove rule": "Slett regelen", "Copy rule": "Kopier regelen", "Cut rule": "Klipp ut regelen",
    "Paste rule above": "Lim inn regel over", "Paste rule below": "Lim inn regel under", "Move rule": "Flytt regelen",
    "Add input": "Nytt inndata", "Add output": "Nytt resultat", "Input": "Inndata", "Output": "Resultat",
    "Add input column left": "Nytt inndata til venstre", "Add input column right": "Nytt inndata til høyre",
    "Add output column left": "Nytt resultat til venstre", "Add output column right": "Nytt resultat til høyre",
    "Remove input column": "Slett inndataet", "Remove output column": "Slett resultatet",
    "Copy input column": "Kopier inndataet", "Copy output column": "Kopier resultatet",
    "Cut input column": "Klipp ut inndataet", "Cut output column": "Klipp ut resultatet",
    "Paste input column left": "Lim inn til venstre", "Paste input column right": "Lim inn til høyre",
    "Paste output column left": "Lim inn til venstre", "Paste output column right": "Lim inn til høyre",
    "Annotation": "Merknad", "Annotations": "Merknader", "Hit policy": "Treffregel", "Hit policy:": "Treffregel:",
    "When": "Når", "Then": "Så", "And": "Og", "Yes": "Ja", "No": "Nei", "Value": "Verdi", "Values": "Verdier",
    "Type": "Type", "Expression": "Uttrykk", "Input expression": "Inndatauttrykk", "Input expression: ": "Inndatauttrykk: ",
    "Input label": "Navn på inndata", "Input label: ": "Navn på inndata: ", "Input type": "Type inndata",
    "Input values": "Mulige verdier", "Output label": "Navn på resultat", "Output label: ": "Navn på resultat: ",
    "Output name": "Feltnavn", "Output name: ": "Feltnavn: ", "Output type": "Type resultat",
    "Output values": "Mulige verdier", "Decision name": "Beslutningens navn", "Decision name: ": "Beslutningens navn: ",
    "Edit": "Rediger", "Edit string": "Rediger tekst", "Edit number": "Rediger tall", "Edit boolean": "Rediger ja/nei",
    "Edit date": "Rediger dato", "Edit input": "Rediger inndata", "Edit output": "Rediger resultat",
    "Enter expression": "Skriv uttrykket", "Expression language": "Uttrykksspråk",
    "Strings must be in double quotes": "Tekst skal stå i doble anførselstegn",
    "Match one": "Ett av", "Match none": "Ingen av", "Add values": "Legg til verdier",
    "Add predefined values": "Legg til faste verdier", "Predefined values": "Faste verdier",
    "Clear predefined values": "Fjern faste verdier", "Custom values": "Egne verdier", "No values": "Ingen verdier",
    "Comparison": "Sammenligning", "Range": "Intervall", "Equals": "Lik", "Less": "Mindre enn",
    "Less or equals": "Mindre enn eller lik", "Greater": "Større enn", "Greater or equals": "Større enn eller lik",
    "Include": "Ta med", "Exclude": "Utelat", "Between": "Mellom", "Exactly": "Nøyaktig",
    "Start value": "Fra", "End value": "Til", "Test type": "Type test", "Boolean value": "Ja/nei-verdi",
    "String value": "Tekstverdi", "Add cell description": "Legg til beskrivelse", "Remove cell description": "Fjern beskrivelsen",
    "View DRD": "Vis beslutningskartet", "First": "Første", "Unique": "Unik", "Any": "Hvilken som helst",
    "Collect": "Samle alle", "Rule order": "Regelrekkefølge", "Output order": "Resultatrekkefølge", "Priority": "Prioritet", "Resize": "Endre størrelse", "Date": "Dato", "Time": "Tid"
  };
  function translate(template, replacements) {
    var text = NB[template] || template;
    return text.replace(/{([^}]+)}/g, function (_, key) {
      return replacements && key in replacements ? replacements[key] : "{" + key + "}";
    });
  }

  var norwegian = { additionalModules: [{ translate: ["value", translate] }] };
  var dmnModeler = new DmnJS({
    container: root,
    drd: norwegian, decisionTable: norwegian, literalExpression: norwegian, boxedExpression: norwegian
  });
  window.orchestratorDmnModeler = dmnModeler;

  var editor = window.OrchestratorEditor.create(root, {
    contentType: "application/xml",
    content: function () { return dmnModeler.saveXML({ format: true }).then(function (r) { return r.xml; }); },
    key: function () {
      var decision = dmnModeler.getDefinitions().drgElement.filter(function (e) { return e.$type === "dmn:Decision"; })[0];
      return decision ? decision.id : root.getAttribute("data-key");
    }
  });

  function watch(viewer) {
    if (viewer && !viewer.__orchestratorWatched) {
      viewer.__orchestratorWatched = true;
      viewer.on("commandStack.changed", editor.changed);
    }
  }

  fetch(root.getAttribute("data-source-url"), { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error("tabellen kunne ikke hentes (" + r.status + ")");
      return r.text();
    })
    .then(function (xml) { return dmnModeler.importXML(xml); })
    .then(function () {
      var table = dmnModeler.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
      return table ? dmnModeler.open(table) : null;
    })
    .then(function () {
      watch(dmnModeler.getActiveViewer());
      dmnModeler.on("views.changed", function () { watch(dmnModeler.getActiveViewer()); });
      editor.ready();
    })
    .catch(function (error) {
      editor.status("Tabelleditoren kunne ikke starte: " + error.message, "error");
      root.setAttribute("data-state", "error");
    });
})();
