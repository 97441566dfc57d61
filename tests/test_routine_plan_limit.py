"""The five-plan limit (seed 004 § 6) is an invariant, kept wherever a plan comes to a coordinator.

«Tjenesteytere kan ikke pålegges å ha koordinatoransvar for mer enn 5 individuelle planer.» A plan comes to a
coordinator when they are appointed (11.1, or as barnekoordinator), when IP is chosen at trinn 8, when the
coordinator changes (11.2) and when a stopped case is taken up again. At each point the routine asks the coordinator themselves, and the case
register refuses without their recorded acceptance. The stateful test at the end drives random sequences of these
actions over several coordinators and cases through the service layer and checks the invariant after every step.
"""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from routines import (  # noqa: F401  (fixtures)
    BARNEKOORDINATOR_CONSENT, CONSENT, WISH, do, people, plan_case, seeded, send, start_oppstart,
)
from helpers import open_elements, open_tasks, task_named
from orchestrator.services import cases, instances, runtime, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Conflict, Invalid, ServiceError, StepFailed
from orchestrator.store.models import Case, Instance

ASKED = {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja", "soknad_fra": "bruker",
         "soknad_dato": "2027-01-04"}
KARTLEGGING = {"oppstartmote_dato": "2027-01-20", "situasjon": "Går i 3. klasse.", "ressurser": "Foreldre.",
               "mal": "Trives.", "behov": "Tilrettelegging.", "barn_som_parorende": "nei"}


def _plans(orc, username):
    with orc.db.read() as session:
        return cases.active_plans(session, username)


def _case(orc, business_key):
    with orc.db.read() as session:
        return session.get(Case, business_key)


def _appointed(orc, people, business_key, coordinator):
    """An oppstart case whose coordinator was appointed (11.1) while the tool is not chosen yet (trinn 6)."""
    started = start_oppstart(orc, people, business_key)
    do(orc, started.id, "onske", people.kari, ASKED)
    do(orc, started.id, "samtale", people.kari, CONSENT)
    do(orc, started.id, "onske", people.kari, {**WISH, "koordinator": coordinator})
    return started


def _to_trinn_8(orc, case_id, coordinator, verktoy):
    do(orc, case_id, "oppstartsamtale", coordinator, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "x"})
    do(orc, case_id, "kartlegging", coordinator, KARTLEGGING)
    do(orc, case_id, "verktoy", coordinator, {"verktoy": verktoy, "verktoy_begrunnelse": "Flere tjenester."})


@pytest.fixture
def kora_at_four_with_two_more_appointed(orc, seeded, people):
    """The issue's case: appointments pass while kora has four plans, and IP is chosen for both later."""
    for number in range(4):
        plan_case(orc, people, f"PLAN-{number}", coordinator="kora")
    first = _appointed(orc, people, "SAK-A", "kora")
    second = _appointed(orc, people, "SAK-B", "kora")
    _to_trinn_8(orc, first.id, people.kora, "ip")
    assert _plans(orc, "kora") == 5  # four before: no question for the fifth
    return second


def test_choosing_ip_at_trinn_8_asks_a_coordinator_who_already_has_five(orc, people, kora_at_four_with_two_more_appointed):
    case = kora_at_four_with_two_more_appointed
    _to_trinn_8(orc, case.id, people.kora, "ip")
    [task] = open_tasks(orc, case.id)
    assert (task.element_id, task.assignee) == ("ip_aksept", "kora")  # she decides, nobody else
    assert _plans(orc, "kora") == 5  # not yet hers
    do(orc, case.id, "ip_aksept", people.kora, {"godtar_ip_over_grense": "ja"})
    assert _plans(orc, "kora") == 6
    recorded = _case(orc, "SAK-B")
    assert (recorded.planverktoy, recorded.koordinator_accepted_over_limit) == ("ip", True)
    [registered] = [h for h in instances.get(orc, case.id, SYSTEM).history if h["action"] == "planverktoy_registrert"]
    assert registered["data"] == {"verktoy": "ip", "koordinator": "kora", "aktive_planer_for": 5,
                                  "godtatt_over_grense": True}


def test_a_coordinator_who_declines_a_sixth_plan_is_not_given_it(orc, people, kora_at_four_with_two_more_appointed):
    case = kora_at_four_with_two_more_appointed
    _to_trinn_8(orc, case.id, people.kora, "ip")
    do(orc, case.id, "ip_aksept", people.kora, {"godtar_ip_over_grense": "nei"})
    assert open_elements(orc, case.id) == ["verktoy"]  # back to trinn 8: a change of coordinator, or referat
    assert _plans(orc, "kora") == 5 and _case(orc, "SAK-B").planverktoy is None


def test_after_a_declined_sixth_plan_a_new_coordinator_takes_trinn_8(orc, people, kora_at_four_with_two_more_appointed):
    case = kora_at_four_with_two_more_appointed
    _to_trinn_8(orc, case.id, people.kora, "ip")
    do(orc, case.id, "ip_aksept", people.kora, {"godtar_ip_over_grense": "nei"})
    change = instances.start(orc, "skifte_av_koordinator", people.kora, business_key="SAK-B",
                             data={"skifte_arsak": "Har fem planer."})
    do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "ja"})
    do(orc, change.id, "planeier", people.kora, {"planeier_kontaktet": "2027-02-01"})
    do(orc, change.id, "deltakere", people.kora, {"noen_tar_over": "ja", "ny_koordinator": "kai"})
    do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "ja"})
    do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True})
    assert task_named(orc, case.id, "verktoy").assignee == "kai"  # trinn 8 followed the role
    do(orc, case.id, "verktoy", people.kai, {"verktoy": "ip", "verktoy_begrunnelse": "Personen ønsker IP."})
    assert open_elements(orc, case.id) == ["plan"] and (_plans(orc, "kai"), _plans(orc, "kora")) == (1, 5)


def test_the_register_refuses_a_plan_over_the_limit_without_the_coordinators_own_acceptance(
        orc, people, kora_at_four_with_two_more_appointed):
    with orc.db.read() as session:
        with pytest.raises(StepFailed) as refused:
            cases.within_plan_limit(session, "kora", "SAK-B", accepted=False)
        assert "kora" in refused.value.message and "5 aktive individuelle planer" in refused.value.message
        assert cases.within_plan_limit(session, "kora", "SAK-B", accepted=True) == (5, True)
        assert cases.within_plan_limit(session, "kora", "SAK-A", accepted=False) == (4, False)  # her fifth


def test_a_plan_stopped_on_an_incident_still_counts_so_taking_it_up_again_carries_nobody_over(orc, seeded, people):
    stopped = [plan_case(orc, people, f"PLAN-{number}", coordinator="kora") for number in range(5)][0]
    with orc.write() as session:
        runtime.fail(orc, session, stopped.id, "Testfeil: e-posttjeneren svarte ikke.", SYSTEM)
    assert _plans(orc, "kora") == 5  # the person still has the plan
    started = start_oppstart(orc, people, "SAK-NY")
    do(orc, started.id, "onske", people.kari, ASKED)
    do(orc, started.id, "samtale", people.kari, CONSENT)
    with pytest.raises(Invalid):
        do(orc, started.id, "onske", people.kari, {**WISH, "koordinator": "kora"})
    instances.resume(orc, stopped.id, SYSTEM)
    assert _plans(orc, "kora") == 5


# --- the invariant, over random sequences of the routines' actions -------------------------------------------


def unaccepted_plans(orc) -> dict[str, int]:
    """Per coordinator: active individual plans (oppstart running or stopped on an incident) that they did not
    accept over the limit themselves. Read from the tables, not through services.cases."""
    with orc.db.read() as session:
        rows = session.execute(
            select(Case.koordinator, Case.koordinator_accepted_over_limit)
            .join(Instance, Instance.id == Case.plan_instance_id)
            .where(Case.planverktoy == "ip", Case.koordinator.is_not(None), Instance.status.in_(("running", "error"))))
        counts: dict[str, int] = {}
        for coordinator, accepted in rows:
            if not accepted:
                counts[coordinator] = counts.get(coordinator, 0) + 1
        return counts


EXAMPLES = itertools.count()
REFUSED = (Invalid, StepFailed, Conflict)


def machine_for(orc, people):
    class PlanLimitMachine(RuleBasedStateMachine):
        """Coordinators and cases; the routines' actions in any order; no more than five unaccepted plans."""

        def __init__(self):
            super().__init__()
            self.example = next(EXAMPLES)
            self.serial = itertools.count()
            self.coordinators: list[str] = []
            self.running: dict[str, int] = {}  # business key -> oppstart instance, plan work under way
            self.stopped: dict[str, int] = {}  # stopped on an incident

        def actor(self, username):
            return users.actor_for(orc, username)

        def key(self) -> str:
            return f"E{self.example}-{next(self.serial)}"

        def open(self, business_key) -> list[str]:
            return open_elements(orc, self.running[business_key])

        def coordinator_of(self, business_key):
            with orc.db.read() as session:
                return cases.coordinator_of(session, business_key)

        @initialize(loads=st.lists(st.integers(3, 5), min_size=2, max_size=2))
        def coordinators_with_plans(self, loads):
            for number, load in enumerate(loads):
                username = f"k{self.example}x{number}"
                users.add(orc, username, ["koordinator", "tjenesteyter"], None)
                self.coordinators.append(username)
                for _ in range(load):
                    key = self.key()
                    self.running[key] = _appointed(orc, people, key, username).id
                    _to_trinn_8(orc, self.running[key], self.actor(username), "ip")

        @rule(data=st.data(), new_cases=st.integers(1, 3), accepts=st.booleans())
        def appoint_a_coordinator(self, data, new_cases, accepts):
            """11.1: new cases; KE appoints one coordinator to each; with five plans, the appointee is asked."""
            who = data.draw(st.sampled_from(self.coordinators))
            for _ in range(new_cases):
                key = self.key()
                started = start_oppstart(orc, people, key)
                self.running[key] = started.id
                do(orc, started.id, "onske", people.kari, ASKED)
                do(orc, started.id, "samtale", people.kari, CONSENT)
                try:
                    do(orc, started.id, "onske", people.kari, {**WISH, "koordinator": who})
                except Invalid:
                    do(orc, started.id, "onske", people.kari, {**WISH, "koordinator": who,
                                                                "koordinator_spor_om_aksept": True})
                    do(orc, started.id, "aksept", self.actor(who), {"godtar_flere_planer": "ja" if accepts else "nei"})

        @rule(data=st.data())
        def appoint_a_barnekoordinator(self, data):
            """Samarbeid: the family has the right and wants one; KE appoints; the plan routine starts with them."""
            who = data.draw(st.sampled_from(self.coordinators))
            key = self.key()
            check = instances.start(orc, "samarbeid", people.tina, business_key=key)
            do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja",
                                                     "tjenester": [{"tjeneste": "skole"}], "konklusjon_steg1": "Skolen."})
            do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
            do(orc, check.id, "steg3", people.tor, {"kontakt": {"kontakt_dato": "2027-01-06", "kontaktperson": "K",
                                                                  "samtykke_til_deling": "samtykke"}})
            do(orc, check.id, "barnekoordinator_vurdering", people.tina, {
                "vilkar_barn": "ja", "vilkar_alvorlig": "ja", "vilkar_langvarig": "ja", "vurdering_barnekoordinator": "x"})
            do(orc, check.id, "barnekoordinator_svar", people.kari, {
                "barnekoordinator_svar_dato": "2027-01-12", "informert_om_klage": True,
                "familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT})
            try:
                do(orc, check.id, "barnekoordinator_oppnevning", people.kari, {
                    "barnekoordinator": who, "familien_informert_om_barnekoordinator": True})
            except Invalid:
                return  # five plans already: KE must choose someone else
            started = instances.list_instances(orc, SYSTEM, process_key="oppstart", business_key=key).items[0]
            self.running[key] = started.id
            do(orc, started.id, "onske", people.kari, ASKED)
            do(orc, started.id, "samtale", people.kari, CONSENT)

        @rule(data=st.data())
        def choose_the_tools(self, data):
            """Trinn 6–8 in the cases waiting for it: IP or referat; with five plans, IP asks the coordinator."""
            for key in sorted(k for k in self.running if {"oppstartsamtale", "verktoy"} & set(self.open(k))):
                tool = data.draw(st.sampled_from(["ip", "ip", "ip", "referat"]))
                case_id, who = self.running[key], self.actor(self.coordinator_of(key))
                if "oppstartsamtale" in self.open(key):
                    do(orc, case_id, "oppstartsamtale", who, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "x"})
                    do(orc, case_id, "kartlegging", who, KARTLEGGING)
                try:
                    do(orc, case_id, "verktoy", who, {"verktoy": tool, "verktoy_begrunnelse": "Valgt sammen."})
                except REFUSED:
                    continue
                if "ip_aksept" in self.open(key):
                    accepts = data.draw(st.booleans())
                    do(orc, case_id, "ip_aksept", who, {"godtar_ip_over_grense": "ja" if accepts else "nei"})

        @rule(data=st.data(), accepts=st.booleans())
        def change_the_coordinator(self, data, accepts):
            """11.2 with a volunteer: the new coordinator clarifies with their manager and, over five, decides."""
            candidates = sorted(k for k in self.running if self.coordinator_of(k))
            if not candidates:
                return
            key = data.draw(st.sampled_from(candidates))
            current = self.coordinator_of(key)
            new = data.draw(st.sampled_from([c for c in self.coordinators if c != current] or self.coordinators))
            try:
                change = instances.start(orc, "skifte_av_koordinator", self.actor(current), business_key=key,
                                         data={"skifte_arsak": "Ny stilling."})
                do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "ja"})
                do(orc, change.id, "planeier", self.actor(current), {"planeier_kontaktet": "2027-02-01"})
                volunteer = {"noen_tar_over": "ja", "ny_koordinator": new}
                try:
                    do(orc, change.id, "deltakere", self.actor(current), volunteer)
                except Invalid:
                    do(orc, change.id, "deltakere", self.actor(current), {**volunteer, "ny_koordinator_spor_om_aksept": True})
                do(orc, change.id, "ny_koordinator_leder", self.actor(new),
                   {"leder_har_godkjent": "ja", "godtar_flere_planer": "ja" if accepts else "nei"})
                if "informere" in open_elements(orc, change.id):
                    do(orc, change.id, "informere", self.actor(current), {"planeier_informert": True,
                                                                           "lagt_til_i_planen": True})
            except REFUSED:
                return

        @rule(data=st.data(), how=st.sampled_from(["samtykke trukket", "hendelse"]))
        def a_plan_ends_or_stops(self, data, how):
            """The person withdraws consent (the plan ends and stops counting), or an incident stops the case."""
            if not self.running:
                return
            key = data.draw(st.sampled_from(sorted(self.running)))
            if how == "hendelse":
                with orc.write() as session:
                    runtime.fail(orc, session, self.running[key], "Testfeil.", SYSTEM)
                self.stopped[key] = self.running.pop(key)
                return
            # the withdrawal is recorded with the case's consent and ends its plan work (decision 0016)
            send(orc, "samtykke_trukket", key, people.kari,
                 {"samtykke_trukket_dato": "2027-02-01", "informert_om_folger": True})
            self.running.pop(key)

        @precondition(lambda self: bool(self.stopped))
        @rule(data=st.data())
        def the_case_is_taken_up_again(self, data):
            key = data.draw(st.sampled_from(sorted(self.stopped)))
            try:
                instances.resume(orc, self.stopped[key], SYSTEM)
            except ServiceError:
                return
            self.running[key] = self.stopped.pop(key)

        @invariant()
        def nobody_has_more_than_five_plans_they_did_not_accept(self):
            mine = {who: n for who, n in unaccepted_plans(orc).items() if who in self.coordinators}
            over = {who: n for who, n in mine.items() if n > cases.PLAN_LIMIT}
            assert over == {}, f"more than {cases.PLAN_LIMIT} active plans without their own acceptance: {over}"

    return PlanLimitMachine


# 12 examples of up to 25 steps each, starting from 3–5 plans per coordinator: about 15 s on SQLite. A fixed
# seed keeps CI repeatable. On the code before this change these settings fail it (an incident hid a plan from
# the count); without the incident rule they shrink to the case: four plans, two more appointments,
# IP chosen for both, six plans nobody was asked about.
PLAN_LIMIT_SETTINGS = settings(max_examples=12, stateful_step_count=25, deadline=None, database=None,
                               derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
def test_no_sequence_of_routine_actions_gives_anyone_more_than_five_plans_they_did_not_accept(orc, seeded, people):
    run_state_machine_as_test(machine_for(orc, people), settings=PLAN_LIMIT_SETTINGS)
