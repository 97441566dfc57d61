"""The shape of an authored process: can it end, and what does it say (apart from how it is drawn).

Deploy refuses a process that no case could finish (no start, no end, or no path from a start to an
end) and the untouched «Ny prosess» template; both use the process as authored, before the
rewrite for SpiffWorkflow. The same element comparison gives the differences between two versions.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .authoring import BPMN_NS, CAMUNDA_NS, FLOW_NODES

_BPMN = f"{{{BPMN_NS}}}"
_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}


@dataclass(frozen=True)
class Unfinishable:
    """Why no case of this process can end, and at which element."""

    reason: str
    element_id: str | None = None


def _local(node) -> str | None:
    return etree.QName(node).localname if isinstance(node.tag, str) and etree.QName(node).namespace == BPMN_NS else None


def _event_subprocess(node) -> bool:
    return _local(node) == "subProcess" and node.get("triggeredByEvent") == "true"


def unfinishable(process: etree._Element) -> Unfinishable | None:
    """None when some start event of the process reaches an end event; else why not.

    Follows the process's own sequence flows; a boundary event continues from the activity it is
    attached to, so an escalation path counts. Event subprocesses are not starts of the process.
    """
    nodes = {n.get("id"): n for n in process if _local(n) in FLOW_NODES and not _event_subprocess(n)}
    starts = [i for i, n in nodes.items() if _local(n) == "startEvent"]
    ends = {i for i, n in nodes.items() if _local(n) == "endEvent"}
    if not starts:
        return Unfinishable("prosessen har ingen starthendelse")
    if not ends:
        return Unfinishable("prosessen har ingen slutthendelse, så ingen sak kan bli ferdig; "
                            "legg til en slutthendelse og koble den til")
    following: dict[str, set[str]] = {i: set() for i in nodes}
    for flow in process.findall(f"{_BPMN}sequenceFlow"):
        if flow.get("sourceRef") in following:
            following[flow.get("sourceRef")].add(flow.get("targetRef"))
    for node_id, node in nodes.items():
        attached = node.get("attachedToRef")
        if _local(node) == "boundaryEvent" and attached in following:
            following[attached].add(node_id)
    for start in starts:
        seen, pending = {start}, [start]
        while pending:
            for target in following.get(pending.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        if seen & ends:
            return None
    name = nodes[starts[0]].get("name") or starts[0]
    return Unfinishable(f"det finnes ingen vei fra starten «{name}» til en slutthendelse, så ingen sak kan "
                        "bli ferdig; koble stegene sammen med sekvensflyter helt til en slutthendelse", starts[0])


def elements(process: etree._Element) -> dict[str, tuple]:
    """Every element of the process by id, as what it means (kind, name, attributes, children's
    text) without its id, position or drawing: the unit of «changed» between two versions."""
    found = {}
    for node in process.iter():
        kind = _local(node)
        if kind is None or not node.get("id") or node is process:
            continue
        found[node.get("id")] = _meaning(node)
    return found


def _meaning(node) -> tuple:
    attributes = tuple(sorted((etree.QName(k).localname, v) for k, v in node.attrib.items() if k != "id"))
    texts = []
    for child in node.iter():
        if child is node or not isinstance(child.tag, str):
            continue
        namespace = etree.QName(child).namespace
        if child.get("id") and _local(child) in FLOW_NODES | _CONTAINERS | {"sequenceFlow", "lane"}:
            continue  # a nested element is compared on its own
        if etree.QName(child).localname in ("incoming", "outgoing"):
            continue  # the flow itself is compared
        if namespace in (BPMN_NS, CAMUNDA_NS):
            child_attributes = tuple(sorted((etree.QName(k).localname, v) for k, v in child.attrib.items()
                                            if k != "id"))
            texts.append((etree.QName(child).localname, child_attributes, (child.text or "").strip()))
    return (_local(node), attributes, tuple(texts))


def signature(process: etree._Element) -> tuple:
    """What the process says, independent of ids and drawing: a sorted bag of element meanings,
    with flows by the meanings of their ends. Two files with the same signature are the same
    process to everyone who reads it."""
    meanings = elements(process)
    named = []
    for element_id, meaning in meanings.items():
        kind, attributes, texts = meaning
        kept = tuple((k, v) for k, v in attributes if k not in ("sourceRef", "targetRef", "attachedToRef"))
        refs = tuple(meanings.get(v, (None,))[0:2] for k, v in attributes
                     if k in ("sourceRef", "targetRef", "attachedToRef"))
        texts = tuple(t for t in texts if t[0] != "flowNodeRef")  # lane members are ids
        named.append(repr((kind, kept, refs, texts)))
    return tuple(sorted(named))
