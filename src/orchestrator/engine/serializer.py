"""Instance state without the spec.

SpiffWorkflow's `serialize_json` embeds the whole spec in every instance (about half the
bytes). We store only the task tree and data; the spec is re-attached from the cached
deployed version the instance is pinned to.
"""
from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.event_definition import MessageEventDefinitionConverter

from .parser import MergingMessageEventDefinition
from .sandbox import SCRIPT_ENGINE


class LeanWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _config(lean: bool) -> dict:
    config = dict(SPIFF_CONFIG)
    config[MergingMessageEventDefinition] = MessageEventDefinitionConverter
    if lean:
        config[BpmnWorkflow] = LeanWorkflowConverter
    return config


def _new_serializer(lean: bool = True) -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(_config(lean))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


_local = threading.local()


def _serializer() -> BpmnWorkflowSerializer:
    # The registry toggles an encoder flag while dumping: one serializer per thread.
    if not hasattr(_local, "serializer"):
        _local.serializer = _new_serializer()
    return _local.serializer


def registry():
    """The converter registry (this thread's): SpiffWorkflow's spec diff compares specs through it."""
    return _serializer().registry


def full_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own format (spec included), for comparison in benchmarks."""
    return _new_serializer(lean=False)


def dumps(workflow) -> str:
    serializer = _serializer()
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
        dct[serializer.VERSION_KEY] = serializer.VERSION
        return json.dumps(dct, cls=serializer._encoder_cls, separators=(",", ":"))
    finally:
        serializer.registry._encoder_mode = False


def loads(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    serializer = _serializer()
    dct = json.loads(state)
    serializer.migrate(dct)
    workflow = serializer.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow
