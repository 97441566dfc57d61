"""Loops SpiffWorkflow cannot run.

SpiffWorkflow predicts every task a workflow may reach when it creates or updates one. Behind a
task that will certainly run (a user task, a parallel gateway, an intermediate event) it predicts
the next as certain too, and only exclusive, inclusive and event-based gateways end that chain. A
cycle of sequence flows without one of them is therefore predicted round and round until Python's
recursion limit: a RecursionError when the first instance starts. We refuse such a diagram at
deploy, naming the elements of the loop, instead.

A loop closed by a boundary event (its task -> ... -> back to the task) is fine: the boundary
event is not reached by a sequence flow from its task, so it is not a cycle here either.
"""
from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from lxml import etree

from .authoring import BPMN_NS

GUARDS = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway"}
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}


def unguarded_loops(root: etree._Element) -> list[list[str]]:
    """A cycle of sequence flows with no exclusive/inclusive/event-based gateway in it, per process
    or subprocess that has one, as the ids of its elements in flow order."""
    loops = []
    for container in root.iter(*(f"{{{BPMN_NS}}}{tag}" for tag in CONTAINERS)):
        loop = _loop_in(container)
        if loop:
            loops.append(loop)
    return loops


def _loop_in(container: etree._Element) -> list[str] | None:
    kinds = {node.get("id"): etree.QName(node).localname for node in container
             if isinstance(node.tag, str) and node.get("id")}
    graph = TopologicalSorter()
    for flow in container.iterfind(f"{{{BPMN_NS}}}sequenceFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if kinds.get(source) not in GUARDS and kinds.get(target) not in GUARDS:
            graph.add(target, source)  # a guard breaks every cycle through it
    try:
        graph.prepare()
    except CycleError as error:
        cycle = error.args[1]  # [a, b, ..., a]: each the predecessor of the next, so in flow order
        return cycle[:-1]
    return None
