"""Every page type, as the demo users see it after `make run`, in headless Chromium:

- axe-core (from npm, copied into the git-ignored vendor folder) finds no serious or critical
  accessibility violation on any of them;
- none scrolls sideways on a 390 px wide phone;
- a task form can be filled in and sent with the keyboard alone, and focus can be seen.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from routines import ROOT
from test_browser import Page, _user, browser, case, live_server  # noqa: F401  (fixtures)

from orchestrator.services import demo, instances, processes, tasks, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.notices import queries

from helpers import open_tasks

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402

pytest_plugins = ["webtools"]  # the web fixtures: app
pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parent.parent / "src/orchestrator/web/static/vendor/axe.min.js"
BLOCKING = ("serious", "critical")
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts" / "screenshots"


@pytest.fixture
def demo_world(orc, deploy, clock, tmp_path):
    """The processes and forms of the repository, the demo users (with their passwords) and the demo cases."""
    if not AXE.exists():
        pytest.skip("axe-core is missing: run `make assets`")
    deploy(ROOT / "processes", ROOT / "forms")
    passwords = {name: password for name, password, _ in users.bootstrap(orc, tmp_path / "brukere.txt")}
    demo.seed(orc, if_empty=True)
    return passwords


class Tour:
    """Signs in as a demo user and checks pages: axe, then the width of a phone."""

    def __init__(self, browser, base: str, passwords: dict[str, str]):
        self.page = Page(browser, base)
        self.driver, self.passwords = browser, passwords
        self.problems: list[str] = []

    def login(self, username: str):
        self.driver.delete_all_cookies()
        self.page.open("/login")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(self.passwords[username])
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.page.find(".mainnav")

    def check(self, path: str, ready: str = "main", name: str | None = None):
        """Open `path` (or check the page already open, with path None) at desktop and phone width."""
        where = path or self.driver.current_url
        for width, height in ((1440, 1000), (390, 844)):
            self.driver.set_window_size(width, height)
            if path:
                self.page.open(path)
            try:
                self.page.find(ready)
            except TimeoutException:
                self.problems.append(f"{where} ({width} px): never showed {ready}")
                self.screenshot(f"feil-{len(self.problems)}.png")
                continue
            for v in self.axe():
                targets = "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:4])
                self.problems.append(f"{where} ({width} px): {v['impact']} {v['id']}: {v['help']} [{targets}]")
            if width == 390:
                wide = self.driver.execute_script(
                    "var s = document.scrollingElement; if (s.scrollWidth <= innerWidth) return null;"
                    "return [s.scrollWidth, innerWidth, Array.from(document.querySelectorAll('body *'))"
                    ".filter(function (e) { var r = e.getBoundingClientRect();"
                    " return r.right > innerWidth + 1 && getComputedStyle(e).position !== 'fixed'; })"
                    ".slice(0, 5).map(function (e) { return e.tagName + '.' + e.className; })];")
                if wide:
                    self.problems.append(f"{where} (390 px): scrolls sideways, {wide[0]} > {wide[1]}: {wide[2]}")
            if name:
                self.screenshot(f"{name}-{width}.png")

    def screenshot(self, name: str):
        """Into the git-ignored artifacts (never docs/screenshots: these are for looking at a failure)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(ARTIFACTS / f"sidetur-{name}"))

    def axe(self) -> list[dict]:
        if not self.driver.execute_script("return typeof window.axe !== 'undefined'"):
            self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(function (r) { done(JSON.stringify(r.violations)); }, function (e) { done(JSON.stringify({error: String(e)})); });")
        violations = json.loads(result)
        assert not isinstance(violations, dict), violations
        return [v for v in violations if v["impact"] in BLOCKING]


def _first_task_path(orc, business_key: str) -> str:
    case = [i for i in instances.list_instances(orc, SYSTEM, per_page=200).items if i.business_key == business_key][0]
    task = [t for t in instances.get(orc, case.id, SYSTEM).tasks][0]
    return f"/tasks/{task['id']}"


def test_every_page_type_passes_axe_and_fits_a_phone(live_server, browser, orc, demo_world):
    tour = Tour(browser, live_server, demo_world)
    tour.check("/login", "#username", name="logg-inn")

    tour.login("tina")  # tjenesteyter: her tasks, one task form, the case
    tour.check("/tasks", "table.tasks", name="oppgaver")
    tour.check("/tasks?scope=roles", "table.tasks")
    tour.check(_first_task_path(orc, "9999/0001"), "form")
    tour.check("/instances", "main h1")
    tour.check("/tokens", "main h1")
    tour.check("/finnes-ikke", "main h1")

    tour.login("kari")  # koordinerende enhet: starts cases, reads all
    tour.check("/instances/new", "main h1")
    tour.check("/instances/new/oppstart", "form")
    browser.set_window_size(1440, 1000)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()  # nothing filled in
    tour.check(None, ".error-summary", name="start-med-feil")  # the errors, in a summary and at each field
    case = [i for i in instances.list_instances(orc, SYSTEM, per_page=200).items if i.business_key == "9999/0006"][0]
    tour.check(f"/instances/{case.id}", "#diagram[data-state=ready]", name="sak")
    tour.check("/instances?status=running", "main h1", name="saker")

    tour.login("mona")  # manager: overview, notices, all open tasks
    tour.check("/dashboard", "main h1", name="fristoversikt")
    tour.check("/tasks?scope=all", "table.tasks")
    tour.check("/utsendinger", "main h1", name="utsendinger")
    notice = queries.list_notices(orc, SYSTEM, business_key="9999/0007").items[0]
    tour.check(f"/utsendinger/{notice.id}", "main h1", name="utsending")
    tour.check("/processes", "main h1", name="prosesser")
    tour.check("/tilgangslogg", "main h1", name="tilgangslogg")
    tour.check("/innsyn", "main h1")
    tour.check("/innsyn/dokument?sak=9999/0003", "main h1, h1")

    tour.login("petra")  # process owner: processes, versions, editors
    tour.check("/processes", "main h1")
    tour.check("/processes/oppstart", "main h1")
    tour.check("/processes/oppstart/versions/1", "#diagram[data-state=ready]")
    tour.check("/processes/oppstart/flytting", "main h1")
    tour.check("/modeler/oppstart", "#modeler[data-state=ready]", name="modellerer")
    tour.check("/skjemaer/oppstart_melding/rediger", "main h1")
    tour.check("/skjemaer/oppstart_melding/forhandsvisning", "main h1")
    [table] = processes.list_processes(orc, SYSTEM, kind="dmn").items
    tour.check(f"/tabeller/{table.key}/rediger", "main h1")
    assert tour.problems == [], "\n".join(tour.problems)


def test_the_case_diagram_opens_readable_zooms_and_shows_a_steps_history(live_server, browser, orc, demo_world):
    tour = Tour(browser, live_server, demo_world)
    tour.login("kari")
    case = [i for i in instances.list_instances(orc, SYSTEM, per_page=200).items if i.business_key == "9999/0003"][0]
    detail = instances.get(orc, case.id, SYSTEM)
    done = [h for h in detail.history if h["action"] == "task_completed" and h["element_id"]][-1]
    page = tour.page
    page.open(f"/instances/{case.id}")
    page.find("#diagram[data-state=ready]")
    zoom = "return parseFloat(document.querySelector('#diagram .viewport').getAttribute('transform').split('(')[1]);"
    assert browser.execute_script(zoom) >= 0.79  # a wide routine opens at a size its labels can be read
    page.find(".diagram-tools [data-zoom=fit]").click()
    fitted = browser.execute_script(zoom)
    assert fitted < 0.79  # the whole routine, smaller
    page.find(".diagram-tools [data-zoom=in]").click()
    assert browser.execute_script(zoom) > fitted
    page.find(".diagram-tools [data-zoom=fit]").click()

    step = page.find(f'g.djs-element[data-element-id="{done["element_id"]}"] .djs-hit')
    ActionChains(browser).move_to_element(step).click().perform()
    panel = page.visible("#step-history")
    assert panel.get_attribute("data-element-id") == done["element_id"]
    assert done["element_name"] in panel.text and "Oppgave fullført" in panel.text and done["actor"] in panel.text
    assert re.search(r"\d{2}\.\d{2}\.\d{4} kl\. \d{2}:\d{2}: Oppgave fullført", panel.text), panel.text


def test_a_task_form_is_filled_in_and_sent_with_the_keyboard_alone_and_focus_shows(live_server, browser, orc, case):
    """Tab to each field, type or press Space, Enter on «Send inn»; every stop has a visible focus ring."""
    _user(orc, "kora", "koordinator")
    [task] = open_tasks(orc, case.id)
    tasks.claim(orc, task.id, users.actor_for(orc, "kora"))
    page = Page(browser, live_server)
    page.login("kora")
    page.open(f"/tasks/{task.id}")
    page.find("form.task-form")
    plan = {"samtaledato": "12.01.2027", "sted": "Familiens hjem", "antall_deltakere": "3", "samtykke": Keys.SPACE,
            "samtykke_omfang": "Helseopplysninger til skolen", "tjenester": Keys.SPACE,
            "parorende_informert": Keys.SPACE, "kontakt.navn": "Anne Forelder", "medlemmer.0.tittel": "Lærer",
            "medlemmer.0.navn": "Per Lærer"}
    done, unseen = set(), []
    focused = "var e = document.activeElement; var s = getComputedStyle(e);" \
              "return [e.name || '', e.id || '', e.tagName, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];"
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(120):
        name, element_id, tag, ring = browser.execute_script(focused)
        if not ring:
            unseen.append(name or element_id or tag)
        active = browser.switch_to.active_element
        if element_id == "send-inn":
            assert done == set(plan), f"not reached by Tab: {set(plan) - done}"
            active.send_keys(Keys.ENTER)
            break
        if name in plan and name not in done:
            active.send_keys(plan[name])
            done.add(name)
            if name == "samtykke":  # its answer shows «Hva samtykket gjelder» (asked of the server)
                page.wait.until(lambda d: d.find_element(By.NAME, "samtykke_omfang").is_enabled())
        active.send_keys(Keys.TAB)
    else:
        pytest.fail("«Send inn» was never reached with Tab")
    page.wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Hold oppstartmøte")
    assert unseen == [], f"focus could not be seen on {unseen}"
    data = instances.get(orc, case.id, SYSTEM).data
    assert data["samtaledato"] == "2027-01-12" and data["samtykke"] == "ja" and data["tjenester"] == ["helsestasjon"]
    assert data["parorende_informert"] is True and data["medlemmer"] == [{"tittel": "Lærer", "navn": "Per Lærer"}]
    assert data["kontakt"]["navn"] == "Anne Forelder" and data["antall_deltakere"] == 3
