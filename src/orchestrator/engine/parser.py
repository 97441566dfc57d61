"""Turn deployed definitions into runnable SpiffWorkflow specs (a `SpecBundle`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffEndEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition

from .authoring import Definition, ElementInfo


class MergingMessageEventDefinition(MessageEventDefinition):
    """A message whose payload (a dict) is merged into the catching task's data."""

    def update_task_data(self, my_task):
        payload = my_task.internal_data.pop(self.name, None)
        if isinstance(payload, dict):
            my_task.set_data(**payload)


class _MergingMessages:
    def parse_message_event(self, message_event):
        event = super().parse_message_event(message_event)
        event.__class__ = MergingMessageEventDefinition  # same state, our catch behaviour
        return event


class _Start(_MergingMessages, SpiffStartEventParser): pass
class _End(_MergingMessages, SpiffEndEventParser): pass
class _Catch(_MergingMessages, SpiffIntermediateCatchEventParser): pass
class _Throw(_MergingMessages, SpiffIntermediateThrowEventParser): pass
class _Boundary(_MergingMessages, SpiffBoundaryEventParser): pass


class OrchestratorParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_Start, StartEvent),
        full_tag("endEvent"): (_End, EndEvent),
        full_tag("intermediateCatchEvent"): (_Catch, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (_Throw, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (_Boundary, BoundaryEvent),
    }

    def __init__(self):
        # The authored tree is schema-checked at deploy (validate_schema); the rewritten copy
        # SpiffWorkflow parses may repeat an id on purpose (multi-instance in/out items).
        super().__init__(validator=None)


def validate_schema(definition: Definition) -> None:
    """BPMN 2.0 XSD check of what the author wrote; raises ValidationException with a line."""
    if definition.kind == "bpmn":
        VALIDATOR.validate(definition.root, definition.filename)


@dataclass
class SpecBundle:
    """A process version ready to run: its spec, the specs it calls, and what the authors wrote."""

    key: str
    spec: object
    subprocess_specs: dict
    pins: dict[str, int]
    elements: dict[tuple[str, str], ElementInfo] = field(default_factory=dict)
    spec_owner: dict[str, str] = field(default_factory=dict)

    def element(self, spec_name: str, element_id: str) -> ElementInfo | None:
        owner = self.spec_owner.get(spec_name)
        return self.elements.get((owner, element_id)) if owner else None


def _connect_loops(process_spec) -> None:
    """Each loop's iteration reports back to the loop when it completes, as SpiffWorkflow's own spec
    deserializer wires it. The parser leaves it to the moment a loop creates its iterations, so a
    freshly parsed spec (another process, a restart, a moved case) would never finish a loop whose
    iterations were created elsewhere: step 3 of the samarbeid check stayed open for good."""
    for task_spec in process_spec.task_specs.values():
        if isinstance(task_spec, LoopTask):
            child = process_spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def build_bundle(key: str, definitions: list[Definition], pins: dict[str, int]) -> SpecBundle:
    parser = OrchestratorParser()
    for definition in definitions:
        if definition.kind == "dmn":
            parser.add_dmn_xml(definition.spiff_tree, filename=definition.filename)
    for definition in definitions:
        if definition.kind == "bpmn":
            parser.add_bpmn_xml(definition.spiff_tree, filename=definition.filename)
    spec = parser.get_spec(key)
    subprocess_specs = parser.get_subprocess_specs(key)
    for process_spec in (spec, *subprocess_specs.values()):
        _connect_loops(process_spec)
    bundle = SpecBundle(key=key, spec=spec, subprocess_specs=subprocess_specs, pins=dict(pins))
    for definition in definitions:
        if definition.kind != "bpmn":
            continue
        bundle.spec_owner[definition.key] = definition.key
        for info in definition.elements.values():
            bundle.elements[(definition.key, info.id)] = info
            if info.kind == "subProcess":
                bundle.spec_owner[info.id] = definition.key
    return bundle
