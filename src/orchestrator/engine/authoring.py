"""What process owners author, read from the XML they save.

Diagrams are edited in our browser modeler (bpmn-js with camunda-bpmn-moddle) and in
Camunda Modeler, so the authoring attributes are Camunda's: `camunda:formKey`,
`camunda:candidateGroups`, `camunda:dueDate`, `camunda:decisionRef`,
`camunda:collection`/`camunda:elementVariable`, and input parameters on message throws.
Lanes are plain BPMN. The engine runs SpiffWorkflow's own (Spiff) dialect: this module
reads the Camunda attributes into `ElementInfo` and rewrites a copy of the tree into what
SpiffWorkflow's parser understands (see docs/decisions/0002-authoring-dialect.md).
"""
from __future__ import annotations

import copy
import io
import re
import tokenize
from dataclasses import dataclass, field

from lxml import etree

from . import feel

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}

SERVICE_PROPERTY = "tjeneste"  # the extension property naming a task's service (docs/process-owners.md)
STAFF_ROLES = ("tjenesteyter", "koordinerende_enhet", "koordinator", "leder", "kommuneledelse")

FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "manualTask", "task", "scriptTask", "businessRuleTask", "callActivity",
    "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
}
UNSUPPORTED = {
    "serviceTask": "tjenesteoppgaver (serviceTask) kjøres ikke; bruk en brukeroppgave eller en DMN-tabell",
    "sendTask": "sendTask støttes ikke; bruk en meldingshendelse (message throw event)",
    "receiveTask": "receiveTask støttes ikke; bruk en mottakende meldingshendelse",
    "complexGateway": "complexGateway støttes ikke",
    "adHocSubProcess": "ad hoc-delprosesser støttes ikke",
    "transaction": "transaksjonsdelprosesser støttes ikke",
    "signalEventDefinition": "signalhendelser støttes ikke; bruk meldinger",
    "conditionalEventDefinition": "betingede hendelser støttes ikke",
    "compensateEventDefinition": "kompensasjon støttes ikke",
    "linkEventDefinition": "lenkehendelser støttes ikke",
    "dataStoreReference": "datalagre støttes ikke",
}

_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_CYCLE = re.compile(r"^R\d*/[^\s'\"]+$")
_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)


class AuthoringError(Exception):
    """A problem in what the author wrote, tied to an element when possible."""

    def __init__(self, message: str, element_id: str | None = None, line: int | None = None):
        self.message = message
        self.element_id = element_id
        self.line = line
        super().__init__(message)


@dataclass
class ElementInfo:
    id: str
    kind: str
    name: str | None = None
    process_id: str | None = None
    lane: str | None = None
    role: str | None = None
    form_key: str | None = None
    due_date: str | None = None
    assignee: str | None = None  # camunda:assignee expression (e.g. ${koordinator})
    # the service (tjeneste) whose queue the task goes to: the extension property `tjeneste`, a catalogue
    # key (`skole`) or an expression on the task's data (`${tjeneste["tjeneste"]}`); None: the role's queue
    service: str | None = None
    documentation: str | None = None
    attached_to: str | None = None
    cancel_activity: bool = True
    called_element: str | None = None
    decision_ref: str | None = None
    timer_kind: str | None = None
    timer_expression: str | None = None
    message: str | None = None
    message_role: str | None = None  # start | catch | throw
    top_level: bool = False  # directly in the process, not in a subprocess
    line: int | None = None
    # a top-level start's `camunda:candidateStarterGroups` (on the process): further roles that may start it
    starters: tuple[str, ...] = ()


@dataclass
class Definition:
    """One deployable file, read and normalised."""

    kind: str  # bpmn | dmn
    key: str
    name: str | None
    filename: str
    content: bytes
    spiff_tree: etree._Element
    root: etree._Element | None = None
    elements: dict[str, ElementInfo] = field(default_factory=dict)
    called_processes: set[str] = field(default_factory=set)
    decisions_used: set[str] = field(default_factory=set)
    forms_used: set[str] = field(default_factory=set)
    decisions_provided: list[str] = field(default_factory=list)
    expressions: list[tuple[str, str, str]] = field(default_factory=list)  # (element id, what, source)
    unsupported: list[AuthoringError] = field(default_factory=list)

    def message_starts(self) -> list[str]:
        return [e.message for e in self.elements.values() if e.message_role == "start" and e.message]


def role_of_lane(lane_name: str | None) -> str | None:
    """'Koordinerende enhet' -> 'koordinerende_enhet'. Lanes are named for the roles."""
    if not lane_name:
        return None
    slug = lane_name.strip().lower()
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a")):
        slug = slug.replace(a, b)
    slug = re.sub(r"[^a-z0-9]+", "_", slug).strip("_")
    return slug


def normalise_form_key(key: str) -> str:
    """`camunda-forms:deployment:kartlegging.form` (Camunda 7) -> `kartlegging`."""
    key = key.strip()
    for prefix in ("camunda-forms:deployment:", "camunda-forms:app:", "deployment:"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key[:-5] if key.endswith(".form") else key


def timer_literal(text: str) -> str:
    """Quote a plain ISO-8601 timer value (`P6M`, `2027-01-01T09:00:00+01:00`) as a string."""
    stripped = text.strip()
    juel = _JUEL.match(stripped)
    if juel:
        return juel.group(1).strip()
    if _DURATION.match(stripped) or _DATETIME.match(stripped) or _CYCLE.match(stripped):
        return repr(stripped)
    return stripped


def expression_text(text: str | None) -> str | None:
    """Conditions may be written `${...}` as Camunda Modeler suggests; the inside is Python."""
    if text is None:
        return None
    juel = _JUEL.match(text)
    return juel.group(1).strip() if juel else text.strip()


def read(filename: str, root: etree._Element, content: bytes) -> Definition:
    namespace = etree.QName(root).namespace
    if namespace in DMN_NAMESPACES:
        return _read_dmn(filename, root, content)
    if namespace == BPMN_NS and etree.QName(root).localname == "definitions":
        return _read_bpmn(filename, root, content)
    raise AuthoringError("filen er verken BPMN 2.0 eller DMN (ukjent rotelement)")


# --- BPMN -----------------------------------------------------------------------------------


def _q(tag: str, ns: str = BPMN_NS) -> str:
    return f"{{{ns}}}{tag}"


def _read_bpmn(filename: str, root: etree._Element, content: bytes) -> Definition:
    processes = root.findall(_q("process"))
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"] or processes
    if len(executable) != 1:
        raise AuthoringError(
            f"filen må inneholde nøyaktig én kjørbar prosess (fant {len(executable)})",
            line=root.sourceline,
        )
    process = executable[0]
    key = process.get("id")
    if not key:
        raise AuthoringError("prosessen mangler id", line=process.sourceline)
    spiff_tree = copy.deepcopy(root)
    definition = Definition(
        kind="bpmn", key=key, name=process.get("name"), filename=filename, content=content,
        spiff_tree=spiff_tree, root=root,
    )
    messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(_q("message"))}
    _collect_elements(definition, process, key, messages)
    _collect_unsupported(definition, process)
    _normalise(definition, spiff_tree.find(f"{_q('process')}[@id='{key}']"))
    return definition


def _lanes(process: etree._Element) -> dict[str, str]:
    """flow node id -> innermost lane name."""
    found: dict[str, str] = {}
    for lane in process.iter(_q("lane")):
        for ref in lane.findall(_q("flowNodeRef")):
            if ref.text:
                found[ref.text.strip()] = lane.get("name") or lane.get("id")
    return found


def _lane_of(node: etree._Element, lanes: dict[str, str]) -> str | None:
    """Its own lane, or that of the subprocess it is drawn in: a process's lanes list only the
    elements at its own level, while what a subprocess holds lies in the subprocess's lane."""
    while node is not None:
        lane = lanes.get(node.get("id"))
        if lane is not None:
            return lane
        node = node.getparent()
        if node is None or etree.QName(node).localname == "process":
            return None
    return None


def _collect_elements(definition: Definition, process, process_id: str, messages: dict) -> None:
    lanes = _lanes(process)
    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node).localname
        if etree.QName(node).namespace != BPMN_NS or tag not in FLOW_NODES:
            if etree.QName(node).namespace == BPMN_NS and tag == "sequenceFlow":
                condition = node.find(_q("conditionExpression"))
                if condition is not None and (condition.text or "").strip():
                    definition.expressions.append(
                        (node.get("id"), "betingelse", expression_text(condition.text))
                    )
            continue
        element_id = node.get("id")
        info = ElementInfo(
            id=element_id, kind=tag, name=node.get("name"), process_id=process_id,
            lane=_lane_of(node, lanes), line=node.sourceline,
            top_level=etree.QName(node.getparent()).localname == "process",
        )
        info.role = node.get(_q("candidateGroups", CAMUNDA_NS), "").split(",")[0].strip() or role_of_lane(info.lane)
        if tag == "startEvent" and info.top_level:
            groups = process.get(_q("candidateStarterGroups", CAMUNDA_NS), "")
            info.starters = tuple(g.strip() for g in groups.split(",") if g.strip())
        # Camunda 7: camunda:formKey, or a linked Camunda Form (camunda:formRef = the form's id)
        raw_form = node.get(_q("formKey", CAMUNDA_NS)) or node.get(_q("formRef", CAMUNDA_NS))
        info.form_key = normalise_form_key(raw_form) if raw_form and raw_form.strip() else None
        info.due_date = node.get(_q("dueDate", CAMUNDA_NS)) or None
        info.assignee = node.get(_q("assignee", CAMUNDA_NS)) or None
        info.service = _property(node, SERVICE_PROPERTY)
        doc = node.find(_q("documentation"))
        info.documentation = doc.text.strip() if doc is not None and doc.text else None
        info.attached_to = node.get("attachedToRef")
        info.cancel_activity = node.get("cancelActivity", "true") != "false"
        info.called_element = node.get("calledElement")
        info.decision_ref = node.get(_q("decisionRef", CAMUNDA_NS))
        _read_timer(definition, node, info)
        _read_message(node, info, tag, messages)
        _read_expressions(definition, node, info)
        if info.form_key:
            definition.forms_used.add(info.form_key)
        if info.called_element:
            definition.called_processes.add(info.called_element)
        if info.decision_ref:
            definition.decisions_used.add(info.decision_ref)
        definition.elements[element_id] = info


def _read_timer(definition: Definition, node, info: ElementInfo) -> None:
    timer = node.find(_q("timerEventDefinition"))
    if timer is None:
        return
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        value = timer.find(_q(kind))
        if value is not None and (value.text or "").strip():
            info.timer_kind = kind
            info.timer_expression = value.text.strip()
            definition.expressions.append((info.id, "tidsuttrykk", timer_literal(value.text)))
            return
    definition.unsupported.append(
        AuthoringError("tidshendelsen mangler timeDate, timeDuration eller timeCycle", info.id, node.sourceline)
    )


def _read_message(node, info: ElementInfo, tag: str, messages: dict) -> None:
    definition = node.find(_q("messageEventDefinition"))
    if definition is None:
        return
    info.message = messages.get(definition.get("messageRef")) or definition.get("messageRef")
    if tag == "startEvent" and info.top_level:
        info.message_role = "start"
    elif tag in ("endEvent", "intermediateThrowEvent"):
        info.message_role = "throw"
    else:
        info.message_role = "catch"


def _read_expressions(definition: Definition, node, info: ElementInfo) -> None:
    if info.kind == "scriptTask":
        script = node.find(_q("script"))
        if script is not None and script.text:
            definition.expressions.append((info.id, "skript", script.text))
    loop = node.find(_q("multiInstanceLoopCharacteristics"))
    if loop is not None:
        for part, what in (("loopCardinality", "antall"), ("completionCondition", "fullføringsbetingelse")):
            child = loop.find(_q(part))
            if child is not None and (child.text or "").strip():
                definition.expressions.append((info.id, what, expression_text(child.text)))
    if info.due_date:
        definition.expressions.append((info.id, "frist", timer_literal(info.due_date)))
    if info.assignee:
        definition.expressions.append((info.id, "tildeling", expression_text(info.assignee)))
    if info.service and is_expression(info.service):
        definition.expressions.append((info.id, "tjeneste", expression_text(info.service)))
    for param in _message_inputs(node):
        definition.expressions.append((info.id, f"meldingsfelt {param[0]}", param[1]))


def _collect_unsupported(definition: Definition, process) -> None:
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        tag = etree.QName(node).localname
        if tag in UNSUPPORTED:
            owner = node if node.get("id") else node.getparent()
            definition.unsupported.append(AuthoringError(UNSUPPORTED[tag], owner.get("id"), node.sourceline))


def _property(node, name: str) -> str | None:
    """A `camunda:properties` extension property's value (the properties panel's «Extension properties»)."""
    for prop in node.findall(f"{_q('extensionElements')}/{_q('properties', CAMUNDA_NS)}/{_q('property', CAMUNDA_NS)}"):
        if prop.get("name") == name:
            return (prop.get("value") or "").strip() or None
    return None


def is_expression(text: str) -> bool:
    """`${...}`: evaluated on the task's data; anything else is a literal value."""
    return bool(_JUEL.match(text))


def _message_inputs(node) -> list[tuple[str, str]]:
    """camunda:inputParameter name/value pairs on a message throw: the message's payload."""
    pairs = []
    for param in node.findall(f"{_q('extensionElements')}/{_q('inputOutput', CAMUNDA_NS)}/{_q('inputParameter', CAMUNDA_NS)}"):
        name = param.get("name")
        value = expression_text(param.text) if param.text and param.text.strip() else name
        if name:
            pairs.append((name, value))
    return pairs


def _normalise(definition: Definition, process) -> None:
    """Rewrite the Spiff copy: quoted timer literals, decision refs, MI collections, payloads."""
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        tag = etree.QName(node).localname
        if tag in ("timeDate", "timeDuration", "timeCycle") and node.text:
            node.text = timer_literal(node.text)
        elif tag == "conditionExpression" and node.text:
            node.text = expression_text(node.text)
        elif tag == "businessRuleTask" and node.get(_q("decisionRef", CAMUNDA_NS)):
            _extension(node, "calledDecisionId").text = node.get(_q("decisionRef", CAMUNDA_NS))
        elif tag == "multiInstanceLoopCharacteristics":
            _normalise_multi_instance(node)
        elif tag in ("endEvent", "intermediateThrowEvent"):
            message = node.find(_q("messageEventDefinition"))
            if message is not None:
                pairs = _message_inputs(node)
                payload = "{" + ", ".join(f"{name!r}: ({value})" for name, value in pairs) + "}"
                _extension(message, "messagePayload").text = payload


def _extension(node, name: str) -> etree._Element:
    ext = node.find(_q("extensionElements"))
    if ext is None:
        ext = etree.Element(_q("extensionElements"))
        node.insert(_insert_index_for_extensions(node), ext)
    element = etree.SubElement(ext, _q(name, SPIFF_NS))
    return element


def _insert_index_for_extensions(node) -> int:
    # extensionElements follows documentation in the BPMN schema.
    index = 0
    for i, child in enumerate(node):
        if isinstance(child.tag, str) and etree.QName(child).localname == "documentation":
            index = i + 1
    return index


def _normalise_multi_instance(loop) -> None:
    collection = loop.get(_q("collection", CAMUNDA_NS))
    element = loop.get(_q("elementVariable", CAMUNDA_NS))
    if not collection or loop.find(_q("loopDataInputRef")) is not None:
        return
    for attr in ("collection", "elementVariable"):
        loop.attrib.pop(_q(attr, CAMUNDA_NS), None)
    cardinality = loop.find(_q("loopCardinality"))
    if cardinality is not None:
        loop.remove(cardinality)
    parts = [(_q("loopDataInputRef"), collection, None), (_q("loopDataOutputRef"), collection, None)]
    if element:
        parts += [(_q("inputDataItem"), None, element), (_q("outputDataItem"), None, element)]
    for position, (tag, text, item) in enumerate(parts):
        child = etree.Element(tag)
        if text:
            child.text = text
        if item:
            child.set("id", item)
            child.set("name", item)
        loop.insert(position, child)


# --- DMN ------------------------------------------------------------------------------------


def _read_dmn(filename: str, root: etree._Element, content: bytes) -> Definition:
    namespace = etree.QName(root).namespace
    decisions = root.findall(f"{{{namespace}}}decision")
    if not decisions:
        raise AuthoringError("DMN-filen inneholder ingen beslutning (decision)", line=root.sourceline)
    for decision in decisions:
        if decision.find(f"{{{namespace}}}decisionTable") is None:
            raise AuthoringError(
                "bare beslutningstabeller (decisionTable) støttes", decision.get("id"), decision.sourceline
            )
    spiff_tree = copy.deepcopy(root)
    definition = Definition(
        kind="dmn", key=decisions[0].get("id"), name=decisions[0].get("name"), filename=filename,
        content=content, spiff_tree=spiff_tree, root=root,
        decisions_provided=[d.get("id") for d in decisions],
    )
    for table in spiff_tree.iter(f"{{{namespace}}}decisionTable"):
        _translate_table(definition, table, namespace)
    return definition


def _translate_table(definition: Definition, table, namespace: str) -> None:
    """The table's FEEL as Python, cell by cell, in the copy SpiffWorkflow runs.

    A cell that is not FEEL this orchestrator reads is a problem (deploy refuses it, naming the
    cell) and keeps its pre-FEEL reading (Python with FEEL literals), so versions deployed before
    tables were FEEL still run for the instances pinned to them (docs/decisions/0014).
    """
    def q(tag):
        return f"{{{namespace}}}{tag}"

    inputs = table.findall(q("input"))
    outputs = table.findall(q("output"))
    labels = [i.get("label") or i.get("id") for i in inputs]
    out_labels = [o.get("label") or o.get("name") or o.get("id") for o in outputs]
    for index, column in enumerate(inputs):
        text = column.find(f"{q('inputExpression')}/{q('text')}")
        if text is not None and text.text and text.text.strip():
            where = f"inndata «{labels[index]}»"
            _translate(definition, text, feel.expression, column.get("id"), where)
    for number, rule in enumerate(table.findall(q("rule")), start=1):
        for index, entry in enumerate(rule.findall(q("inputEntry"))):
            text = entry.find(q("text"))
            label = labels[index] if index < len(labels) else str(index + 1)
            if text is not None:
                _translate(definition, text, feel.unary_tests, entry.get("id") or rule.get("id"),
                           f"regel {number}, «{label}»")
        for index, entry in enumerate(rule.findall(q("outputEntry"))):
            text = entry.find(q("text"))
            label = out_labels[index] if index < len(out_labels) else str(index + 1)
            if text is not None and text.text and text.text.strip():
                _translate(definition, text, feel.expression, entry.get("id") or rule.get("id"),
                           f"regel {number}, resultat «{label}»")


def _translate(definition: Definition, text, translate, element_id: str | None, where: str) -> None:
    try:
        python = translate(text.text or "")
    except feel.FeelError as error:
        definition.unsupported.append(AuthoringError(f"{where}: {error}", element_id, text.sourceline))
        text.text = feel_literals(text.text)
        return
    text.text = "-" if python is None else python
    if python is not None:
        definition.expressions.append((element_id or where, f"DMN {where}", python))


def feel_literals(text: str) -> str:
    """How tables were read before they were FEEL: Python with FEEL's `true`/`false`/`null`."""
    replacements = {"true": "True", "false": "False", "null": "None"}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    if not any(t.type == tokenize.NAME and t.string in replacements for t in tokens):
        return text
    out = [
        (t.type, replacements.get(t.string, t.string)) if t.type == tokenize.NAME else (t.type, t.string)
        for t in tokens
    ]
    return tokenize.untokenize(out).strip()
