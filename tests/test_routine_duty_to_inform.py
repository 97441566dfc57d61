"""The duty to inform (seed 004 § 5, 002 kap. 5) as a required checkbox: form-js semantics, ticked or refused.

A required checkbox means «this must be ticked» in form-js. Answering `false` is not having informed the
person: the form refuses it, and no path of the routine ends the case on it.
"""
from __future__ import annotations

import pytest

from routines import do, open_elements, people, plan_case, seeded, send, start_oppstart  # noqa: F401
from orchestrator.forms.model import parse_form
from orchestrator.forms.schema import FormInvalid, validate_submission
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid

TICK = "Feltet må krysses av."


def _form(required: bool):
    return parse_form("f", ('{"components": [{"type": "checkbox", "key": "informert", "label": "Informert", '
                            '"validate": {"required": %s}}]}' % ("true" if required else "false")).encode())


def test_a_required_checkbox_must_be_ticked_not_merely_answered():
    with pytest.raises(FormInvalid) as refused:
        validate_submission(_form(required=True), {"informert": False})
    assert refused.value.errors == {"informert": [TICK]}
    with pytest.raises(FormInvalid):
        validate_submission(_form(required=True), {"informert": "nei"})
    assert validate_submission(_form(required=True), {"informert": True}) == {"informert": True}
    assert validate_submission(_form(required=False), {"informert": False}) == {"informert": False}


def test_not_having_informed_about_coordinator_and_ip_is_refused_and_never_ends_the_case(orc, seeded, people):
    started = start_oppstart(orc, people)
    for wish in ("nei", "ja"):
        with pytest.raises(Invalid) as refused:
            do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": False, "bruker_onsker_koordinering": wish,
                                                        "soknad_fra": "bruker", "soknad_dato": "2027-01-04"})
        assert refused.value.fields == {"informert_om_rettigheter": [TICK]}
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "running" and open_elements(orc, started.id) == ["onske"]
    assert "slutt_onskes_ikke" not in detail.completed_elements


def test_a_withdrawal_is_not_closed_before_the_person_is_told_what_it_means(orc, seeded, people):
    """The withdrawal is recorded with the case's consent (decision 0016): «informert om følger» is a required
    checkbox there, and unticked it is refused, the plan work going on."""
    started = plan_case(orc, people, "SAK-T1")
    with pytest.raises(Invalid) as refused:
        send(orc, "samtykke_trukket", "SAK-T1", people.kari,
             {"samtykke_trukket_dato": "2027-02-01", "informert_om_folger": False})
    assert refused.value.fields == {"informert_om_folger": [TICK]}
    assert instances.get(orc, started.id, SYSTEM).status == "running"
    assert open_elements(orc, started.id) != []