"""The diagrams are laid out as a careful modeler would: every element drawn, nothing on top of
anything else, labels placed and readable, flows orthogonal and attached at both ends, each task
in the lane of the role that gets it, and no diagram wider than a screen can show at normal zoom.

The checks read the diagram interchange (BPMN DI) of the files the way bpmn-js draws it. Each one
returns a list of problems, so the last test can show that they do find a careless layout.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from orchestrator.engine import authoring
from routines import ROOT

DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))
SAMSPILL = ROOT / "src" / "orchestrator" / "web" / "static" / "app" / "samspill.bpmn"
ALL = [*DIAGRAMS, SAMSPILL]
MAX_WIDTH = 2000  # px at 100 %: what a laptop shows next to the page's margins without zooming out
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
TOUCH = 2.0  # px a flow's end may lie off its shape's outline
# drawn with the name outside the shape (bpmn-js "external labels")
EXTERNAL_LABEL = ("Event", "Gateway", "sequenceFlow", "messageFlow", "dataObjectReference", "dataStoreReference")
SHAPED = ("Event", "Gateway", "Task", "task", "subProcess", "callActivity", "participant", "lane", "textAnnotation",
          "dataObjectReference", "dataStoreReference")
EDGED = ("sequenceFlow", "messageFlow", "association")


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def overlaps(self, other: "Box") -> bool:
        """Share some area (touching edges is fine)."""
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def holds(self, other: "Box") -> bool:
        return (self.x <= other.x and self.y <= other.y and other.right <= self.right
                and other.bottom <= self.bottom)

    def has(self, point) -> bool:
        return self.x <= point[0] <= self.right and self.y <= point[1] <= self.bottom

    def crossed_by(self, a, b) -> bool:
        """Does the segment a-b pass through the inside of the box (Liang-Barsky clipping)?"""
        inner = Box(self.x + 0.5, self.y + 0.5, self.w - 1, self.h - 1)
        (x0, y0), (x1, y1) = a, b
        dx, dy = x1 - x0, y1 - y0
        low, high = 0.0, 1.0
        for p, q in ((-dx, x0 - inner.x), (dx, inner.right - x0), (-dy, y0 - inner.y), (dy, inner.bottom - y0)):
            if p == 0:
                if q < 0:
                    return False
                continue
            t = q / p
            if p < 0:
                low = max(low, t)
            else:
                high = min(high, t)
            if low > high:
                return False
        return True


def _box(element) -> Box:
    b = element.find("dc:Bounds", NS)
    return Box(float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height")))


def _local(element) -> str:
    return etree.QName(element).localname


def _is(element, kinds) -> bool:
    name = _local(element)
    return any(name == k or name.endswith(k) for k in kinds)


class Layout:
    """One file's elements with the shapes, labels and edges its DI gives them."""

    def __init__(self, root: etree._Element, name: str):
        self.name, self.root = name, root
        self.elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str)
                         and etree.QName(e).namespace == NS["bpmn"] and e.get("id")}
        self.shapes: dict[str, Box] = {}
        self.labels: dict[str, Box | None] = {}
        self.edges: dict[str, list[tuple[float, float]]] = {}
        self.expanded: set[str] = set()
        for shape in root.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
            ref = shape.get("bpmnElement")
            self.shapes[ref] = _box(shape)
            if shape.get("isExpanded") == "true":
                self.expanded.add(ref)
            self._label(ref, shape)
        for edge in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge"):
            ref = edge.get("bpmnElement")
            self.edges[ref] = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)]
            self._label(ref, edge)
        participants = root.iter(f"{{{NS['bpmn']}}}participant")
        self.pool_of = {p.get("processRef"): p.get("id") for p in participants if p.get("processRef")}

    def _label(self, ref, di) -> None:
        label = di.find("bpmndi:BPMNLabel", NS)
        bounds = label.find("dc:Bounds", NS) if label is not None else None
        self.labels[ref] = _box(label) if bounds is not None else None

    def tag(self, ref) -> str:
        return _local(self.elements[ref])

    def containers(self, ref) -> list[str]:
        """The expanded subprocesses and the pool an element is drawn inside, innermost first."""
        found, node = [], self.elements[ref].getparent()
        while node is not None and isinstance(node.tag, str):
            if _local(node) == "subProcess" and node.get("id") in self.expanded:
                found.append(node.get("id"))
            if _local(node) == "process" and node.get("id") in self.pool_of:
                found.append(self.pool_of[node.get("id")])
            node = node.getparent()
        return found

    def lane_boxes(self) -> dict[str, Box]:
        return {ref: box for ref, box in self.shapes.items() if self.tag(ref) == "lane"}

    def framing(self, ref) -> bool:
        """Pools, lanes and expanded subprocesses frame other shapes."""
        return self.tag(ref) in ("participant", "lane") or ref in self.expanded

    def attached(self, a, b) -> bool:
        return self.elements[a].get("attachedToRef") == b


def layout_of(path: Path) -> Layout:
    return Layout(etree.parse(str(path)).getroot(), path.name)


# --- the checks -----------------------------------------------------------------------------


def missing_shapes(lay: Layout) -> list[str]:
    problems = []
    for ref, element in lay.elements.items():
        if _is(element, SHAPED) and ref not in lay.shapes:
            problems.append(f"{ref} has no shape")
        if _is(element, EDGED) and len(lay.edges.get(ref, [])) < 2:
            problems.append(f"{ref} has no edge with at least two waypoints")
    return problems


def overlapping_shapes(lay: Layout) -> list[str]:
    problems = []
    refs = [r for r in lay.shapes if lay.tag(r) not in ("participant", "lane")]
    for i, a in enumerate(refs):
        for b in refs[i + 1:]:
            if not lay.shapes[a].overlaps(lay.shapes[b]) or lay.attached(a, b) or lay.attached(b, a):
                continue
            if b in lay.containers(a) and lay.shapes[b].holds(lay.shapes[a]):
                continue
            if a in lay.containers(b) and lay.shapes[a].holds(lay.shapes[b]):
                continue
            problems.append(f"{a} and {b} overlap")
    for ref in refs:
        inside = lay.containers(ref)
        outer = [c for c in inside if not lay.shapes[c].holds(lay.shapes[ref])]
        if outer and not _is(lay.elements[ref], ("boundaryEvent",)):
            problems.append(f"{ref} reaches outside {outer[0]}")
        host = lay.elements[ref].get("attachedToRef")
        if host and not _on_outline(lay.shapes[host], lay.shapes[ref].centre, TOUCH):
            problems.append(f"{ref} does not sit on the border of {host}")
    lanes = lay.lane_boxes()
    for i, a in enumerate(list(lanes)):
        for b in list(lanes)[i + 1:]:
            if lanes[a].overlaps(lanes[b]):
                problems.append(f"lanes {a} and {b} overlap")
    return problems


def misplaced_labels(lay: Layout) -> list[str]:
    problems = []
    labels = {}
    for ref, element in lay.elements.items():
        if not (element.get("name") or "").strip() or not _is(element, EXTERNAL_LABEL):
            continue
        box = lay.labels.get(ref)
        if box is None or box.w <= 0 or box.h <= 0:
            problems.append(f"the label of {ref} has no position")
        else:
            labels[ref] = box
    for ref, box in labels.items():
        own = lay.containers(ref) if ref in lay.shapes else _edge_containers(lay, ref)
        for other, shape in lay.shapes.items():
            if other == ref or not box.overlaps(shape):
                continue
            framed_by = lay.framing(other) and shape.holds(box)
            if framed_by and (lay.tag(other) in ("participant", "lane") or other in own):
                continue
            problems.append(f"the label of {ref} overlaps {other}")
        for other, other_box in labels.items():
            if other < ref and box.overlaps(other_box):
                problems.append(f"the labels of {ref} and {other} overlap")
        for edge, points in lay.edges.items():
            if any(box.crossed_by(a, b) for a, b in zip(points, points[1:])):
                problems.append(f"the label of {ref} lies on the flow {edge}")
    return problems


def _edge_containers(lay: Layout, ref) -> list[str]:
    return lay.containers(lay.elements[ref].get("sourceRef"))


def loose_edges(lay: Layout) -> list[str]:
    problems = []
    for ref, points in lay.edges.items():
        element = lay.elements[ref]
        if len(points) < 2:
            continue  # reported by missing_shapes
        if _local(element) in ("sequenceFlow", "messageFlow"):
            bent = [(a, b) for a, b in zip(points, points[1:]) if abs(a[0] - b[0]) > 1 and abs(a[1] - b[1]) > 1]
            if bent:
                problems.append(f"{ref} has a slanted segment at {bent[0][0]}")
        for end, point in (("sourceRef", points[0]), ("targetRef", points[-1])):
            other = element.get(end)
            if other not in lay.shapes:
                continue
            if not _touches(lay, other, point):
                problems.append(f"{ref} does not touch {other} at {point}")
    return problems


def flows_through_shapes(lay: Layout) -> list[str]:
    """A flow runs around what it does not connect: not through a task, a gateway or a
    subprocess it is not part of."""
    problems = []
    for ref, points in lay.edges.items():
        element = lay.elements[ref]
        ends = {element.get("sourceRef"), element.get("targetRef")}
        around = set(_edge_containers(lay, ref)) | ends
        for other, box in lay.shapes.items():
            if other in around or lay.tag(other) in ("participant", "lane"):
                continue
            if any(box.crossed_by(a, b) for a, b in zip(points, points[1:])):
                problems.append(f"{ref} runs through {other}")
    return problems


def _touches(lay: Layout, ref, point) -> bool:
    box = lay.shapes[ref]
    cx, cy = box.centre
    dx, dy = point[0] - cx, point[1] - cy
    if _is(lay.elements[ref], ("Event",)):
        return abs((dx * dx + dy * dy) ** 0.5 - box.w / 2) <= TOUCH
    if _is(lay.elements[ref], ("Gateway",)):
        return abs(abs(dx) / (box.w / 2) + abs(dy) / (box.h / 2) - 1) <= TOUCH / (box.w / 2)
    return _on_outline(box, point, TOUCH)


def _on_outline(box: Box, point, tolerance: float) -> bool:
    x, y = point
    grown = Box(box.x - tolerance, box.y - tolerance, box.w + 2 * tolerance, box.h + 2 * tolerance)
    near = min(abs(x - box.x), abs(x - box.right), abs(y - box.y), abs(y - box.bottom))
    return grown.has(point) and near <= tolerance


def too_wide(lay: Layout, limit: float = MAX_WIDTH) -> list[str]:
    xs = [x for b in [*lay.shapes.values(), *filter(None, lay.labels.values())] for x in (b.x, b.right)]
    xs += [p[0] for points in lay.edges.values() for p in points]
    width = max(xs) - min(xs)
    return [f"{lay.name} is {width:.0f} px wide (limit {limit} px)"] if width > limit else []


def tasks_outside_their_lane(lay: Layout) -> list[str]:
    """A user task goes to the role of its lane (or of `camunda:candidateGroups`): it must be drawn
    in that role's lane, and an element the lanes list must be drawn in the lane that lists it,
    because the modeler reassigns lanes from where things are drawn."""
    problems = []
    content = etree.tostring(lay.root)
    definition = authoring.read(lay.name, etree.fromstring(content), content)
    lanes = lay.lane_boxes()
    by_role = {authoring.role_of_lane(lay.elements[ref].get("name")): box for ref, box in lanes.items()}
    for info in definition.elements.values():
        if info.kind != "userTask":
            continue
        lane = by_role.get(info.role)
        if lane is None:
            problems.append(f"{info.id} goes to the role {info.role!r}, which has no lane")
        elif not lane.has(lay.shapes[info.id].centre):
            problems.append(f"{info.id} goes to the role {info.role!r} but is drawn outside its lane")
    for ref, box in lanes.items():
        for node in lay.elements[ref].findall("bpmn:flowNodeRef", NS):
            if node.text in lay.shapes and not box.has(lay.shapes[node.text].centre):
                problems.append(f"{node.text} belongs to the lane {lay.elements[ref].get('name')!r} but is drawn outside it")
    return problems


# --- the tests ------------------------------------------------------------------------------


def _ids(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_every_element_is_drawn_and_every_flow_has_waypoints(path):
    assert missing_shapes(layout_of(path)) == []


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_no_shapes_overlap_except_what_they_are_drawn_inside(path):
    assert overlapping_shapes(layout_of(path)) == []


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_every_label_is_placed_clear_of_shapes_other_labels_and_flows(path):
    assert misplaced_labels(layout_of(path)) == []


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_flows_are_orthogonal_and_attached_at_both_ends(path):
    assert loose_edges(layout_of(path)) == []


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_flows_run_around_what_they_do_not_connect(path):
    assert flows_through_shapes(layout_of(path)) == []


@pytest.mark.parametrize("path", ALL, ids=_ids)
def test_the_diagram_is_readable_at_normal_zoom(path):
    assert too_wide(layout_of(path)) == []


@pytest.mark.parametrize("path", DIAGRAMS, ids=_ids)
def test_each_user_task_is_drawn_in_the_lane_of_the_role_that_gets_it(path):
    assert tasks_outside_their_lane(layout_of(path)) == []


def test_the_checks_find_what_a_careless_layout_leaves():
    good = etree.parse(str(ROOT / "processes" / "ansvarsgruppe.bpmn")).getroot()
    root = copy.deepcopy(good)
    di = {s.get("bpmnElement"): s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape", f"{{{NS['bpmndi']}}}BPMNEdge")}

    def move(ref, x=None, y=None):
        bounds = di[ref].find("dc:Bounds", NS)
        if x is not None:
            bounds.set("x", str(x))
        if y is not None:
            bounds.set("y", str(y))

    task = di["opprettelse"].find("dc:Bounds", NS)
    move("registrer_forste", x=task.get("x"), y=task.get("y"))          # on top of the task before it
    leder = di["eskalering_seks_maaneder_leder"].find("dc:Bounds", NS)
    move("eskalering_seks_maaneder_ke", y=leder.get("y"))               # KE's task drawn in the Leder lane
    gateway_label = di["videre_gw"].find("bpmndi:BPMNLabel", NS)
    di["videre_gw"].remove(gateway_label)                                # label without a position
    slutt_label = di["slutt"].find("bpmndi:BPMNLabel/dc:Bounds", NS)
    opplosning = di["opplosning"].find("dc:Bounds", NS)
    slutt_label.set("x", opplosning.get("x"))                            # label over a task
    slutt_label.set("y", opplosning.get("y"))
    waypoint = di["Flow_opplosning_slutt"].findall("di:waypoint", NS)[-1]
    waypoint.set("x", str(float(waypoint.get("x")) + 40))                # flow ends in mid-air
    waypoint.set("y", str(float(waypoint.get("y")) + 30))                # ... on a slant
    loop = di["Flow_registrer_neste_syklus_merge"]                      # the loop back cuts across a subprocess
    first, *_, last = loop.findall("di:waypoint", NS)
    for point in loop.findall("di:waypoint", NS):
        loop.remove(point)
    (x0, y0), (x1, y1) = (float(first.get("x")), float(first.get("y"))), (float(last.get("x")), float(last.get("y")))
    for x, y in ((x0, y0), (x0 - 20, y0), (x0 - 20, y0 + 150), (x1, y0 + 150), (x1, y1)):
        etree.SubElement(loop, f"{{{NS['di']}}}waypoint", x=str(x), y=str(y))
    participant = di["Participant_ansvarsgruppe"].find("dc:Bounds", NS)
    participant.set("width", "4600")                                     # as wide as the generator drew it

    lay = Layout(root, "ansvarsgruppe.bpmn")
    assert "opprettelse and registrer_forste overlap" in overlapping_shapes(lay)
    assert "the label of videre_gw has no position" in misplaced_labels(lay)
    assert "the label of slutt overlaps opplosning" in misplaced_labels(lay)
    assert any(p.startswith("Flow_opplosning_slutt does not touch slutt") for p in loose_edges(lay))
    assert any(p.startswith("Flow_opplosning_slutt has a slanted segment") for p in loose_edges(lay))
    assert ("eskalering_seks_maaneder_ke goes to the role 'koordinerende_enhet' but is drawn outside its lane"
            in tasks_outside_their_lane(lay))
    assert "Flow_registrer_neste_syklus_merge runs through moeteperiode" in flows_through_shapes(lay)
    assert too_wide(lay) == ["ansvarsgruppe.bpmn is 4600 px wide (limit 2000 px)"]
    assert all(check(Layout(good, "ansvarsgruppe.bpmn")) == [] for check in
               (missing_shapes, overlapping_shapes, misplaced_labels, loose_edges, flows_through_shapes, too_wide,
                tasks_outside_their_lane))
