"""One round per step (issue 14 item 3): every error of a submission at once, and the next task of the
case goes to the person who just finished the previous one (unless they put it back)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from routines import do, instance_of, people, plan_case, seeded  # noqa: F401
from helpers import open_tasks, task_named
from test_routine_ansvarsgruppe import MEMBERS, oslo
from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Conflict, Invalid

pytest_plugins = ["webtools"]

STEG1 = {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": [{"tjeneste": "skole"}],
         "konklusjon_steg1": "Skolen er involvert."}


@pytest.fixture
def group(orc, seeded, people, clock):
    plan_case(orc, people, "SAK-1", coordinator="kora")
    return instance_of(orc, "ansvarsgruppe", "SAK-1")


def _too_soon_and_incomplete(clock, days_ahead=10) -> dict:
    """A meeting inside the 14-day notice period (a rule), no place (the form) and a bad address (the form)."""
    meeting = clock.now().replace(hour=9, minute=0) + timedelta(days=days_ahead)
    members = [dict(MEMBERS[0], adresse="ikke-en-adresse"), *MEMBERS[1:]]
    return {"gjelder": "Ola N.", "faste_medlemmer": members, "varslingsfrist_dager": 14, "moetetid": oslo(meeting)}


def test_the_14_day_rule_comes_back_together_with_the_form_errors(orc, group, people, clock):
    with pytest.raises(Invalid) as refused:
        do(orc, group.id, "opprettelse", people.kora, _too_soon_and_incomplete(clock))
    fields = refused.value.fields
    assert sorted(fields) == ["faste_medlemmer.0.adresse", "moetetid", "sted"]
    assert "minst 14 dager fram i tid" in fields["moetetid"][0]  # the rule, on a field that passed the form
    assert fields["sted"] == ["Feltet må fylles ut."]
    assert fields["faste_medlemmer.0.adresse"] == ["Ugyldig e-postadresse."]


def test_a_field_the_form_refuses_is_not_also_judged_by_its_rule(orc, group, people, clock):
    submission = {**_too_soon_and_incomplete(clock), "moetetid": "i morgen"}
    with pytest.raises(Invalid) as refused:
        do(orc, group.id, "opprettelse", people.kora, submission)
    assert refused.value.fields["moetetid"] == ["Ugyldig tidspunkt (skriv dd.mm.åååå tt:mm, for eksempel 24.03.2027 10:00)."]


def test_the_api_answers_422_with_every_field_error_and_the_page_shows_each_at_its_field(
        orc, group, people, clock, web):
    from orchestrator.services import users

    task = task_named(orc, group.id, "opprettelse")
    token = users.create_token(orc, "kora")
    answer = web.api("POST", f"/api/v1/tasks/{task.id}/complete", token, json={"data": _too_soon_and_incomplete(clock)})
    assert answer.status_code == 422
    assert sorted(answer.get_json()["errors"]) == ["faste_medlemmer.0.adresse", "moetetid", "sted"]

    web.login("kora")
    form = {"gjelder": "Ola N.", "varslingsfrist_dager": "14", "moetetid": "2027-01-10T09:00", "sted": ""}
    for n, member in enumerate(MEMBERS):
        form.update({f"faste_medlemmer.{n}.{k}": v for k, v in member.items()})
    page = web.post(f"/tasks/{task.id}", form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    for field, text in [("moetetid", "minst 14 dager fram i tid"), ("sted", "Feltet må fylles ut.")]:
        at_field = html[html.index(f'name="{field}"') - 1500:html.index(f'name="{field}"')]
        assert text in at_field, field  # each message sits with its own field


def test_the_next_step_of_the_check_is_claimed_for_whoever_finished_the_previous_one(orc, seeded, people):
    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-10")
    [steg1] = open_tasks(orc, check.id)
    done = tasks.complete(orc, steg1.id, STEG1, people.tina)
    assert (done.continues_with.element_id, done.continues_with.assignee) == ("steg2", "tina")
    assert done.continues_with.claimed_by == "tina" and done.continues_with.claimed_at is not None
    [steg2] = open_tasks(orc, check.id)
    assert (steg2.id, steg2.assignee, steg2.claimed_by) == (done.continues_with.id, "tina", "tina")
    claims = [h for h in instances.get(orc, check.id, SYSTEM).history if h["action"] == "task_claimed"]
    assert [(h["actor"], h["element_id"], h["data"]) for h in claims] == [("tina", "steg2", {"automatisk": True})]

    with pytest.raises(Conflict):  # a colleague in the same role and service sees it is taken
        tasks.complete(orc, steg2.id, {"samarbeid_nodvendig": "nei", "begrunnelse_steg2": "x"}, people.kora)
    assert tasks.list_tasks(orc, people.kora, "roles", instance_id=check.id).items == []


def test_putting_it_back_gives_the_next_step_to_the_queue_again(orc, seeded, people):
    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-11")
    nxt = do(orc, check.id, "steg1", people.tina, STEG1).continues_with
    tasks.release(orc, nxt.id, people.tina)
    # the check is the assessing service's (helsestasjon): a colleague there finds it in the queue
    [queued] = tasks.list_tasks(orc, people.kora, "roles", instance_id=check.id).items
    assert (queued.id, queued.assignee, queued.claimed_at) == (nxt.id, None, None)
    done = tasks.complete(orc, queued.id, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."}, people.kora)
    # step 3's contact is the school's (decision 0022): not claimed for kora, waiting in the school's queue
    assert done.continues_with is None
    [contact] = tasks.list_tasks(orc, people.tor, "roles", instance_id=check.id).items
    assert (contact.element_id, contact.assignee) == ("steg3", None)


def test_parallel_contacts_of_step_3_follow_one_another_for_the_same_person(orc, seeded, people, make_user):
    siv = make_user("siv", "tjenesteyter", services=["skole", "nav"])  # one person in both services contacted
    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-12")
    do(orc, check.id, "steg1", people.tina, {**STEG1, "tjenester": [{"tjeneste": "skole"}, {"tjeneste": "nav"}]})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "x"})
    first, _ = tasks.list_tasks(orc, siv, "roles", instance_id=check.id).items
    contact = {"kontakt": {"kontakt_dato": "2027-01-06", "kontaktperson": "K", "samtykke_til_deling": "samtykke"}}
    tasks.claim(orc, first.id, siv)
    second = tasks.complete(orc, first.id, contact, siv)
    assert second.continues_with.element_id == "steg3" and second.continues_with.id != first.id
    assert second.continues_with.assignee == "siv"


def test_nothing_is_claimed_for_a_role_the_person_does_not_have_or_for_the_system(orc, seeded, people):
    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-13")
    done = do(orc, check.id, "steg1", SYSTEM, STEG1)
    assert done.continues_with is None and [t.assignee for t in open_tasks(orc, check.id)] == [None]
    oppstart = instances.start(orc, "oppstart", people.kari, business_key="SAK-14", data={
        "gjelder": "Ola N.", "meldt_av": "Helsestasjonen", "behov": "Samarbeid."})
    assert oppstart.continues_with.element_id == "onske" and oppstart.continues_with.assignee is None  # an API start claims nothing
    refused = do(orc, oppstart.id, "onske", people.kari, {"informert_om_rettigheter": True,
                                                           "bruker_onsker_koordinering": "nei"})
    assert refused.continues_with is None or refused.continues_with.role in people.kari.roles


def test_the_api_completion_says_which_task_continues(orc, seeded, people, web):
    from orchestrator.services import users

    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-15")
    [steg1] = open_tasks(orc, check.id)
    token = users.create_token(orc, "tina")
    answer = web.api("POST", f"/api/v1/tasks/{steg1.id}/complete", token, json={"data": STEG1}).get_json()
    continues = answer["continues_with"]
    assert (continues["element_id"], continues["assignee"], continues["claimed_by"]) == ("steg2", "tina", "tina")
    assert continues["claimed_at"] is not None and continues["process_key"] == "samarbeid"
    listed = web.api("GET", f"/api/v1/tasks?scope=mine&business_key=SAK-15", token).get_json()["items"]
    assert [(t["id"], t["claimed_by"]) for t in listed] == [(continues["id"], "tina")]


def test_a_case_started_on_the_page_gives_its_first_task_to_the_person_who_started_it(orc, seeded, people, web):
    client = web.login("tina")
    answer = client.post("/instances/new/samarbeid", {"__saksnummer": "SAK-16"})
    assert answer.status_code == 302
    [steg1] = open_tasks(orc, instance_of(orc, "samarbeid", "SAK-16").id)
    assert answer.headers["Location"].endswith(f"/tasks/{steg1.id}") and steg1.claimed_by == "tina"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Den første oppgaven er tatt til deg." in page and 'id="ta-oppgaven"' not in page
