"""Lund kommune's oppstart routine (seed 004 § 7, 13 steps), consent (002 § 17) and ending (§ 10)."""
from __future__ import annotations

import pytest

from routines import (  # noqa: F401
    CONSENT, KARTLEGGING, appoint, data, do, evaluation_opens, instance_of, open_elements, people, plan_case, seeded,
    send, start_oppstart, to_plan,
)
from helpers import open_tasks
from orchestrator.services import cases, instances, samtykke
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid, NotFound

IP_PLAN = {"mal_ressurser_behov": "Mestre skolehverdagen.", "plandeltakere": "Skole, helsestasjon, foreldre.",
           "bidrag": "Foreldre følger opp lekser.", "tiltak": [{"tiltak": "Assistent", "omfang": "10 t/uke",
                                                                  "ansvarlig": "Skolen"}],
           "gjennomforing": "Ukentlig.", "planperiode_fra": "2027-02-01", "planperiode_til": "2027-12-31",
           "revisjon_dato": "2027-06-01", "evaluering_varsel_dager": 14, "samtykke_registrert": True,
           "samarbeid_med": "PPT"}


def _plans(orc, username):
    with orc.db.read() as session:
        return cases.active_plans(session, username)


def test_a_user_who_does_not_want_coordination_ends_after_being_informed(orc, seeded, people):
    started = start_oppstart(orc, people)
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "onske", people.kari, {"bruker_onsker_koordinering": "nei"})
    assert "informert_om_rettigheter" in refused.value.fields
    do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "nei"})
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed" and "slutt_onskes_ikke" in detail.completed_elements


def test_without_consent_no_coordinator_is_appointed(orc, seeded, people):
    started = start_oppstart(orc, people)
    do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                                "soknad_fra": "bruker", "soknad_dato": "2027-01-04"})
    do(orc, started.id, "samtale", people.kari, {"samtale_dato": "2027-01-05", "oppsummering_samtale": "Vil tenke.",
                                                  "samtykke_gitt": "nei"})
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed" and "slutt_uten_samtykke" in detail.completed_elements
    assert "koordinator_kall" not in detail.completed_elements


def test_consent_records_what_it_covers_and_with_whom(orc, seeded, people):
    started = start_oppstart(orc, people)
    do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                                "soknad_fra": "bruker", "soknad_dato": "2027-01-04"})
    incomplete = {k: v for k, v in CONSENT.items() if k not in ("samtykke_omfatter", "deles_med")}
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "samtale", people.kari, incomplete)
    assert set(refused.value.fields) == {"samtykke_omfatter", "deles_med"}
    do(orc, started.id, "samtale", people.kari, CONSENT)
    # recorded for the whole case (the consent register), not only in this instance's data
    consent = samtykke.view(orc, "SAK-1", people.kari)
    assert consent.status == "gitt" and (consent.gitt_dato, consent.gitt_av, consent.form) == (
        "2027-01-05", "foresatte", "skriftlig")
    assert {c["key"] for c in consent.omfatter} == {
        "koordinator", "individuell_plan", "ansvarsgruppe", "informasjonsutveksling"}
    assert {s["key"] for s in consent.deles_med} == set(CONSENT["deles_med"])
    assert consent.registrert_av == "kari" and [h["handling"] for h in consent.historikk] == ["gitt"]


def test_the_whole_routine_with_an_individual_plan_runs_all_13_steps(orc, seeded, people, clock):
    started = start_oppstart(orc, people, "SAK-2027-1")
    appoint(orc, started.id, people, koordinator="kora")
    assert open_elements(orc, started.id) == ["oppstartsamtale"]
    [task] = open_tasks(orc, started.id)
    assert (task.role, task.assignee) == ("koordinator", "kora")  # the case's appointed coordinator
    to_plan(orc, started.id, people.kora, "ip")
    # step 9 started the ansvarsgruppe for the same case; the plan counts against kora's limit
    group = instance_of(orc, "ansvarsgruppe", "SAK-2027-1")
    assert open_elements(orc, group.id) == ["opprettelse"]
    assert _plans(orc, "kora") == 1
    do(orc, started.id, "plan", people.kora, IP_PLAN)
    do(orc, started.id, "koordinere", people.kora, {"oppfolging_status": "Tiltak i gang."})
    evaluation_opens(orc, clock, started.id)
    do(orc, started.id, "evaluere", people.kora, {"evaluering": "Delvis nådd.", "videre_koordinering": "ja"})
    assert open_elements(orc, started.id) == ["plan"]  # steps 10–13 loop while coordination is needed
    do(orc, started.id, "plan", people.kora, IP_PLAN)
    do(orc, started.id, "koordinere", people.kora, {"oppfolging_status": "Godt i gang."})
    evaluation_opens(orc, clock, started.id)
    do(orc, started.id, "evaluere", people.kora, {"evaluering": "Mål nådd.", "videre_koordinering": "nei"})
    with pytest.raises(Invalid):
        do(orc, started.id, "avslutning", people.kora, {})
    do(orc, started.id, "avslutning", people.kora, {"avslutningsgrunn": "behov_opphort"})
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed" and detail.data["avslutningsgrunn"] == "behov_opphort"
    steps = ["onske", "samtale", "koordinator_kall", "oppstartsamtale", "kartlegging", "verktoy", "opprett_ansvarsgruppe",
             "plan", "koordinere", "evaluere", "avslutning"]
    assert all(step in detail.completed_elements for step in steps)
    assert _plans(orc, "kora") == 0  # an ended plan no longer counts


def test_mapping_children_as_next_of_kin_is_a_required_part_of_kartlegging(orc, seeded, people):
    started = start_oppstart(orc, people)
    appoint(orc, started.id, people)
    do(orc, started.id, "oppstartsamtale", people.kora, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "x"})
    without = {k: v for k, v in KARTLEGGING.items() if k not in ("barn_som_parorende", "barn")}
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "kartlegging", people.kora, without)
    assert "barn_som_parorende" in refused.value.fields
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "kartlegging", people.kora, {**without, "barn_som_parorende": "ja"})
    assert refused.value.fields == {"barn": ["Legg til minst én rad."]}
    do(orc, started.id, "kartlegging", people.kora, KARTLEGGING)
    assert data(orc, started.id)["barn"][0] == {"relasjon": "sosken", "alder": 6, "oppfolging": "Informasjon tilpasset alder."}


def test_coordinator_tasks_belong_to_the_appointed_coordinator_only(orc, seeded, people):
    started = start_oppstart(orc, people)
    appoint(orc, started.id, people, koordinator="kora")
    with pytest.raises(NotFound):  # assigned to kora: to another coordinator as if it did not exist
        do(orc, started.id, "oppstartsamtale", people.kai, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "x"})
    mine = [t.element_id for t in instances_tasks(orc, people.kai)]
    assert "oppstartsamtale" not in mine


def instances_tasks(orc, actor):
    from orchestrator.services import tasks
    return tasks.list_tasks(orc, actor, scope="roles").items


def test_withdrawing_consent_at_any_point_ends_the_plan_work(orc, seeded, people):
    started = plan_case(orc, people, "SAK-3")
    do(orc, started.id, "plan", people.kora, IP_PLAN)
    assert _plans(orc, "kora") == 1
    with pytest.raises(Invalid) as refused:  # the person must be told what withdrawing means
        send(orc, "samtykke_trukket", "SAK-3", people.kari, {"samtykke_trukket_dato": "2027-02-01"})
    assert "informert_om_folger" in refused.value.fields
    send(orc, "samtykke_trukket", "SAK-3", people.kari,
         {"samtykke_trukket_dato": "2027-02-01", "informert_om_folger": True})
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed" and "samtykke_trukket_slutt" in detail.completed_elements
    assert "registrer_tilbaketrekking" in detail.completed_elements and detail.tasks == []
    assert _plans(orc, "kora") == 0
    consent = samtykke.view(orc, "SAK-3", people.kari)  # the diagram's path recorded it for the whole case
    assert (consent.status, consent.trukket_dato, consent.informert_om_folger) == ("trukket", "2027-02-01", True)


def test_withdrawal_before_a_coordinator_is_appointed_also_ends_the_work(orc, seeded, people):
    started = start_oppstart(orc, people, "SAK-4")
    do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                                "soknad_fra": "bruker", "soknad_dato": "2027-01-04"})
    do(orc, started.id, "samtale", people.kari, CONSENT)
    assert open_elements(orc, started.id) == ["onske"]  # inside the called 11.1 process
    samtykke.trekk_tilbake(orc, "SAK-4", {"dato": "2027-01-06", "informert_om_folger": True}, people.kari)
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "completed" and "samtykke_trukket_slutt" in detail.completed_elements
    assert open_elements(orc, started.id) == []


def test_the_coordinator_sees_their_whole_case_and_another_coordinator_nothing_of_it(orc, seeded, people):
    """Koordinator sees their cases (decision 0022): the whole case, also between their tasks."""
    started = plan_case(orc, people, "SAK-KV", coordinator="kora")
    seen = instances.get(orc, started.id, people.kora)
    assert seen.limited is False and seen.data["gjelder"]
    with pytest.raises(NotFound):
        instances.get(orc, started.id, people.kai)
    assert started.id in {i.id for i in instances.list_instances(orc, people.kora, per_page=200).items}
    assert started.id not in {i.id for i in instances.list_instances(orc, people.kai, per_page=200).items}
