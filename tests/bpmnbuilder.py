"""Write small BPMN 2.0 test diagrams with diagram layout (DI) from a few lines of Python.

Only the tests use it, for diagrams that exercise the engine. The routines in `processes/` are
not built with it: those .bpmn files are the source and are edited in the modeler.

The layout is a simple layered one: columns by longest path from the start, rows by lane,
stacked when two elements share a lane and column; loops are routed below the lane.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SIZES = {"task": (120, 80), "event": (36, 36), "gateway": (50, 50)}
COL_W, ROW_H, LANE_HEADER, LANE_PAD = 170, 120, 30, 20
TASK_KINDS = {"userTask", "manualTask", "task", "scriptTask", "businessRuleTask", "callActivity", "subProcess"}
EVENT_KINDS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}


@dataclass
class Node:
    id: str
    kind: str
    name: str | None = None
    lane: str | None = None
    attrs: dict = field(default_factory=dict)
    children: list[str] = field(default_factory=list)  # raw XML inside the element
    documentation: str | None = None
    attached_to: str | None = None
    sub: "Process | None" = None  # expanded subprocess content
    # layout
    col: int = 0
    row: int = 0
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def shape(self) -> str:
        if self.kind in TASK_KINDS:
            return "task"
        if self.kind in EVENT_KINDS:
            return "event"
        return "gateway"


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None = None
    condition: str | None = None
    default: bool = False
    waypoints: list[tuple[float, float]] = field(default_factory=list)


class Process:
    def __init__(self, id: str, name: str, documentation: str | None = None, lanes: list[str] | None = None):
        self.id, self.name, self.documentation = id, name, documentation
        self.lanes = list(lanes or [])
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.messages: dict[str, str] = {}  # message name -> id
        self._counter = 0
        self.width = self.height = 0.0

    # --- elements -------------------------------------------------------------------------
    def _add(self, id, kind, name=None, lane=None, doc=None, **attrs) -> str:
        if id in self.nodes:
            raise ValueError(f"duplicate id {id}")
        self.nodes[id] = Node(id=id, kind=kind, name=name, lane=lane, documentation=doc,
                              attrs={k: v for k, v in attrs.items() if v is not None})
        return id

    def start(self, id, name=None, lane=None, doc=None, message=None, timer=None, form=None, interrupting=True):
        node = self._add(id, "startEvent", name, lane, doc, **{
            "camunda:formKey": form, "isInterrupting": None if interrupting else "false"})
        self._event_definition(node, message=message, timer=timer)
        return node

    def end(self, id, name=None, lane=None, doc=None, message=None, terminate=False, payload=None):
        node = self._add(id, "endEvent", name, lane, doc)
        self._event_definition(node, message=message, terminate=terminate, payload=payload)
        return node

    def user(self, id, name, lane=None, form=None, doc=None, due=None, groups=None, assignee=None, service=None):
        node = self._add(id, "userTask", name, lane, doc, **{
            "camunda:formKey": form, "camunda:dueDate": due, "camunda:candidateGroups": groups,
            "camunda:assignee": assignee})
        if service:  # the service whose queue the task goes to: a catalogue key or ${expression}
            self.nodes[node].children.append(
                f'<bpmn:extensionElements><camunda:properties><camunda:property name="tjeneste" '
                f'value={quoteattr(service)} /></camunda:properties></bpmn:extensionElements>')
        return node

    def manual(self, id, name, lane=None, doc=None):
        return self._add(id, "manualTask", name, lane, doc)

    def script(self, id, name, code, lane=None, doc=None):
        node = self._add(id, "scriptTask", name, lane, doc, scriptFormat="python")
        self.nodes[node].children.append(f"<bpmn:script>{escape(code)}</bpmn:script>")
        return node

    def rule(self, id, name, decision, lane=None, doc=None):
        return self._add(id, "businessRuleTask", name, lane, doc, **{"camunda:decisionRef": decision})

    def call(self, id, name, called, lane=None, doc=None):
        return self._add(id, "callActivity", name, lane, doc, calledElement=called)

    def xor(self, id, name=None, lane=None, doc=None):
        return self._add(id, "exclusiveGateway", name, lane, doc)

    def and_(self, id, name=None, lane=None, doc=None):
        return self._add(id, "parallelGateway", name, lane, doc)

    def or_(self, id, name=None, lane=None, doc=None):
        return self._add(id, "inclusiveGateway", name, lane, doc)

    def event_gateway(self, id, name=None, lane=None, doc=None):
        return self._add(id, "eventBasedGateway", name, lane, doc)

    def catch(self, id, name, lane=None, doc=None, message=None, timer=None):
        node = self._add(id, "intermediateCatchEvent", name, lane, doc)
        self._event_definition(node, message=message, timer=timer)
        return node

    def throw(self, id, name, lane=None, doc=None, message=None, payload=None):
        node = self._add(id, "intermediateThrowEvent", name, lane, doc)
        self._event_definition(node, message=message, payload=payload)
        return node

    def boundary(self, id, name, attached_to, timer=None, message=None, interrupting=True, doc=None):
        host = self.nodes[attached_to]
        node = self._add(id, "boundaryEvent", name, host.lane, doc, attachedToRef=attached_to,
                         cancelActivity=None if interrupting else "false")
        self.nodes[node].attached_to = attached_to
        self._event_definition(node, message=message, timer=timer)
        return node

    def subprocess(self, id, name, content: "Process", lane=None, doc=None, triggered_by_event=False):
        node = self._add(id, "subProcess", name, lane, doc,
                         triggeredByEvent="true" if triggered_by_event else None)
        self.nodes[node].sub = content
        return node

    def multi(self, id, collection, element, sequential=False):
        seq = ' isSequential="true"' if sequential else ""
        self.nodes[id].children.append(
            f'<bpmn:multiInstanceLoopCharacteristics{seq} camunda:collection="{collection}" '
            f'camunda:elementVariable="{element}" />')
        return id

    def flow(self, source, target, name=None, condition=None, default=False, id=None):
        self._counter += 1
        flow = Flow(id or f"Flow_{source}_{target}", source, target, name, condition, default)
        if any(f.id == flow.id for f in self.flows):
            flow.id = f"{flow.id}_{self._counter}"
        self.flows.append(flow)
        return flow.id

    def chain(self, *ids):
        for a, b in zip(ids, ids[1:]):
            self.flow(a, b)

    def _event_definition(self, node_id, message=None, timer=None, terminate=False, payload=None):
        node = self.nodes[node_id]
        if message:
            msg_id = self.messages.setdefault(message, f"Message_{message}")
            if payload:
                params = "".join(
                    f'<camunda:inputParameter name="{k}">{escape(v)}</camunda:inputParameter>'
                    for k, v in payload.items())
                node.children.append(
                    f"<bpmn:extensionElements><camunda:inputOutput>{params}</camunda:inputOutput></bpmn:extensionElements>")
            node.children.append(f'<bpmn:messageEventDefinition id="{node_id}_med" messageRef="{msg_id}" />')
        if timer:
            kind, value = timer
            node.children.append(
                f'<bpmn:timerEventDefinition id="{node_id}_ted"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">'
                f"{escape(value)}</bpmn:{kind}></bpmn:timerEventDefinition>")
        if terminate:
            node.children.append(f'<bpmn:terminateEventDefinition id="{node_id}_ted" />')

    # --- layout ---------------------------------------------------------------------------
    def layout(self, origin=(0.0, 0.0)):
        nodes = self.nodes
        for n in nodes.values():
            n.w, n.h = SIZES[n.shape]
            if n.sub is not None:
                n.sub.layout()
                n.w, n.h = max(n.sub.width + 40, 200), n.sub.height + 50
        outgoing: dict[str, list[Flow]] = {}
        for f in self.flows:
            outgoing.setdefault(f.source, []).append(f)
        back = self._back_edges(outgoing)
        # columns: longest path over forward edges; boundary events sit on their host
        indeg = {i: 0 for i in nodes}
        for f in self.flows:
            if f.id not in back:
                indeg[f.target] += 1
        order, queue = [], [i for i, d in indeg.items() if d == 0 and not nodes[i].attached_to]
        queue += [i for i, n in nodes.items() if n.attached_to]
        seen = set()
        while queue:
            i = queue.pop(0)
            if i in seen:
                continue
            seen.add(i)
            order.append(i)
            for f in outgoing.get(i, []):
                if f.id in back:
                    continue
                indeg[f.target] -= 1
                if indeg[f.target] <= 0:
                    queue.append(f.target)
        for i in nodes:
            if i not in seen:
                order.append(i)
        # rows go to the main path first; what hangs off boundary events comes after
        side = self._boundary_descendants(outgoing, back)
        order = [i for i in order if i not in side] + [i for i in order if i in side]
        col = {i: 0 for i in nodes}
        for _ in range(2):
            for i in order:
                n = nodes[i]
                if n.attached_to:
                    col[i] = col[n.attached_to]
                for f in outgoing.get(i, []):
                    if f.id not in back:
                        col[f.target] = max(col[f.target], col[i] + 1)
        lanes = self.lanes or [None]
        # rows inside a lane: first come, first served per column
        used: dict[tuple, set] = {}
        rows_per_lane = {lane: 1 for lane in lanes}
        for i in order:
            n = nodes[i]
            n.col = col[i]
            if n.attached_to:
                continue
            lane = n.lane if n.lane in lanes else lanes[0]
            n.lane = lane
            taken = used.setdefault((lane, n.col), set())
            row = 0
            while row in taken:
                row += 1
            taken.add(row)
            n.row = row
            rows_per_lane[lane] = max(rows_per_lane[lane], row + 1)
        row_heights: dict[tuple, float] = {}
        for n in nodes.values():
            if not n.attached_to:
                key = (n.lane, n.row)
                row_heights[key] = max(row_heights.get(key, ROW_H), n.h + 45)
        ncols = max(col.values()) + 1 if nodes else 1
        x0 = origin[0] + (LANE_HEADER if self.lanes else 0)
        widths = [COL_W] * ncols
        for n in nodes.values():
            if n.sub is not None:
                widths[n.col] = max(widths[n.col], n.w + 50)
        col_x = [x0 + 30 + sum(widths[:c]) for c in range(ncols)]
        self.lane_bounds = {}
        y = origin[1]
        row_top: dict[tuple, float] = {}
        for lane in lanes:
            top = y + LANE_PAD / 2
            for r in range(rows_per_lane[lane]):
                row_top[(lane, r)] = top
                top += row_heights.get((lane, r), ROW_H)
            height = top - y + LANE_PAD / 2
            self.lane_bounds[lane] = (y, height)
            y += height
        self.width = col_x[-1] + widths[-1] - origin[0]
        self.height = y - origin[1]
        for n in nodes.values():
            if n.attached_to:
                continue
            cy = row_top[(n.lane, n.row)] + row_heights.get((n.lane, n.row), ROW_H) / 2
            cx = col_x[n.col] + widths[n.col] / 2 - 25
            n.x, n.y = cx - n.w / 2, cy - n.h / 2
            if n.sub is not None:
                n.sub.layout(origin=(n.x + 20, n.y + 30))
        hosts: dict[str, int] = {}
        for n in nodes.values():
            if n.attached_to:
                host = nodes[n.attached_to]
                k = hosts.get(host.id, 0)
                hosts[host.id] = k + 1
                n.x = host.x + host.w - 30 - k * 45 - n.w / 2
                n.y = host.y + host.h - n.h / 2
        for f in self.flows:
            f.waypoints = self._route(nodes[f.source], nodes[f.target], f.id in back)

    def _boundary_descendants(self, outgoing, back) -> set[str]:
        found, stack = set(), [i for i, n in self.nodes.items() if n.attached_to]
        main = set()
        starts = [i for i, n in self.nodes.items() if n.kind == "startEvent"]
        walk = list(starts)
        while walk:
            i = walk.pop()
            if i in main:
                continue
            main.add(i)
            walk += [f.target for f in outgoing.get(i, []) if f.id not in back]
        while stack:
            i = stack.pop()
            if i in found or i in main:
                continue
            found.add(i)
            stack += [f.target for f in outgoing.get(i, []) if f.id not in back]
        return found

    def _back_edges(self, outgoing) -> set[str]:
        back, state = set(), {}

        def visit(i):
            state[i] = 1
            for f in outgoing.get(i, []):
                s = state.get(f.target)
                if s == 1:
                    back.add(f.id)
                elif s is None:
                    visit(f.target)
            state[i] = 2

        starts = [i for i, n in self.nodes.items() if n.kind == "startEvent"]
        for i in starts + list(self.nodes):
            if i not in state:
                visit(i)
        return back

    def _route(self, s: Node, t: Node, is_back: bool):
        scx, scy = s.x + s.w / 2, s.y + s.h / 2
        tcx, tcy = t.x + t.w / 2, t.y + t.h / 2
        if s.attached_to:
            start = (scx, s.y + s.h)
            if abs(tcy - start[1]) < 1:
                return [start, (t.x, tcy)]
            return [start, (scx, tcy), (t.x, tcy)]
        if is_back:
            lane_y, lane_h = self.lane_bounds[s.lane]
            below = max(s.y + s.h, t.y + t.h) + 25
            below = min(below, lane_y + lane_h - 5) if t.lane == s.lane else below
            return [(scx, s.y + s.h), (scx, below), (tcx, below), (tcx, t.y + t.h)]
        if abs(scy - tcy) < 1:
            between = [n for n in self.nodes.values() if not n.attached_to and n is not s and n is not t
                       and abs((n.y + n.h / 2) - scy) < 1 and s.x < n.x < t.x]
            if between:
                above = min(n.y for n in between) - 22
                return [(scx, s.y), (scx, above), (tcx, above), (tcx, t.y)]
            return [(s.x + s.w, scy), (t.x, tcy)]
        if s.shape == "gateway":
            # leave a gateway from its top or bottom corner towards the target's row
            exit_y = s.y if tcy < scy else s.y + s.h
            return [(scx, exit_y), (scx, tcy), (t.x, tcy)]
        mid = t.x - 25
        return [(s.x + s.w, scy), (mid, scy), (mid, tcy), (t.x, tcy)]

    # --- XML ------------------------------------------------------------------------------
    def _flow_node_xml(self, n: Node, flows_in, flows_out) -> str:
        attrs = {"id": n.id}
        if n.name:
            attrs["name"] = n.name
        attrs.update(n.attrs)
        default = next((f.id for f in flows_out if f.default), None)
        if default:
            attrs["default"] = default
        attr_text = "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items())
        parts = []
        if n.documentation:
            parts.append(f"<bpmn:documentation>{escape(n.documentation)}</bpmn:documentation>")
        parts += [c for c in n.children if c.startswith("<bpmn:extensionElements")]
        parts += [f"<bpmn:incoming>{f.id}</bpmn:incoming>" for f in flows_in]
        parts += [f"<bpmn:outgoing>{f.id}</bpmn:outgoing>" for f in flows_out]
        if n.sub is not None:
            parts.append(n.sub._content_xml())
        parts += [c for c in n.children if not c.startswith("<bpmn:extensionElements")]
        return f"<bpmn:{n.kind}{attr_text}>{''.join(parts)}</bpmn:{n.kind}>"

    def _content_xml(self) -> str:
        out = []
        if self.lanes:
            out.append(f'<bpmn:laneSet id="LaneSet_{self.id}">')
            for lane in self.lanes:
                refs = "".join(f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>"
                               for n in self.nodes.values() if n.lane == lane)
                out.append(f'<bpmn:lane id="{_lane_id(self.id, lane)}" name={quoteattr(lane)}>{refs}</bpmn:lane>')
            out.append("</bpmn:laneSet>")
        for n in self.nodes.values():
            fin = [f for f in self.flows if f.target == n.id]
            fout = [f for f in self.flows if f.source == n.id]
            out.append(self._flow_node_xml(n, fin, fout))
        for f in self.flows:
            attrs = f'id="{f.id}" sourceRef="{f.source}" targetRef="{f.target}"'
            if f.name:
                attrs += f" name={quoteattr(f.name)}"
            if f.condition:
                out.append(f'<bpmn:sequenceFlow {attrs}><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                           f"{escape(f.condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>")
            else:
                out.append(f"<bpmn:sequenceFlow {attrs} />")
        return "".join(out)

    def _all_messages(self) -> dict[str, str]:
        msgs = dict(self.messages)
        for n in self.nodes.values():
            if n.sub is not None:
                msgs.update(n.sub._all_messages())
        return msgs

    def _di_xml(self) -> str:
        out = []
        if self.lanes:
            width = self.width
            for lane in self.lanes:
                y, h = self.lane_bounds[lane]
                out.append(f'<bpmndi:BPMNShape id="{_lane_id(self.id, lane)}_di" bpmnElement="{_lane_id(self.id, lane)}" isHorizontal="true">'
                           f'<dc:Bounds x="{self._ox}" y="{y}" width="{width}" height="{h}" /></bpmndi:BPMNShape>')
        for n in self.nodes.values():
            extra = ' isExpanded="true"' if n.sub is not None else ""
            label = ""
            if n.shape in ("event", "gateway") and n.name:
                label_y = n.y - 32 if n.shape == "gateway" else n.y + n.h + 5
                label = (f'<bpmndi:BPMNLabel><dc:Bounds x="{n.x + n.w / 2 - 50}" y="{label_y}" '
                         f'width="100" height="27" /></bpmndi:BPMNLabel>')
            out.append(f'<bpmndi:BPMNShape id="{n.id}_di" bpmnElement="{n.id}"{extra}>'
                       f'<dc:Bounds x="{n.x}" y="{n.y}" width="{n.w}" height="{n.h}" />{label}</bpmndi:BPMNShape>')
            if n.sub is not None:
                out.append(n.sub._di_xml())
        for f in self.flows:
            pts = "".join(f'<di:waypoint x="{x}" y="{y}" />' for x, y in f.waypoints)
            out.append(f'<bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">{pts}</bpmndi:BPMNEdge>')
        return "".join(out)

    def to_xml(self) -> str:
        self._ox = 0
        self.layout(origin=(0, 0))
        msgs = self._all_messages()
        messages = "".join(f'<bpmn:message id="{mid}" name="{name}" />' for name, mid in msgs.items())
        doc = f"<bpmn:documentation>{escape(self.documentation)}</bpmn:documentation>" if self.documentation else ""
        if self.lanes:
            # a pool is needed for lanes to be drawn
            collab = (f'<bpmn:collaboration id="Collaboration_{self.id}"><bpmn:participant id="Participant_{self.id}" '
                      f'name={quoteattr(self.name)} processRef="{self.id}" /></bpmn:collaboration>')
            pool = (f'<bpmndi:BPMNShape id="Participant_{self.id}_di" bpmnElement="Participant_{self.id}" isHorizontal="true">'
                    f'<dc:Bounds x="-30" y="0" width="{self.width + 30}" height="{self.height}" /></bpmndi:BPMNShape>')
            plane_ref = f"Collaboration_{self.id}"
        else:
            collab, pool, plane_ref = "", "", self.id
        return _pretty(
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
            'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
            f'id="Definitions_{self.id}" targetNamespace="http://bpmn.io/schema/bpmn" '
            'exporter="orchestrator bpmnbuilder" exporterVersion="1">'
            f"{collab}"
            f'<bpmn:process id="{self.id}" name={quoteattr(self.name)} isExecutable="true">{doc}{self._content_xml()}</bpmn:process>'
            f"{messages}"
            f'<bpmndi:BPMNDiagram id="Diagram_{self.id}"><bpmndi:BPMNPlane id="Plane_{self.id}" bpmnElement="{plane_ref}">'
            f"{pool}{self._di_xml()}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
            "</bpmn:definitions>"
        )


def _pretty(xml: str) -> str:
    from lxml import etree

    root = etree.fromstring(xml.encode())
    etree.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode") + "\n"


def _lane_id(process_id: str, lane: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in lane.lower())
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a")):
        slug = slug.replace(a, b)
    return f"Lane_{process_id}_{slug}"
