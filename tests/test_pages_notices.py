"""«Utsendinger»: managers see every notice, its status, attempts and content; the HTML only sandboxed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from routines import do, instance_of, people, plan_case, seeded  # noqa: F401
from test_routine_ansvarsgruppe import MEMBERS, create, prepare
from orchestrator.services import timers
from orchestrator.services.notices import delivery

pytest_plugins = ["webtools"]


@pytest.fixture
def sent_innkalling(orc, seeded, people, clock):
    plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(meeting - timedelta(days=14) + timedelta(seconds=1))
    timers.fire_due(orc)
    delivery.deliver_due(orc)  # no SMTP server configured: the local sink
    return group


def test_managers_see_the_14_day_notice_in_the_local_sink(web, make_user, sent_innkalling):
    make_user("mona", "manager")
    page = web.login("mona").get("/utsendinger?business_key=SAK-1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("Innkalling") >= len(MEMBERS)
    for member in MEMBERS:
        assert member["adresse"] in html
    assert html.count("Lagt i lokal utsendingsmappe (ingen e-postserver)") >= len(MEMBERS)  # the sink


def test_a_notice_shows_its_text_invite_and_html_only_in_a_sandbox(web, orc, make_user, sent_innkalling):
    from orchestrator.services.notices import queries
    from orchestrator.services.access import SYSTEM

    make_user("mona", "manager")
    client = web.login("mona")
    notice = queries.list_notices(orc, SYSTEM, business_key="SAK-1").items[0]
    page = client.get(f"/utsendinger/{notice.id}").get_data(as_text=True)
    assert "BEGIN:VCALENDAR" in page and "METHOD:REQUEST" in page and "Ola N." in page
    preview = client.get(f"/utsendinger/{notice.id}/html")
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert "script-src" not in preview.headers["Content-Security-Policy"]


def test_staff_without_oversight_cannot_read_notices(web, make_user, sent_innkalling):
    make_user("tone", "tjenesteyter")
    assert web.login("tone").get("/utsendinger").status_code == 403
