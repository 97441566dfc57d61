"""The engine's test diagram set, run through the service layer on a real database."""
from __future__ import annotations

from datetime import timedelta

import pytest

import diagrams
from helpers import complete, open_elements, open_tasks, status
from orchestrator.services import instances, messages, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import NotFound


@pytest.fixture
def staff(make_user):
    return {
        "ty": make_user("tina", "tjenesteyter"),
        "ke": make_user("kari", "koordinerende_enhet"),
        "leder": make_user("lars", "leder"),
    }


def test_exclusive_gateway_takes_the_yes_path_to_the_coordinating_unit(orc, deploy, staff):
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", staff["ty"], business_key="SAK-1")
    assert open_elements(orc, started.id) == ["vurder"]
    complete(orc, started.id, "vurder", staff["ty"], {"behov": "ja", "begrunnelse": "Flere tjenester"})
    [task] = open_tasks(orc, started.id)
    assert (task.element_id, task.role) == ("folg_opp", "koordinerende_enhet")


def test_exclusive_gateway_default_path_ends_with_documented_reason(orc, deploy, staff):
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", staff["ty"], "SAK-ENGINE-PATHS-35")
    complete(orc, started.id, "vurder", staff["ty"], {"behov": "nei", "begrunnelse": "Ingen andre tjenester"})
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed"
    assert detail.data["begrunnelse"] == "Ingen andre tjenester"
    assert "slutt_nei" in detail.completed_elements and "folg_opp" not in detail.completed_elements


def test_called_process_task_takes_the_callers_lane(orc, deploy, staff):
    deploy(*diagrams.called_process())
    started = instances.start(orc, "test_forelder", staff["ke"], "SAK-ENGINE-PATHS-45")
    [task] = open_tasks(orc, started.id)
    assert (task.element_id, task.role) == ("c_oppgave", "koordinerende_enhet")
    complete(orc, started.id, "c_oppgave", staff["ke"])
    assert open_elements(orc, started.id) == ["etter"]


def test_multi_instance_makes_one_task_per_service_and_keeps_each_answer(orc, deploy, staff):
    deploy(*diagrams.multi_instance())
    services = [{"navn": "Skole"}, {"navn": "NAV"}, {"navn": "Barnevern"}]
    started = instances.start(orc, "test_multi", staff["ty"], "SAK-ENGINE-PATHS-55", data={"tjenester": services})
    contact_tasks = [t for t in open_tasks(orc, started.id) if t.element_id == "kontakt"]
    assert len(contact_tasks) == 3
    from orchestrator.services import tasks
    for number, task in enumerate(contact_tasks):
        tasks.complete(orc, task.id, {"tjeneste": {"kontaktperson": f"Person {number}"}}, staff["ty"])
    assert open_elements(orc, started.id) == ["oppsummer"]
    data = instances.get(orc, started.id, SYSTEM).data
    assert sorted(s["navn"] for s in data["tjenester"]) == ["Barnevern", "NAV", "Skole"]
    assert sorted(s["kontaktperson"] for s in data["tjenester"]) == ["Person 0", "Person 1", "Person 2"]


@pytest.mark.parametrize("alder,venter,expected", [(10, False, "barn"), (40, True, "barn"), (40, False, "voksen")])
def test_business_rule_task_decides_by_dmn_table(orc, deploy, staff, alder, venter, expected):
    deploy(*diagrams.business_rule())
    started = instances.start(orc, "test_dmn", staff["ke"], "SAK-ENGINE-PATHS-70", data={"alder": alder, "venter_barn": venter})
    assert open_elements(orc, started.id) == [expected]


def test_date_duration_and_cycle_timers_fire_in_turn(orc, deploy, staff, clock):
    deploy(*diagrams.timers())
    started = instances.start(orc, "test_tidtakere", staff["ty"], "SAK-ENGINE-PATHS-76")
    detail = instances.get(orc, started.id, SYSTEM)
    assert [t["element_id"] for t in detail.timers] == ["dato"]
    assert detail.next_timer_at.isoformat() == "2027-02-01T08:00:00+00:00"

    clock.set(detail.next_timer_at - timedelta(seconds=1))
    assert timers.fire_due(orc) == []
    clock.set(detail.next_timer_at + timedelta(seconds=1))
    assert [f.elements for f in timers.fire_due(orc)] == [["dato"]]
    waiting = instances.get(orc, started.id, SYSTEM).timers
    assert waiting[0]["element_id"] == "varighet"
    assert waiting[0]["due_at"] == clock.now() + timedelta(days=14)

    clock.advance(timedelta(days=14, seconds=1))
    timers.fire_due(orc)
    assert open_elements(orc, started.id) == ["arbeid"]
    reminder = instances.get(orc, started.id, SYSTEM).timers
    assert [t["element_id"] for t in reminder] == ["paminn"]
    assert reminder[0]["due_at"] == clock.now() + timedelta(hours=1)


def test_cycle_timer_that_missed_periods_catches_up_once_per_period(orc, deploy, staff, clock):
    deploy(*diagrams.timers(date_expr="2027-01-04T09:00:00+01:00", duration="PT1M", cycle="R3/PT1H"))
    started = instances.start(orc, "test_tidtakere", staff["ty"], "SAK-ENGINE-PATHS-99")
    clock.advance(timedelta(minutes=1))
    timers.fire_due(orc)
    clock.advance(timedelta(minutes=2))
    timers.fire_due(orc)
    assert open_elements(orc, started.id) == ["arbeid"]
    clock.advance(timedelta(hours=5))  # the worker was down: three periods missed, only three allowed
    timers.fire_due(orc)
    assert open_elements(orc, started.id) == ["arbeid", "purring", "purring", "purring"]
    assert instances.get(orc, started.id, SYSTEM).next_timer_at is None


def test_interrupting_boundary_timer_takes_the_task_away(orc, deploy, staff, clock):
    deploy(*diagrams.boundary_timers())
    started = instances.start(orc, "test_grense", staff["ty"], "SAK-ENGINE-PATHS-113")
    [task] = open_tasks(orc, started.id)
    assert task.due_at == clock.now() + timedelta(days=14)
    clock.advance(timedelta(days=14, seconds=1))
    timers.fire_due(orc)
    assert open_elements(orc, started.id) == ["for_sent"]


def test_non_interrupting_boundary_timer_escalates_and_leaves_the_task(orc, deploy, staff, clock):
    deploy(*diagrams.boundary_timers())
    started = instances.start(orc, "test_grense", staff["ty"], "SAK-ENGINE-PATHS-123")
    complete(orc, started.id, "svar", staff["ty"])
    clock.advance(timedelta(days=7, seconds=1))
    timers.fire_due(orc)
    assert open_elements(orc, started.id) == ["behandle", "varslet"]
    complete(orc, started.id, "behandle", staff["ty"])
    complete(orc, started.id, "varslet", staff["leder"])
    assert status(orc, started.id) == "completed"


def test_message_start_event_starts_an_instance_for_the_business_key(orc, deploy, staff):
    deploy(*diagrams.messages())
    [delivery] = messages.send(orc, "test_melding", "SAK-7", {"tekst": "hei"}, staff["ke"])
    assert delivery.started
    detail = instances.get(orc, delivery.instance_id, SYSTEM)
    assert (detail.process_key, detail.business_key, detail.data["tekst"]) == ("test_mottak", "SAK-7", "hei")


def test_message_catch_is_delivered_to_the_waiting_instance_with_the_same_business_key(orc, deploy, staff):
    deploy(*diagrams.messages())
    [first] = messages.send(orc, "test_melding", "SAK-1", {}, staff["ke"])
    [second] = messages.send(orc, "test_melding", "SAK-2", {}, staff["ke"])
    for delivery in (first, second):
        complete(orc, delivery.instance_id, "behandle", staff["ke"])
    [answer] = messages.send(orc, "test_svar", "SAK-2", {"svar": "ok"}, staff["ke"])
    assert (answer.instance_id, answer.started) == (second.instance_id, False)
    assert open_elements(orc, second.instance_id) == ["etter_svar"]
    assert open_elements(orc, first.instance_id) == []
    assert instances.get(orc, second.instance_id, SYSTEM).data["svar"] == "ok"


def test_message_thrown_by_one_instance_starts_another_for_the_same_case(orc, deploy, staff):
    deploy(*diagrams.messages())
    sender = instances.start(orc, "test_avsender", staff["ty"], business_key="SAK-9")
    complete(orc, sender.id, "skriv", staff["ty"], {"tekst": "melding til KE"})
    [receiver] = instances.list_instances(orc, SYSTEM, process_key="test_mottak").items
    assert receiver.business_key == "SAK-9"
    assert instances.get(orc, receiver.id, SYSTEM).data == {"tekst": "melding til KE", "saksnummer": "SAK-9"}


def test_unknown_or_unmatched_message_is_a_clear_error(orc, deploy, staff):
    deploy(*diagrams.messages())
    with pytest.raises(NotFound, match="ingen prosess starter på den"):
        messages.send(orc, "finnes_ikke", "SAK-1", {}, staff["ke"])
    with pytest.raises(NotFound, match="venter på meldingen «test_svar»"):
        messages.send(orc, "test_svar", "SAK-404", {}, staff["ke"])
