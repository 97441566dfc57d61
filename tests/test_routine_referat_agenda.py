"""The referat follows the innkalling's agenda (004 11.4 «Referatet skal inneholde samme punkter som sakslisten»)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from routines import instance_of, notices, people, plan_case, seeded  # noqa: F401
from test_routine_ansvarsgruppe import FIRST, MEMBERS, create, group, hold, meet, prepare  # noqa: F401
from helpers import task_named
from orchestrator.services import tasks
from orchestrator.services.errors import Invalid

pytest_plugins = ["webtools"]

AGENDA = [{"punkt": "Status i skolen"}, {"punkt": "Avlastning"}, {"punkt": "Fritid"}]
DECIDED = [{"punkt": "Status i skolen", "beslutning": "Skolen prøver ut nytt leseopplegg til jul."},
           {"punkt": "Avlastning", "beslutning": "Familien søker om avlastning hver tredje helg."},
           {"punkt": "Fritid", "beslutning": "Drøftet; ingen beslutning."}]


@pytest.fixture
def at_the_meeting(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people, saksliste=AGENDA)
    meet(orc, group, clock, meeting)
    return meeting


def test_the_referat_form_starts_from_the_agenda_and_needs_a_decision_under_each_point(
        orc, group, people, at_the_meeting):
    meeting_task = task_named(orc, group.id, "moete")
    detail = tasks.get(orc, meeting_task.id, people.kora)
    assert [row["punkt"] for row in detail.data["saksliste"]] == ["Status i skolen", "Avlastning", "Fritid"]
    assert "saksliste" in {c.key for c in detail.form.components}
    missing = [DECIDED[0], {"punkt": "Avlastning"}, DECIDED[2]]
    with pytest.raises(Invalid) as refused:
        hold(orc, group, people, next_meeting=at_the_meeting + timedelta(days=90), saksliste=missing, **FIRST)
    assert refused.value.fields == {"saksliste.1.beslutning": ["Feltet må fylles ut."]}


def test_the_task_page_shows_the_agenda_as_the_rows_of_the_referat(web, orc, group, people, at_the_meeting):
    meeting_task = task_named(orc, group.id, "moete")
    page = web.login("kora").get(f"/tasks/{meeting_task.id}").get_data(as_text=True)
    for index, item in enumerate(AGENDA):
        assert f'name="saksliste.{index}.punkt"' in page and f'value="{item["punkt"]}"' in page
        assert f'name="saksliste.{index}.beslutning"' in page


def test_the_referat_lists_the_agenda_in_its_order_with_each_decision(orc, group, people, clock, at_the_meeting):
    hold(orc, group, people, next_meeting=at_the_meeting + timedelta(days=90), saksliste=DECIDED,
         faglig_uenighet="PPT mener leseopplegget bør utredes først.", **FIRST)
    rows = notices(orc, group.id, "referat")
    assert sorted(r["recipient"] for r in rows) == sorted(m["adresse"] for m in MEMBERS)
    text = rows[0]["text"]
    order = ["Saksliste og beslutninger", "1. Status i skolen", DECIDED[0]["beslutning"], "2. Avlastning",
             DECIDED[1]["beslutning"], "3. Fritid", DECIDED[2]["beslutning"], "Andre beslutninger",
             "Assistent i 10 timer", "Ansvarsfordeling", "Søke avlastning – ansvarlig: Tina Helse", "Faglig uenighet",
             "PPT mener leseopplegget bør utredes først."]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions), text
