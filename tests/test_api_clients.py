"""The JSON API for clients (issue 14 item 7): tasks filtered by instance, case and process, each saying
its process, called process and claim; notices read with the same role checks as «Utsendinger»."""
from __future__ import annotations

import pytest

from routines import CONSENT, do, people, seeded, start_oppstart  # noqa: F401
from test_pages_notices import sent_innkalling  # noqa: F401  (fixture: an innkalling delivered to the sink)
from test_routine_ansvarsgruppe import MEMBERS
from orchestrator.services import tasks, users

pytest_plugins = ["webtools"]


@pytest.fixture
def two_cases(orc, seeded, people):
    """SAK-1 at 11.1 (the called process «opprettelse av koordinator»), SAK-2 at trinn 2."""
    first = start_oppstart(orc, people, "SAK-1")
    do(orc, first.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                              "soknad_fra": "parorende", "soknad_dato": "2027-01-04"})
    do(orc, first.id, "samtale", people.kari, CONSENT)
    second = start_oppstart(orc, people, "SAK-2")
    return first, second


def _items(web, token, query):
    answer = web.api("GET", f"/api/v1/tasks?scope=all&{query}", token)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def test_tasks_are_filtered_by_instance_case_and_process_and_say_their_called_process(orc, web, two_cases, people):
    first, second = two_cases
    token = users.create_token(orc, "kari")
    [called] = _items(web, token, f"instance_id={first.id}")
    assert (called["process_key"], called["called_process"], called["business_key"]) == (
        "oppstart", "opprettelse_av_koordinator", "SAK-1")
    assert [t["instance_id"] for t in _items(web, token, "business_key=SAK-2")] == [second.id]
    assert _items(web, token, "business_key=SAK-3") == []
    assert [t["id"] for t in _items(web, token, "process_key=opprettelse_av_koordinator")] == [called["id"]]
    assert {t["instance_id"] for t in _items(web, token, "process_key=oppstart")} == {first.id, second.id}
    assert _items(web, token, f"process_key=oppstart&business_key=SAK-2&instance_id={first.id}") == []
    [own] = _items(web, token, f"instance_id={second.id}")
    assert own["called_process"] is None


def test_each_task_says_when_and_by_whom_it_was_claimed(orc, web, two_cases, people, clock):
    first, second = two_cases
    token = users.create_token(orc, "kari")
    [queued] = _items(web, token, f"instance_id={second.id}")
    assert (queued["claimed_by"], queued["claimed_at"]) == (None, None)
    tasks.claim(orc, queued["id"], people.kari)
    [claimed] = _items(web, token, f"instance_id={second.id}")
    assert (claimed["claimed_by"], claimed["claimed_at"]) == ("kari", "2027-01-04T08:00:00+00:00")


def test_the_filters_are_declared_so_the_openapi_document_shows_them(web, orc, make_user):
    make_user("mona", "manager")
    document = web.api("GET", "/api/v1/openapi.json", users.create_token(orc, "mona")).get_json()
    names = {p["name"] for p in document["paths"]["/api/v1/tasks"]["get"]["parameters"]}
    assert {"instance_id", "business_key", "process_key", "scope"} <= names
    task = document["components"]["schemas"]["Task"]["properties"]
    assert {"called_process", "claimed_at", "claimed_by"} <= set(task)
    assert {"/api/v1/notices", "/api/v1/notices/{notice_id}"} <= set(document["paths"])


def test_bad_filters_are_refused_in_norwegian(orc, web, make_user):
    make_user("mona", "manager")
    answer = web.api("GET", "/api/v1/tasks?instance_id=x", users.create_token(orc, "mona"))
    assert answer.status_code == 422 and answer.get_json()["errors"] == {"instance_id": ["Skriv et helt tall."]}


def test_managers_and_ke_read_notices_with_status_recipients_and_content(orc, web, people, sent_innkalling):
    users.add(orc, "mona", ["manager"], None)
    for reader in ("mona", "kari"):
        token = users.create_token(orc, reader)
        page = web.api("GET", "/api/v1/notices?business_key=SAK-1&kind=innkalling", token).get_json()
        assert sorted(n["recipient"] for n in page["items"]) == sorted(m["adresse"] for m in MEMBERS)
        assert {n["status"] for n in page["items"]} == {"sink"} and page["counts"]["sink"] == len(MEMBERS)
        one = web.api("GET", f"/api/v1/notices/{page['items'][0]['id']}", token).get_json()
        assert one["status_label"] == "Lagt i lokal utsendingsmappe (ingen e-postserver)"
        assert "Ola N." in one["content"]["text"] and "METHOD:REQUEST" in one["content"]["calendar"]
        assert one["content"]["headers"]["To"].endswith(one["recipient"] + ">") or one["recipient"] in one["content"]["headers"]["To"]
    missing = web.api("GET", "/api/v1/notices/999999", users.create_token(orc, "mona"))
    assert missing.status_code == 404


def test_staff_without_oversight_get_the_same_refusal_as_on_the_page(orc, web, people, sent_innkalling):
    token = users.create_token(orc, "kora")  # the case's coordinator, but not a reader of «Utsendinger»
    from orchestrator.services.notices import queries
    from orchestrator.services.access import SYSTEM

    notice = queries.list_notices(orc, SYSTEM, business_key="SAK-1").items[0]
    assert web.api("GET", "/api/v1/notices", token).status_code == 403
    assert web.api("GET", f"/api/v1/notices/{notice.id}", token).status_code == 403
    web.login("kora")
    assert web.get("/utsendinger").status_code == 403 and web.get(f"/utsendinger/{notice.id}").status_code == 403
