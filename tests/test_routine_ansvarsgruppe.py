"""The ansvarsgruppe lifecycle (seed 004 11.4): innkalling 14 days ahead, referat, at least twice a year."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from routines import (  # noqa: F401
    GROUP_CONSENT, do, instance_of, notices, open_elements, people, plan_case, seeded, send,
)
from helpers import open_tasks, task_named
from orchestrator.engine.helpers import OSLO
from orchestrator.services import dashboard, instances, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid, NotFound

MEMBERS = [
    {"tittel": "Kontaktlærer", "tjeneste": "skole", "navn": "Tor Lærer", "adresse": "tor@skole.example"},
    {"tittel": "Helsesykepleier", "tjeneste": "helsestasjon", "navn": "Tina Helse", "adresse": "tina@kommune.example"},
    {"tittel": "Rådgiver NAV", "tjeneste": "nav", "navn": "Nils Nav", "adresse": "nils@nav.example"},
]


def oslo(moment: datetime) -> str:
    return moment.astimezone(OSLO).replace(microsecond=0).isoformat()


@pytest.fixture
def group(orc, seeded, people, clock):
    """SAK-1's ansvarsgruppe, started by step 9 of the oppstart routine; coordinator kora."""
    plan_case(orc, people, "SAK-1", coordinator="kora")
    return instance_of(orc, "ansvarsgruppe", "SAK-1")


def create(orc, group, people, clock, days_ahead=30, notice=14, **extra):
    meeting = clock.now().replace(hour=9, minute=0) + timedelta(days=days_ahead)
    do(orc, group.id, "opprettelse", people.kora, {"gjelder": "Ola N.", "faste_medlemmer": MEMBERS,
                                                    "varslingsfrist_dager": notice, "moetetid": oslo(meeting),
                                                    "sted": "Rådhuset, møterom 2", **extra})
    return meeting


def prepare(orc, group, people, **extra):
    do(orc, group.id, "forberede_innkalling", people.kora, {
        "saksliste": [{"punkt": "Status i skolen"}, {"punkt": "Avlastning"}], "tjenestemottaker_deltar": "ja", **extra})


def sent(orc, instance_id, message):
    """How many times the instance sent `message` (the audit log keeps only that, not the content)."""
    history = instances.get(orc, instance_id, SYSTEM).history
    return [h for h in history if h["action"] == "message_sent" and h["data"]["message"] == message]


def addresses(rows):
    return sorted(r["recipient"] for r in rows)


REFERAT_PUNKTER = [{"punkt": "Status i skolen", "beslutning": "Skolen fortsetter med tilpasset opplegg."},
                   {"punkt": "Avlastning", "beslutning": "Familien søker om avlastning."}]


def hold(orc, group, people, next_meeting=None, **extra):
    answer = {"moete_status": "gjennomfort", "faste_medlemmer": MEMBERS, "saksliste": REFERAT_PUNKTER,
              "beslutninger": [{"beslutning": "Assistent i 10 timer"}],
              "ansvarsfordeling": [{"oppgave": "Søke avlastning", "ansvarlig": "Tina Helse", "frist": "2027-03-01"}],
              "tjenestemottaker_svar": "ikke_aktuelt", "beslutninger_bekreftet": True}
    if next_meeting is not None:
        answer |= {"videre": "fortsette", "neste_moetetid": oslo(next_meeting)}
    else:
        answer |= {"videre": "opplose"}
    if not any(t.element_id == "moete" for t in open_tasks(orc, group.id)):
        raise AssertionError(f"no meeting task: {open_elements(orc, group.id)}")
    do(orc, group.id, "moete", people.kora, answer | extra)


FIRST = {"gruppeleder": "kora", "mal": "Trygg skolehverdag."}


def innkalling_due(orc, group):
    [timer] = [t for t in instances.get(orc, group.id, SYSTEM).timers if t["element_id"] == "innkallingsfrist"]
    return timer["due_at"]


def meet(orc, group, clock, meeting):
    """The innkalling leaves at its deadline (D−14 on the calendar); then the meeting is held, two hours in."""
    clock.set(innkalling_due(orc, group))
    timers.fire_due(orc)
    clock.set(meeting + timedelta(hours=2))
    timers.fire_due(orc)


def test_the_innkalling_is_sent_14_days_before_the_meeting_with_the_required_contents(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    guest = {"tittel": "Spesialpedagog PPT", "tjeneste": "ppt", "navn": "Pia PPT", "adresse": "pia@ppt.example"}
    prepare(orc, group, people, ekstra_innkalte=[guest])
    [timer] = [t for t in instances.get(orc, group.id, SYSTEM).timers if t["element_id"] == "innkallingsfrist"]
    assert timer["due_at"] == meeting - timedelta(days=14)
    clock.set(timer["due_at"] - timedelta(seconds=1))
    timers.fire_due(orc)
    assert sent(orc, group.id, "innkalling") == []
    clock.set(timer["due_at"] + timedelta(seconds=1))
    timers.fire_due(orc)
    assert len(sent(orc, group.id, "innkalling")) == 1
    rows = notices(orc, group.id, "innkalling")
    assert addresses(rows) == sorted(m["adresse"] for m in MEMBERS + [guest])  # one e-mail per participant
    first = rows[0]
    assert (first["meeting_at"], first["place"]) == (meeting, "Rådhuset, møterom 2")  # time and place
    for expected in ["Ola N.", "Status i skolen", "Avlastning", "Kontaktlærer", "Tor Lærer", "tor@skole.example"]:
        assert expected in first["text"]  # whom it concerns, the agenda, participants with title/name/address
    assert open_elements(orc, group.id) == ["moete"]


def test_a_meeting_date_that_leaves_less_than_the_notice_period_is_refused(orc, group, people, clock):
    with pytest.raises(Invalid) as refused:
        create(orc, group, people, clock, days_ahead=10)
    [message] = refused.value.fields["moetetid"]
    assert "minst 14 dager fram i tid" in message and "Tidligste tidspunkt er" in message


def test_the_notice_period_is_configurable_but_never_below_14_days(orc, group, people, clock):
    with pytest.raises(Invalid) as refused:
        create(orc, group, people, clock, days_ahead=30, notice=7)
    assert "varslingsfrist_dager" in refused.value.fields
    with pytest.raises(Invalid):
        create(orc, group, people, clock, days_ahead=20, notice=21)
    meeting = create(orc, group, people, clock, days_ahead=30, notice=21)
    prepare(orc, group, people)
    [timer] = [t for t in instances.get(orc, group.id, SYSTEM).timers if t["element_id"] == "innkallingsfrist"]
    assert timer["due_at"] == meeting - timedelta(days=21)


def test_a_late_innkalling_escalates_to_the_leader_and_goes_out_once_prepared(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare_task = task_named(orc, group.id, "forberede_innkalling")
    assert prepare_task.due_at == meeting - timedelta(days=14)
    clock.set(meeting - timedelta(days=14) + timedelta(seconds=1))
    timers.fire_due(orc)
    escalation = task_named(orc, group.id, "eskalering_innkalling_forsinket")
    assert escalation.role == "leder"
    assert sent(orc, group.id, "innkalling") == []
    overdue = dashboard.overview(orc, people.kari)
    assert [i.task_id for i in overdue.innkallinger_overdue] == [prepare_task.id]
    with pytest.raises(NotFound):  # the leader's task: to the coordinator as if it did not exist
        do(orc, group.id, "eskalering_innkalling_forsinket", people.kora, {"eskalering_tiltak": "x"})
    do(orc, group.id, "eskalering_innkalling_forsinket", people.lars, {"eskalering_tiltak": "Purret på koordinator."})
    clock.advance(timedelta(days=1))
    prepare(orc, group, people)
    assert len(sent(orc, group.id, "innkalling")) == 1
    assert addresses(notices(orc, group.id, "innkalling")) == sorted(m["adresse"] for m in MEMBERS)


def test_a_meeting_cannot_be_reported_held_before_it_happens(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(meeting - timedelta(days=13))
    timers.fire_due(orc)
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, **FIRST)
    assert "ikke holdt ennå" in refused.value.fields["moete_status"][0]


def test_the_first_meeting_decides_members_leader_goals_and_who_does_what(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    meet(orc, group, clock, meeting)
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people)
    assert {"gruppeleder", "mal"} <= set(refused.value.fields)
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, gruppeleder="ukjent", mal="x")
    assert "ukjent" in refused.value.fields["gruppeleder"][0]
    with pytest.raises(Invalid) as refused:  # the minute-taker confirms; the person's answer is recorded
        hold(orc, group, people, beslutninger_bekreftet=None, tjenestemottaker_svar=None, **FIRST)
    assert {"beslutninger_bekreftet", "tjenestemottaker_svar"} <= set(refused.value.fields)
    hold(orc, group, people, next_meeting=meeting + timedelta(days=90), **FIRST)
    recorded = instances.get(orc, group.id, SYSTEM).data
    assert (recorded["gruppeleder"], recorded["mal"]) == ("kora", "Trygg skolehverdag.")
    assert recorded["ansvarsfordeling"][0]["ansvarlig"] == "Tina Helse"


def test_the_referat_records_decisions_responsibility_and_disagreement_and_who_receives_it(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    meet(orc, group, clock, meeting)
    guest = {"tittel": "Fysioterapeut", "tjeneste": "habilitering", "navn": "Frida Fysio",
             "adresse": "frida@kommune.example"}
    hold(orc, group, people, next_meeting=meeting + timedelta(days=90), faglig_uenighet="Skolen er uenig om omfang.",
         referat_ekstra_mottakere=[guest], **FIRST)
    assert len(sent(orc, group.id, "referat")) == 1
    rows = notices(orc, group.id, "referat")
    assert addresses(rows) == sorted(m["adresse"] for m in MEMBERS + [guest])
    text = rows[0]["text"]
    for expected in ["Assistent i 10 timer", "Søke avlastning", "Tina Helse", "Skolen er uenig om omfang."]:
        assert expected in text  # decisions, division of responsibility, disagreement
    recorded = instances.get(orc, group.id, SYSTEM).data
    assert recorded["neste_moetetid"] == oslo(meeting + timedelta(days=90))
    assert open_elements(orc, group.id) == ["forberede_innkalling"]  # the next cycle has begun


def test_the_next_meeting_is_agreed_at_the_meeting_within_six_months(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    meet(orc, group, clock, meeting)
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, next_meeting=meeting + timedelta(days=200), **FIRST)
    assert "minst to ganger i året" in refused.value.fields["neste_moetetid"][0]
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, next_meeting=meeting + timedelta(days=5), **FIRST)
    assert "minst 14 dager" in refused.value.fields["neste_moetetid"][0]
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, **FIRST, videre="fortsette")
    assert "neste_moetetid" in refused.value.fields


def test_six_months_without_a_meeting_escalates_to_the_leader_and_ke(orc, group, people, clock):
    create(orc, group, people, clock)
    prepare(orc, group, people)
    for _ in range(3):  # the meeting keeps being moved
        clock.advance(timedelta(days=25))
        timers.fire_due(orc)
        moved = clock.now().replace(hour=9, minute=0) + timedelta(days=40)
        do(orc, group.id, "moete", people.kora, {"moete_status": "flyttet", "moetetid": oslo(moved), "sted": "Rådhuset"})
    clock.advance(timedelta(days=110))
    timers.fire_due(orc)
    roles = sorted(t.role for t in open_tasks(orc, group.id) if t.element_id.startswith("eskalering_seks_maaneder"))
    assert roles == ["koordinerende_enhet", "leder"]
    overview = dashboard.overview(orc, people.kari)
    assert {i.instance_id for i in overview.groups_without_meeting} == {group.id}


def test_a_moved_meeting_sends_a_changed_innkalling(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(meeting - timedelta(days=14) + timedelta(seconds=1))
    timers.fire_due(orc)
    moved = meeting + timedelta(days=7)
    with pytest.raises(Invalid):
        do(orc, group.id, "moete", people.kora, {"moete_status": "flyttet", "moetetid": oslo(meeting - timedelta(days=7)),
                                                  "sted": "Skolen"})
    do(orc, group.id, "moete", people.kora, {"moete_status": "flyttet", "moetetid": oslo(moved), "sted": "Skolen"})
    assert len(sent(orc, group.id, "innkalling_endret")) == 1
    original, changed = notices(orc, group.id, "innkalling")[0], notices(orc, group.id, "innkalling_endret")[0]
    assert (changed["meeting_at"], changed["place"]) == (moved, "Skolen")
    assert changed["uid"] == original["uid"] and changed["sequence"] > original["sequence"]  # the same meeting
    assert len(sent(orc, group.id, "innkalling")) == 1  # a later step does not send it again
    assert task_named(orc, group.id, "moete").due_at == moved


def test_a_cancelled_meeting_sends_a_cancellation_and_a_new_meeting_is_agreed(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(meeting - timedelta(days=14) + timedelta(seconds=1))
    timers.fire_due(orc)
    do(orc, group.id, "moete", people.kora, {"moete_status": "avlyst"})
    cancelled = notices(orc, group.id, "moete_avlyst")
    assert {c["method"] for c in cancelled} == {"CANCEL"}
    assert {c["uid"] for c in cancelled} == {notices(orc, group.id, "innkalling")[0]["uid"]}
    new_time = clock.now().replace(hour=9, minute=0) + timedelta(days=21)
    do(orc, group.id, "nytt_moete", people.kora, {"moetetid": oslo(new_time), "sted": "Rådhuset"})
    assert open_elements(orc, group.id) == ["forberede_innkalling"]
    assert instances.get(orc, group.id, SYSTEM).data["moete_id"] == "m2"  # a new meeting, a new calendar entry


def test_when_the_person_cannot_attend_two_members_meet_them_before_and_after(orc, group, people, clock):
    create(orc, group, people, clock)
    with pytest.raises(Invalid) as refused:
        prepare(orc, group, people, tjenestemottaker_deltar="nei")
    assert "formoete_medlemmer" in refused.value.fields
    prepare(orc, group, people, tjenestemottaker_deltar="nei", formoete_medlemmer="Tor Lærer og Tina Helse")
    assert instances.get(orc, group.id, SYSTEM).data["formoete_medlemmer"] == "Tor Lærer og Tina Helse"


def test_the_group_is_dissolved_after_a_joint_evaluation(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    meet(orc, group, clock, meeting)
    hold(orc, group, people, **FIRST)
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "felles_evaluering"})
    detail = instances.get(orc, group.id, SYSTEM)
    assert detail.status == "completed" and detail.data["opplosning_grunn"] == "felles_evaluering"


def test_when_the_person_no_longer_wants_the_group_consent_for_cooperation_meetings_is_recorded(orc, group, people, clock):
    create(orc, group, people, clock)
    send(orc, "ansvarsgruppe_onskes_ikke", "SAK-1", people.kari)
    assert open_elements(orc, group.id) == ["opplosning"]  # the meeting cycle was interrupted
    with pytest.raises(Invalid) as refused:
        do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "onsker_ikke", "fortsatt_behov_for_samarbeid": "ja"})
    assert "samtykke_tverrfaglige_moeter" in refused.value.fields
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "onsker_ikke", "fortsatt_behov_for_samarbeid": "ja",
                                                   "samtykke_tverrfaglige_moeter": "ja"})
    detail = instances.get(orc, group.id, SYSTEM)
    assert detail.status == "completed" and detail.data["samtykke_tverrfaglige_moeter"] == "ja"
    assert detail.timers == []


def test_a_dissolved_group_can_be_re_established_for_the_same_case(orc, group, people, clock):
    create(orc, group, people, clock)
    send(orc, "ansvarsgruppe_onskes_ikke", "SAK-1", people.kari)
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "onsker_ikke", "fortsatt_behov_for_samarbeid": "nei"})
    again = instances.start(orc, "ansvarsgruppe", people.kora, business_key="SAK-1",
                            data={"gjelder": "Ola N.", "gjenoppretting": True, "samtykke": {"kilde": "saken"}})
    both = instances.list_instances(orc, SYSTEM, process_key="ansvarsgruppe", business_key="SAK-1").items
    assert sorted(i.status for i in both) == ["completed", "running"]
    assert open_tasks(orc, again.id)[0].assignee == "kora"


def test_group_tasks_go_to_the_group_leader_when_the_case_has_no_coordinator(orc, seeded, people, clock):
    group = instances.start(orc, "ansvarsgruppe", people.kora, business_key="SAK-UTEN-IP",
                            data={"gjelder": "Per P.", "samtykke": GROUP_CONSENT})
    [first] = open_tasks(orc, group.id)
    assert first.assignee is None  # no coordinator yet: the koordinator queue
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    meet(orc, group, clock, meeting)
    hold(orc, group, people, next_meeting=meeting + timedelta(days=60), gruppeleder="kai", mal="Mål")
    assert task_named(orc, group.id, "forberede_innkalling").assignee == "kai"


def test_instance_state_stays_bounded_over_many_meeting_cycles(orc, group, people, clock):
    from orchestrator.store.models import Instance

    def state_size():
        with orc.db.read() as session:
            return len(session.get(Instance, group.id).state)

    meeting = create(orc, group, people, clock)
    sizes = []
    for cycle in range(6):
        prepare(orc, group, people)
        meet(orc, group, clock, meeting)
        meeting_next = meeting + timedelta(days=60)
        hold(orc, group, people, next_meeting=meeting_next, **FIRST)
        meeting = meeting_next
        sizes.append(state_size())
    assert sizes[-1] <= sizes[1] * 1.1, sizes  # finished cycles are compacted away
    detail = instances.get(orc, group.id, SYSTEM)
    assert "opprettelse" in detail.completed_elements  # the trail still shows what was walked
    assert len(sent(orc, group.id, "referat")) == 6
