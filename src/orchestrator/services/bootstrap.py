"""The composition root: every part of the service layer that is chosen, not imported, is wired here.

Read this file to know every handler of a message that leaves an instance and every kind of
background work the worker does. Nothing registers itself on import.
"""
from __future__ import annotations

from ..config import Settings
from ..store.db import Database
from . import cases, messages, nightly, samtykke, timers
from .context import Orchestrator
from .notices import constants as notice_names
from .notices import delivery as notice_delivery
from .notices import handlers as notice_handlers


def _checked(check, handler):
    """`handler` after `check` (both in the step's transaction): the consent is read before the case register."""
    def both(step, payload):
        check(step, payload)
        handler(step, payload)
    both.__name__ = handler.__name__
    return both


# Messages an instance throws that leave the building instead of reaching another instance:
# name -> handler(step, payload), called in the step's own transaction (runtime.commit).
OUTBOUND = {
    # the case register (saksregister): «… registreres på saken», each behind the consent it needs
    "koordinator_oppnevnt": _checked(samtykke.coordinator_covered, cases.register_coordinator),
    "planverktoy_valgt": _checked(samtykke.plan_tool_covered, cases.register_plan_tool),
    # the consent register (samtykkeregister, decision 0016)
    "samtykke_registrert": samtykke.registrer,
    "samtykke_trukket_registrert": samtykke.registrer_tilbaketrekking,
    # e-mail notices of the ansvarsgruppe (the transactional outbox)
    notice_names.INNKALLING: notice_handlers.innkalling,
    notice_names.INNKALLING_ENDRET: notice_handlers.innkalling_endret,
    notice_names.MOETE_AVLYST: notice_handlers.moete_avlyst,
    notice_names.REFERAT: notice_handlers.referat,
}


def queues(settings: Settings) -> dict:
    """The kinds of background work, in the order a worker pass takes them, each with its own settings."""
    # the nightly retention run (decision 0024) comes last: it never holds up a timer or a notice
    kinds = (timers.queue(settings), notice_delivery.queue(settings), nightly.queue(settings))
    return {queue.name: queue for queue in kinds}


def build(settings: Settings, database: Database | None = None) -> Orchestrator:
    """The orchestrator every entry point uses: the web app, the CLI, the worker, tests and the bench."""
    return Orchestrator(settings, database, outbound=OUTBOUND, route=messages.route_thrown,
                        queues=queues(settings))
