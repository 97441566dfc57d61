"""A process owner moves running ansvarsgrupper to a new version of the routine, in real headless
Chromium: the dry run on the target version's diagram, a mapping for the removed step, the move.

Screenshots go to tests/_artifacts/screenshots (docs/screenshots with `make screenshots`).
"""
from __future__ import annotations

from datetime import timedelta

import pytest

pytest.register_assert_rewrite("webtools")

from orchestrator.services import instances  # noqa: E402
from orchestrator.services.access import SYSTEM

from routines import instance_of, people, plan_case, seeded  # noqa: F401 - fixtures
from test_browser import Page, _user, browser, live_server  # noqa: F401 - fixtures
from test_migration import notice_period_21, without_prepare
from test_routine_ansvarsgruppe import create, prepare

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytest_plugins = ["webtools"]  # the web fixtures (app)
pytestmark = pytest.mark.browser


def test_a_process_owner_moves_running_ansvarsgrupper_to_a_new_version(live_server, browser, orc, seeded, people,
                                                                       clock, deploy):
    plan_case(orc, people, "SAK-2027-0815", coordinator="kora")
    waiting = instance_of(orc, "ansvarsgruppe", "SAK-2027-0815")
    meeting = create(orc, waiting, people, clock)
    prepare(orc, waiting, people)  # waits on its innkalling timer
    plan_case(orc, people, "SAK-2027-0816", coordinator="kora")
    preparing = instance_of(orc, "ansvarsgruppe", "SAK-2027-0816")
    create(orc, preparing, people, clock)  # still at «Forberede innkalling»
    # version 2: 21 days' notice, and the innkalling goes out without a separate preparing step
    deploy(("ansvarsgruppe.bpmn", without_prepare(notice_period_21())))
    _user(orc, "petra", "process_owner")
    page = Page(browser, live_server)
    page.login("petra")

    page.open("/processes/ansvarsgruppe")
    page.find("#flytt-saker").click()
    page.wait.until(lambda d: page.h1() == "Flytt saker til ny versjon")
    summary = page.find("#oppsummering")
    assert (summary.get_attribute("data-movable"), summary.get_attribute("data-refused")) == ("0", "2")
    mapping = Select(page.find("select[name='kobling-forberede_innkalling']"))
    assert "forberede_innkalling" in page.find(".mapping").text

    mapping.select_by_value("forberede_merge")  # what the waiting case passed is the merge before the deadline
    page.find("#proev-flytting button[type=submit]").click()
    page.wait.until(lambda d: page.find("#oppsummering").get_attribute("data-movable") == "1")
    diagram = page.find("#diagram")
    page.wait.until(lambda d: diagram.get_attribute("data-state") == "ready")
    assert "1 sak" in page.find(".orc-overlay").text  # where the moved case lands on version 2
    rows = {r.get_attribute("data-instance"): r for r in page.driver.find_elements(By.CSS_SELECTOR, "tr[data-instance]")}
    moving, refused = rows[str(waiting.id)], rows[str(preparing.id)]
    assert moving.get_attribute("data-outcome") == "kan-flyttes"
    assert "Innkallingsfrist" in moving.text and "uendret" not in moving.text.split("Innkallingsfrist")[1][:80]
    assert refused.get_attribute("data-outcome") == "avvist"
    assert "Forberede innkalling: saksliste og innkalte" in refused.text and "står der nå" in refused.text
    assert "Ola" not in page.driver.page_source  # cases are shown by business key only
    page.driver.execute_script("document.getElementById('diagram').scrollIntoView()")
    page.screenshot("flytt-saker.png")

    page.find("#flytt button[type=submit]").click()
    page.wait.until(lambda d: page.find("#oppsummering").get_attribute("data-moved") == "1")
    assert "1 sak flyttet til versjon 2" in page.find(".flash").text
    assert page.csp_violations() == []
    moved, stayed = (instances.get(orc, i, SYSTEM) for i in (waiting.id, preparing.id))
    assert (moved.process_version, stayed.process_version) == (2, 1)
    [timer] = [t for t in moved.timers if t["element_id"] == "innkallingsfrist"]
    assert timer["due_at"] == meeting - timedelta(days=21)
    assert moved.history[-1]["action"] == "migrated" and moved.history[-1]["actor"] == "petra"
