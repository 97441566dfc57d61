"""Sending a message into a case needs the right to act in it, and carries only what a form allows.

The attacks of issue 11 item 4, each as a regression test: a tjenesteyter without access to a case
sent a message it waited for (the gateway took the injected branch, the data was stored, and she
could read the case afterwards); a message started an oppstart case that `POST /instances` refuses
her, skipping the start form's validation.
"""
from __future__ import annotations

import pytest

from bpmnbuilder import Process
from diagrams import form, text_field
from orchestrator.services import instances, messages
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from routines import people, seeded, start_oppstart  # noqa: F401  (fixtures)

from helpers import open_tasks

pytest_plugins = ["webtools"]

TY, KE = "Tjenesteyter", "Koordinerende enhet"


def approval_process():
    """KE prepares; the case waits for «godkjenning»; its form asks for «godkjent»; a gateway reads it."""
    p = Process("test_godkjenning", "Test: godkjenning", lanes=[KE, TY])
    p.start("start", "Start", lane=KE)
    p.user("forbered", "Forbered", lane=KE)
    p.catch("vent", "Vent på godkjenning", lane=KE, message="godkjenning")
    p.xor("port", "Godkjent?", lane=KE)
    p.user("godkjent_videre", "Godkjent: videre", lane=KE)
    p.user("avslaatt", "Avslått", lane=KE)
    p.end("slutt_ja", "Slutt", lane=KE)
    p.end("slutt_nei", "Slutt", lane=KE)
    p.chain("start", "forbered", "vent", "port")
    p.flow("port", "godkjent_videre", name="Ja", condition='godkjent == "ja"')
    p.flow("port", "avslaatt", name="Nei", default=True)
    p.chain("godkjent_videre", "slutt_ja")
    p.chain("avslaatt", "slutt_nei")
    xml = p.to_xml().replace('<bpmn:intermediateCatchEvent id="vent" name="Vent på godkjenning"',
                             '<bpmn:intermediateCatchEvent id="vent" name="Vent på godkjenning" '
                             'camunda:formKey="test_godkjenning_skjema"')
    godkjent = {"type": "radio", "key": "godkjent", "label": "Godkjent?", "validate": {"required": True},
                "values": [{"label": "Ja", "value": "ja"}, {"label": "Nei", "value": "nei"}]}
    return [("test_godkjenning.bpmn", xml), form("test_godkjenning_skjema", godkjent)]


@pytest.fixture
def waiting_case(orc, deploy, people):
    deploy(*approval_process())
    started = instances.start(orc, "test_godkjenning", people.kari, "SAK-G")
    [task] = open_tasks(orc, started.id)
    from orchestrator.services import tasks

    tasks.complete(orc, task.id, {}, people.kari)
    return started.id


def _history_actions(orc, instance_id):
    return [h["action"] for h in instances.get(orc, instance_id, SYSTEM).history]


def test_a_message_into_a_case_you_cannot_act_in_answers_as_if_the_case_did_not_exist(orc, waiting_case, people):
    with pytest.raises(NotFound) as forbidden:
        messages.send(orc, "godkjenning", "SAK-G", {"godkjent": "ja"}, people.tina)
    with pytest.raises(NotFound) as unknown:
        messages.send(orc, "godkjenning", "SAK-FINNES-IKKE", {"godkjent": "ja"}, people.tina)
    assert str(forbidden.value).replace("SAK-G", "X") == str(unknown.value).replace("SAK-FINNES-IKKE", "X")
    assert "message_received" not in _history_actions(orc, waiting_case)  # nothing delivered, nothing stored
    assert "godkjent" not in instances.get(orc, waiting_case, SYSTEM).data
    with pytest.raises(NotFound):  # and she still cannot read the case
        instances.get(orc, waiting_case, people.tina)


def test_koordinerende_enhet_sends_into_the_case_with_the_data_its_form_allows(orc, waiting_case, people):
    with pytest.raises(Invalid) as wrong:
        messages.send(orc, "godkjenning", "SAK-G", {"godkjent": "kanskje"}, people.kari)
    assert "godkjent" in wrong.value.fields
    with pytest.raises(Invalid):  # only what the form asks for reaches the case
        messages.send(orc, "godkjenning", "SAK-G", {"godkjent": "ja", "snarvei": "injisert"}, people.kari)
    [delivery] = messages.send(orc, "godkjenning", "SAK-G", {"godkjent": "ja"}, people.kari)
    assert delivery.instance_id == waiting_case
    data = instances.get(orc, waiting_case, SYSTEM).data
    assert data["godkjent"] == "ja" and "snarvei" not in data
    assert [t.element_id for t in open_tasks(orc, waiting_case)] == ["godkjent_videre"]


def test_a_message_caught_by_an_event_without_a_form_carries_no_data(orc, deploy, people):
    p = Process("test_uten_skjema", "Test: melding uten skjema", lanes=[KE])
    p.start("start", "Start", lane=KE)
    p.catch("vent", "Vent", lane=KE, message="klarsignal")
    p.xor("port", "Port", lane=KE)
    p.user("injisert", "Injisert gren", lane=KE)
    p.user("vanlig", "Vanlig gren", lane=KE)
    p.end("slutt_a", "Slutt", lane=KE)
    p.end("slutt_b", "Slutt", lane=KE)
    p.chain("start", "vent", "port")
    p.flow("port", "injisert", name="Injisert", condition='snarvei == "ja"')
    p.flow("port", "vanlig", name="Vanlig", default=True)
    p.chain("injisert", "slutt_a")
    p.chain("vanlig", "slutt_b")
    deploy(("test_uten_skjema.bpmn", p.to_xml()))
    started = instances.start(orc, "test_uten_skjema", people.kari, "SAK-U", {"snarvei": "nei"})
    with pytest.raises(Invalid, match="tar ikke imot data"):
        messages.send(orc, "klarsignal", "SAK-U", {"snarvei": "ja"}, people.kari)
    messages.send(orc, "klarsignal", "SAK-U", {}, people.kari)
    assert [t.element_id for t in open_tasks(orc, started.id)] == ["vanlig"]


def test_whoever_has_an_open_task_in_the_case_may_send_into_it(orc, deploy, people, make_user):
    p = Process("test_med_oppgave", "Test: oppgave og melding", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.and_("del", "Del", lane=TY)
    p.user("arbeid", "Arbeid", lane=TY)
    p.catch("vent", "Vent", lane=TY, message="ferdig_signal")
    p.end("slutt_a", "Slutt", lane=TY)
    p.end("slutt_b", "Slutt", lane=TY)
    p.chain("start", "del", "arbeid", "slutt_a")
    p.chain("del", "vent", "slutt_b")
    deploy(("test_med_oppgave.bpmn", p.to_xml()))
    started = instances.start(orc, "test_med_oppgave", people.tina, "SAK-T")
    outsider = make_user("ola", "koordinator")
    with pytest.raises(NotFound):
        messages.send(orc, "ferdig_signal", "SAK-T", {}, outsider)
    [delivery] = messages.send(orc, "ferdig_signal", "SAK-T", {}, people.tor)  # another tjenesteyter: the lane's task
    assert delivery.instance_id == started.id


def test_starting_oppstart_by_message_needs_the_right_to_start_it_and_its_start_form(orc, seeded, people):
    melding = {"gjelder": "Ola N.", "meldt_av": "Helsestasjonen", "behov": "Flere tjenester."}
    with pytest.raises(Forbidden):
        instances.start(orc, "oppstart", people.tina, "SAK-M1", melding)  # the page and POST /instances refuse her
    with pytest.raises(Forbidden):
        messages.send(orc, "melding_til_koordinerende_enhet", "SAK-M1", melding, people.tina)  # and so does this
    assert instances.list_instances(orc, SYSTEM, business_key="SAK-M1").total == 0
    with pytest.raises(Invalid) as invalid:
        messages.send(orc, "melding_til_koordinerende_enhet", "SAK-M2", {"gjelder": "Ola N."}, people.kari)
    assert {"meldt_av", "behov"} <= set(invalid.value.fields)
    [started] = messages.send(orc, "melding_til_koordinerende_enhet", "SAK-M3", melding, people.kari)
    assert started.started and instances.get(orc, started.instance_id, SYSTEM).data["gjelder"] == "Ola N."


def test_through_the_api_a_forbidden_case_and_an_unknown_one_answer_alike(web, orc, deploy, role_users):
    from orchestrator.services import tasks

    deploy(*approval_process())
    waiting_case = instances.start(orc, "test_godkjenning", SYSTEM, "SAK-G").id
    tasks.complete(orc, open_tasks(orc, waiting_case)[0].id, {}, SYSTEM)
    token = role_users.tokens["tjenesteyter"]
    forbidden = web.api("POST", "/api/v1/messages/godkjenning", token,
                        json={"business_key": "SAK-G", "data": {"godkjent": "ja"}})
    unknown = web.api("POST", "/api/v1/messages/godkjenning", token,
                      json={"business_key": "SAK-UKJENT", "data": {"godkjent": "ja"}})
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.get_json()["message"].replace("SAK-G", "X") == unknown.get_json()["message"].replace(
        "SAK-UKJENT", "X")
    assert web.api("GET", f"/api/v1/instances/{waiting_case}", token).status_code == 404
    accepted = web.api("POST", "/api/v1/messages/godkjenning", role_users.tokens["koordinerende_enhet"],
                       json={"business_key": "SAK-G", "data": {"godkjent": "nei"}})
    assert accepted.status_code == 200 and accepted.get_json()["deliveries"][0]["instance_id"] == waiting_case
