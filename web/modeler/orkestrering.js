// «Orkestrering»: one properties group with what the orchestrator reads from a diagram (see
// src/orchestrator/engine/authoring.py), in Norwegian, written as the same Camunda attributes the
// deploy reads, so files saved here and in Camunda Modeler stay interchangeable:
//   role       camunda:candidateGroups (empty: the lane's role)
//   form       camunda:formKey, picked among deployed forms, with «Åpne skjema»
//   due date   camunda:dueDate
//   timer      the timer event definition's timeDate / timeDuration / timeCycle
//   condition  the sequence flow's conditionExpression
//   message    the name of the bpmn:Message the event refers to
//   decision   camunda:decisionRef on a business rule task, with «Åpne tabell»
import { h } from "@bpmn-io/properties-panel/preact";
import {
  Group, SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

export const ROLES = [
  ["tjenesteyter", "Tjenesteyter"],
  ["koordinerende_enhet", "Koordinerende enhet"],
  ["koordinator", "Koordinator"],
  ["leder", "Leder"],
  ["kommuneledelse", "Kommuneledelse"],
];
const HUMAN_TASKS = ["bpmn:UserTask", "bpmn:ManualTask"];
const TIMER_KINDS = [["timeDate", "Tidspunkt (dato og klokkeslett)"], ["timeDuration", "Varighet (f.eks. P14D)"],
  ["timeCycle", "Gjentakelse (f.eks. R3/PT1H)"]];

function fold(name) {
  return (name || "").trim().toLowerCase().replace(/æ/g, "ae").replace(/ø/g, "o").replace(/å/g, "a")
    .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

function laneName(element, elementRegistry) {
  const lanes = elementRegistry.filter((e) => is(e, "bpmn:Lane"));
  const bo = getBusinessObject(element);
  let target = bo;
  while (target) {
    const lane = lanes.find((l) => (getBusinessObject(l).flowNodeRef || []).indexOf(target) !== -1);
    if (lane) return getBusinessObject(lane).name || lane.id;
    target = target.$parent && is(target.$parent, "bpmn:SubProcess") ? target.$parent : null;
  }
  return null;
}

function roleLabel(role) {
  const found = ROLES.find((r) => r[0] === role);
  return found ? found[1] : role;
}

function eventDefinition(element, type) {
  const bo = getBusinessObject(element);
  return (bo.eventDefinitions || []).find((d) => is(d, type));
}

// --- entries -------------------------------------------------------------------------------
function RoleEntry({ element }) {
  const modeling = useService("modeling");
  const elementRegistry = useService("elementRegistry");
  const lane = laneName(element, elementRegistry);
  const fromLane = lane ? fold(lane) : null;
  return h(SelectEntry, {
    element, id: "orkestrering-rolle", label: "Rolle (hvem gjør oppgaven)",
    description: lane ? `Lanen «${lane}» gir rollen ${roleLabel(fromLane)}; velg en annen bare for denne oppgaven.`
      : "Legg oppgaven i en lane med rollens navn, eller velg rollen her.",
    getValue: () => getBusinessObject(element).get("camunda:candidateGroups") || "",
    setValue: (value) => modeling.updateProperties(element, { "camunda:candidateGroups": value || undefined }),
    getOptions: () => [{ value: "", label: lane ? `Fra lanen (${roleLabel(fromLane)})` : "<ingen>" }]
      .concat(ROLES.map(([value, label]) => ({ value, label }))),
  });
}

function FormEntry({ element }) {
  const modeling = useService("modeling");
  const config = useService("config.orkestrering");
  const current = getBusinessObject(element).get("camunda:formKey") || "";
  const known = (config.forms || []).slice();
  if (current && known.indexOf(current) === -1) known.push(current);
  const link = current && config.formEditorUrl
    ? h("a", { href: config.formEditorUrl.replace("__KEY__", encodeURIComponent(current)), class: "orkestrering-link",
      id: "orkestrering-apne-skjema" }, "Åpne skjema")
    : null;
  return h(SelectEntry, {
    element, id: "orkestrering-skjema", label: "Skjema",
    description: link || "Skjemaet de ansatte fyller ut i oppgaven.",
    getValue: () => current,
    setValue: (value) => modeling.updateProperties(element, { "camunda:formKey": value || undefined }),
    getOptions: () => [{ value: "", label: "<uten skjema>" }].concat(known.sort().map((k) => ({ value: k, label: k }))),
  });
}

function DueDateEntry({ element }) {
  const modeling = useService("modeling");
  const debounce = useService("debounceInput");
  return h(TextFieldEntry, {
    element, id: "orkestrering-frist", label: "Frist", debounce,
    description: "P14D (14 dager), 2027-03-01T09:00:00+01:00, eller et uttrykk som add_days(now(), 7).",
    getValue: () => getBusinessObject(element).get("camunda:dueDate") || "",
    setValue: (value) => modeling.updateProperties(element, { "camunda:dueDate": value || undefined }),
  });
}

function timerParts(element) {
  const definition = eventDefinition(element, "bpmn:TimerEventDefinition");
  const kind = TIMER_KINDS.map((k) => k[0]).find((k) => definition && definition.get(k)) || null;
  return { definition, kind, expression: kind ? definition.get(kind) : null };
}

function TimerKindEntry({ element }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const { definition, kind, expression } = timerParts(element);
  return h(SelectEntry, {
    element, id: "orkestrering-tidtaker-type", label: "Tidtaker",
    getValue: () => kind || "",
    setValue: (value) => {
      const body = expression ? expression.get("body") : "";
      const update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      if (value) update[value] = bpmnFactory.create("bpmn:FormalExpression", { body });
      modeling.updateModdleProperties(element, definition, update);
    },
    getOptions: () => [{ value: "", label: "<velg>" }].concat(TIMER_KINDS.map(([value, label]) => ({ value, label }))),
  });
}

function TimerValueEntry({ element }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  const { definition, kind, expression } = timerParts(element);
  return h(TextFieldEntry, {
    element, id: "orkestrering-tidtaker-verdi", label: "Når", debounce,
    description: "ISO 8601 som i alle modellerere: P14D, PT1H, 2027-01-01T09:00:00+01:00, R3/PT1H.",
    getValue: () => (expression && expression.get("body")) || "",
    setValue: (value) => {
      const target = kind || "timeDuration";
      if (expression) modeling.updateModdleProperties(element, expression, { body: value });
      else modeling.updateModdleProperties(element, definition, {
        [target]: bpmnFactory.create("bpmn:FormalExpression", { body: value }) });
    },
  });
}

function ConditionEntry({ element }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  const bo = getBusinessObject(element);
  return h(TextFieldEntry, {
    element, id: "orkestrering-betingelse", label: "Betingelse", debounce,
    description: 'Når flyten tas, f.eks. behov == "ja" (feltene i skjemaet er navn).',
    getValue: () => (bo.conditionExpression && bo.conditionExpression.get("body")) || "",
    setValue: (value) => modeling.updateProperties(element, {
      conditionExpression: value ? bpmnFactory.create("bpmn:FormalExpression", { body: value }) : undefined }),
  });
}

function MessageEntry({ element }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const canvas = useService("canvas");
  const debounce = useService("debounceInput");
  const definition = eventDefinition(element, "bpmn:MessageEventDefinition");
  const message = definition && definition.get("messageRef");
  return h(TextFieldEntry, {
    element, id: "orkestrering-melding", label: "Meldingsnavn", debounce,
    description: "Avsender og mottaker bruker samme navn; meldingen følger saksnummeret.",
    getValue: () => (message && message.get("name")) || "",
    setValue: (value) => {
      if (message) return modeling.updateModdleProperties(element, message, { name: value });
      const definitions = getBusinessObject(canvas.getRootElement()).$parent;
      const created = bpmnFactory.create("bpmn:Message", { name: value });
      created.$parent = definitions;
      modeling.updateModdleProperties(element, definitions, { rootElements: definitions.get("rootElements").concat([created]) });
      modeling.updateModdleProperties(element, definition, { messageRef: created });
    },
  });
}

function DecisionEntry({ element }) {
  const modeling = useService("modeling");
  const config = useService("config.orkestrering");
  const current = getBusinessObject(element).get("camunda:decisionRef") || "";
  const known = (config.decisions || []).slice();
  if (current && known.indexOf(current) === -1) known.push(current);
  const owner = (config.decisionFiles || {})[current];
  const link = owner && config.dmnEditorUrl
    ? h("a", { href: config.dmnEditorUrl.replace("__KEY__", encodeURIComponent(owner)), class: "orkestrering-link",
      id: "orkestrering-apne-tabell" }, "Åpne tabell")
    : null;
  return h(SelectEntry, {
    element, id: "orkestrering-beslutning", label: "Beslutningstabell (DMN)",
    description: link || "Tabellen som avgjør; resultatet blir felter i saken.",
    getValue: () => current,
    setValue: (value) => modeling.updateProperties(element, {
      "camunda:decisionRef": value || undefined }),
    getOptions: () => [{ value: "", label: "<velg>" }].concat(known.sort().map((k) => ({ value: k, label: k }))),
  });
}

// --- the group -----------------------------------------------------------------------------
function entriesFor(element) {
  const entries = [];
  const add = (id, component, isEdited) => entries.push({ id, component, isEdited });
  if (HUMAN_TASKS.some((t) => is(element, t))) {
    add("orkestrering-rolle", RoleEntry, isSelectEntryEdited);
    add("orkestrering-skjema", FormEntry, isSelectEntryEdited);
    add("orkestrering-frist", DueDateEntry, isTextFieldEntryEdited);
  }
  if (is(element, "bpmn:StartEvent") && !(getBusinessObject(element).eventDefinitions || []).length) {
    add("orkestrering-skjema", FormEntry, isSelectEntryEdited);
  }
  if (eventDefinition(element, "bpmn:TimerEventDefinition")) {
    add("orkestrering-tidtaker-type", TimerKindEntry, isSelectEntryEdited);
    add("orkestrering-tidtaker-verdi", TimerValueEntry, isTextFieldEntryEdited);
  }
  if (is(element, "bpmn:SequenceFlow")) {
    const source = element.source;
    if (source && (is(source, "bpmn:ExclusiveGateway") || is(source, "bpmn:InclusiveGateway"))) {
      add("orkestrering-betingelse", ConditionEntry, isTextFieldEntryEdited);
    }
  }
  if (eventDefinition(element, "bpmn:MessageEventDefinition")) {
    add("orkestrering-melding", MessageEntry, isTextFieldEntryEdited);
  }
  if (is(element, "bpmn:BusinessRuleTask")) {
    add("orkestrering-beslutning", DecisionEntry, isSelectEntryEdited);
  }
  return entries;
}

function OrkestreringProvider(propertiesPanel) {
  propertiesPanel.registerProvider(400, this);
}
OrkestreringProvider.$inject = ["propertiesPanel"];

OrkestreringProvider.prototype.getGroups = function (element) {
  return function (groups) {
    const entries = entriesFor(element);
    if (entries.length) {
      groups.splice(Math.min(1, groups.length), 0, {
        id: "orkestrering", label: "Orkestrering", component: Group, entries,
      });
    }
    return groups;
  };
};

export default {
  __init__: ["orkestreringProvider"],
  orkestreringProvider: ["type", OrkestreringProvider],
};
