"""The baseline: SpiffWorkflow alone taking the same step, and this run's calibration.

A raw step is what any persisted SpiffWorkflow application must do at the least: deserialize the
instance with SpiffWorkflow's own serializer (spec included), set the submitted data on the task,
run it, run the engine on, and serialize again. Our sandboxed script engine is attached, as in
the product, so both sides evaluate the same expressions the same way.
"""
from __future__ import annotations

import time
from uuid import UUID

from orchestrator.engine import serializer, workflow as engine
from orchestrator.engine.sandbox import SCRIPT_ENGINE
from orchestrator.store.models import Instance

from . import routines
from .measure import median


class RawStep:
    """One instance's state just before a step, in SpiffWorkflow's own format."""

    def __init__(self, full_json: str, task_id: str, data: dict):
        self.full_json, self.task_id, self.data = full_json, UUID(task_id), data
        self._serializer = serializer.full_serializer()

    def run(self) -> tuple[float, str]:
        """(seconds, the serialized result) of deserialize + set data + run + engine steps + serialize."""
        ser = self._serializer
        start = time.perf_counter()
        workflow = ser.deserialize_json(self.full_json)
        workflow.script_engine = SCRIPT_ENGINE
        task = workflow.get_task_from_id(self.task_id)
        task.set_data(**self.data)
        task.run()
        workflow.do_engine_steps()
        result = ser.serialize_json(workflow)
        return time.perf_counter() - start, result


def snapshot(orc, instance_id: int, task_id: str, data: dict) -> RawStep:
    """The instance as stored now, re-serialized the way SpiffWorkflow stores it."""
    with orc.db.read() as session:
        row = session.get(Instance, instance_id)
        bundle = orc.specs.bundle(session, row.process_key, row.pins)
        workflow = engine.load(row.state, bundle)
    return RawStep(serializer.full_serializer().serialize_json(workflow), task_id, data)


def calibrate(env, n: int = 200) -> dict:
    """Median raw step (samarbeid steg1) in this run: the unit absolute figures are divided by."""
    started = routines.start_samarbeid(env.orc, env.actors, "KALIBRERING-1")
    step = snapshot(env.orc, started.id, routines.task_id(env.orc, started.id, "steg1"), routines.STEG1)
    for _ in range(20):
        step.run()
    times = [step.run()[0] for _ in range(n)]
    return {"raw_step_median_ms": round(median(times) * 1000, 4), "n": n,
            "what": "SpiffWorkflow alone: deserialize_json + set_data + run + do_engine_steps + serialize_json "
                    "of samarbeid steg1 (spec included)"}
