"""Stored bytes per instance ÷ SpiffWorkflow's own `serialize_json` of the same workflow (goal ≤ 0.5).

Every seed routine is driven along its usual path (as the routine tests do, ManualClock), and
at every save of every instance touched (`services/runtime._save`, wrapped here for the run):
- stored: `len(instances.state)` as written;
- SpiffWorkflow's size: `len(full_serializer().serialize_json(workflow))` of the same workflow
  as saved (SpiffWorkflow's own serializer with the spec included);
- and, for information, the same for the workflow before our compaction (what an application
  storing SpiffWorkflow's format without compaction would write).
The figure is the median of stored ÷ SpiffWorkflow's size over all saves; the max is reported too.
"""
from __future__ import annotations

import contextlib
import statistics
from datetime import datetime, timedelta, timezone

from orchestrator import clock
from orchestrator.engine import serializer
from orchestrator.engine import workflow as engine
from orchestrator.services import instances, runtime, timers

from . import routines
from .env import Env, Run, log, use_clock
from .report import Figure

T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
GOAL = "<= 0.5"


def expected(run: Run) -> list[str]:
    return ["storage.median", "storage.max"]


class Recorder:
    def __init__(self):
        self.samples: list[dict] = []
        self.label = ""
        self._full = serializer.full_serializer()

    @contextlib.contextmanager
    def installed(self):
        real = runtime._save

        def save(step):
            before = len(self._full.serialize_json(step.workflow))
            real(step)
            self.samples.append({
                # what _save stored: the compacted workflow's dump (the row keeps no copy of it)
                "process": step.row.process_key, "at": self.label, "stored": len(engine.dump(step.workflow)),
                "spiff": len(self._full.serialize_json(step.workflow)), "spiff_uncompacted": before,
            })

        runtime._save = save
        try:
            yield self
        finally:
            runtime._save = real


def run(run: Run) -> list[Figure]:
    cycles = run.pick(3, 10)
    recorder = Recorder()
    with Env("storage") as env, use_clock(clock.ManualClock(T0)) as manual, recorder.installed():
        orc, a = env.orc, env.actors
        log("storage: samarbeid")
        recorder.label = "start"
        check = routines.start_samarbeid(orc, a, "SAK-LAGRING-1")
        for element_id, data in routines.SAMARBEID_PATH:
            recorder.label = element_id
            routines.do(orc, check.id, element_id, a["tina"], data)  # the last starts an oppstart too
        log("storage: oppstart to trinn 10 (starts the ansvarsgruppe)")
        recorder.label = "start"
        case = routines.start_oppstart(orc, a, "SAK-LAGRING-2")
        for element_id, actor, data in routines.oppstart_steps(a):
            recorder.label = element_id
            routines.do(orc, case.id, element_id, actor, data)
        log(f"storage: ansvarsgruppe through {cycles} meeting cycles")
        group = instances.list_instances(orc, a["mona"], process_key="ansvarsgruppe",
                                         business_key="SAK-LAGRING-2").items[0]
        meeting = T0.replace(hour=9) + timedelta(days=30)
        recorder.label = "opprettelse"
        routines.create_group(orc, a, group.id, meeting)
        for cycle in range(cycles):
            recorder.label = f"syklus {cycle + 1}"
            meeting = routines.meeting_cycle(orc, a, manual, group.id, meeting)
        log("storage: skifte av koordinator")
        recorder.label = "start"
        change = instances.start(orc, "skifte_av_koordinator", a["kora"], business_key="SAK-LAGRING-2",
                                 data={"skifte_arsak": "Bytter stilling."})
        for element_id, actor, data in [
            ("leder_avklaring", a["lars"], {"skifte_godkjent": "ja"}),
            ("planeier", a["kora"], {"planeier_kontaktet": "2027-02-01"}),
            ("deltakere", a["kora"], {"noen_tar_over": "ja", "ny_koordinator": "kai"}),
            ("ny_koordinator_leder", a["kai"], {"leder_har_godkjent": "ja"}),
            ("informere", a["kora"], {"planeier_informert": True, "lagt_til_i_planen": True}),
        ]:
            recorder.label = element_id
            routines.do(orc, change.id, element_id, actor, data)
        timers.fire_due(orc)
    samples = recorder.samples
    for s in samples:
        s["ratio"] = round(s["stored"] / s["spiff"], 4)
        s["ratio_vs_uncompacted"] = round(s["stored"] / s["spiff_uncompacted"], 4)
    ratios = [s["ratio"] for s in samples]
    by_process = {}
    for s in samples:
        by_process.setdefault(s["process"], []).append(s["ratio"])
    worst = max(samples, key=lambda s: s["ratio"])
    raw = {
        "saves": len(samples),
        "median_ratio": statistics.median(ratios), "max_ratio": max(ratios),
        "median_ratio_vs_uncompacted": statistics.median(s["ratio_vs_uncompacted"] for s in samples),
        "by_process": {p: {"saves": len(r), "median": statistics.median(r), "max": max(r)}
                       for p, r in by_process.items()},
        "worst": worst, "samples": samples,
    }
    median_ratio, max_ratio = raw["median_ratio"], raw["max_ratio"]
    return [
        Figure("storage.median", "Stored state ÷ Spiff serialize_json, median", round(median_ratio, 3), "×", GOAL,
               ratio=round(median_ratio, 3), raw=raw,
               notes=f"{len(samples)} saves over 5 routines; vs uncompacted Spiff: "
                     f"{raw['median_ratio_vs_uncompacted']:.2f}×"),
        Figure("storage.max", "Stored state ÷ Spiff serialize_json, max", round(max_ratio, 3), "×", GOAL,
               ratio=round(max_ratio, 3), raw={"see": "storage.median", "worst": worst},
               notes=f"worst: {worst['process']} at {worst['at']} ({worst['stored']} of {worst['spiff']} bytes)"),
    ]
