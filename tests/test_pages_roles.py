"""Menus and pages fit the role (issue 14 item 4): «Start sak» only for those who can start a routine,
«Alle åpne oppgaver» for managers, the process list by kind and title."""
from __future__ import annotations

import re

from routines import seeded  # noqa: F401  (fixture: processes/ and forms/ deployed)
from webtools import ROLE_USERS

from orchestrator.services import demo, processes, tasks, users
from orchestrator.services.access import SYSTEM

pytest_plugins = ["webtools"]
MENU = re.compile(r'<nav class="mainnav"[^>]*>(.*?)</nav>', re.S)


def _menu(web, username: str) -> str:
    page = web.login(username).get("/tasks").get_data(as_text=True)
    return MENU.search(page).group(1)


def test_start_sak_is_offered_only_to_those_who_can_start_a_routine(orc, seeded, web, role_users):
    offered = {}
    for role, username in ROLE_USERS.items():
        can_start = bool(processes.startable(orc, users.actor_for(orc, username)))
        menu = _menu(web, username)
        assert ("Start sak" in menu) == can_start, (role, menu)
        offered[role] = can_start
        page = web.get("/tasks").get_data(as_text=True)
        assert ("Start ny sak" in page) == can_start, role
    assert offered["koordinerende_enhet"] and offered["tjenesteyter"]
    assert not offered["leder"] and not offered["kommuneledelse"]  # they take over cases, never start one


def test_a_manager_has_all_open_tasks_with_deadline_queue_and_who_has_it(orc, seeded, web, tmp_path, clock):
    users.bootstrap(orc, tmp_path / "brukere.txt")
    demo.seed(orc, if_empty=True)
    menu = _menu(web, "mona")
    assert 'href="/tasks?scope=all"' in menu and "Alle åpne oppgaver" in menu and "Start sak" not in menu
    page = web.get("/tasks").get_data(as_text=True)  # the plain address lands on the same list
    assert "<h1>Alle åpne oppgaver</h1>" in page and "Mine oppgaver" not in page
    every = tasks.list_tasks(orc, SYSTEM, "all", per_page=200)
    rows = re.findall(r'<tr class="[^"]*" data-task-id="([\w-]+)">(.*?)</tr>', page, re.S)
    assert len(rows) == min(every.total, 25) and every.total >= 7
    claimed = [t for t in every.items if t.assignee][0]
    row = dict(rows)[str(claimed.id)]
    assert claimed.assignee in row  # who has it
    assert "Frist" in page and "Rolle" in page and "Tildelt" in page
    overdue = [t for t in every.items if t.overdue]
    assert overdue and "due-overdue" in dict(rows)[str(overdue[0].id)]


def test_the_process_list_separates_routines_subroutines_forms_and_tables_by_title(orc, seeded, web, role_users):
    page = web.login(ROLE_USERS["process_owner"]).get("/processes").get_data(as_text=True)
    sections = dict(re.findall(r'<section class="card process-section" id="(\w+)".*?<tbody>(.*?)</tbody>', page, re.S))
    assert list(sections) == ["rutiner", "delrutiner", "skjemaer", "tabeller"]
    names = {p.key: p.name for kind in processes.KINDS for p in processes.list_processes(orc, SYSTEM, kind, 1, 200).items}
    assert names["samarbeid_steg1"] == "Steg 1: Avklare om andre tjenesteytere gir tjenester"  # a form's own title
    for key in ("samarbeid", "oppstart", "ansvarsgruppe"):
        assert f'>{names[key]}</a>' in sections["rutiner"] and names[key] != key
    assert f'>{names["opprettelse_av_koordinator"]}</a>' in sections["delrutiner"]
    assert f'>{names["samarbeid_steg1"]}</a>' in sections["skjemaer"]
    assert "samarbeid_steg1</" not in page and "<code>samarbeid</code>" not in page  # titles, not ids


def test_a_server_error_page_asks_nothing_of_the_database_for_its_menu(orc, seeded, web, role_users, monkeypatch):
    from orchestrator.services import tasks as task_service

    def broken(*args, **kwargs):
        raise RuntimeError("databasen svarer ikke")

    monkeypatch.setattr(task_service, "list_tasks", broken)  # the task list fails ...
    monkeypatch.setattr(processes, "startable", broken)  # ... and so would the menu's question
    page = web.login(ROLE_USERS["koordinerende_enhet"]).get("/tasks")
    assert page.status_code == 500 and "Noe gikk galt" in page.get_data(as_text=True)
    assert "Start sak" not in MENU.search(page.get_data(as_text=True)).group(1)
