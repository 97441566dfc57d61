"""Real-browser tests in headless Chromium (selenium): a coordinator works through two tasks,
a manager sees the case on its diagram, a process owner edits and deploys in the modeler.

They take screenshots into tests/_artifacts/screenshots/ (git-ignored); `make screenshots` runs them
with ORCHESTRATOR_SCREENSHOTS=docs/screenshots to refresh the README's pictures. A test run never
changes committed files.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

pytest.register_assert_rewrite("webtools")  # it is also this module's plugin (pytest_plugins below)
from webtools import rich_form_process

from orchestrator.services import instances, processes, users
from orchestrator.services.access import SYSTEM

from helpers import open_tasks

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("ORCHESTRATOR_SCREENSHOTS")
                   or Path(__file__).resolve().parent / "_artifacts" / "screenshots").resolve()
PASSWORD = "et-langt-passord-for-test"


@pytest.fixture
def live_server(app, orc):
    if orc.db.dialect != "sqlite":
        pytest.skip("browser tests run on SQLite (the pages are the same on PostgreSQL)")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1440,1000", "--lang=nb-NO", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver, base: str):
        self.driver, self.base = driver, base
        # a condition that reads an element of the page being left finds it stale: ask again
        self.wait = WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,))

    def open(self, path: str):
        self.driver.get(self.base + path)

    def login(self, username: str):
        self.open("/login")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(PASSWORD)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mainnav")))

    def logout(self):
        self.driver.find_element(By.CSS_SELECTOR, ".who button").click()
        self.wait.until(EC.presence_of_element_located((By.ID, "username")))

    def find(self, css: str):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def visible(self, css: str):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def type(self, name: str, text: str):
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(text)

    def set_value(self, name: str, value: str):
        """Date inputs take keys in the browser's locale; set them as a script would."""
        field = self.driver.find_element(By.NAME, name)
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            field, value)

    def h1(self) -> str:
        return self.find("h1").text

    def screenshot(self, name: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / name))

    def csp_violations(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]]


def _user(orc, username: str, *roles: str):
    users.add(orc, username, list(roles), PASSWORD, display_name=username.capitalize())


@pytest.fixture
def case(orc, deploy):
    deploy(*rich_form_process())
    started = instances.start(orc, "test_koordinering", SYSTEM, "SAK-2027-0815",
                              {"saksbeskrivelse": "Emil (9 år), som har behov for helse-, skole- og avlastningstjenester"})
    instances.start(orc, "test_koordinering", SYSTEM, "SAK-2027-0816", {"saksbeskrivelse": "en ungdom"})
    return started


def test_a_coordinator_completes_a_task_and_sees_the_next_one(live_server, browser, orc, case):
    _user(orc, "kora", "koordinator")
    page = Page(browser, live_server)
    page.login("kora")
    assert "Oppgaver" in page.h1()
    rows = browser.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
    assert len(rows) == 2 and "SAK-2027-0815" in browser.page_source
    page.screenshot("oppgaver.png")

    first = [r for r in rows if "SAK-2027-0815" in r.text][0]
    first.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # «Ta oppgaven»
    page.find(".flash-success")
    assert page.h1() == "Gjennomfør oppstartsamtale"
    assert "Emil (9 år)" in browser.page_source

    # first try: the date is missing and the member row has no name
    page.type("sted", "Familiens hjem")
    browser.find_element(By.CSS_SELECTOR, "input[name=samtykke][value=ja]").click()
    consent = page.visible("textarea[name=samtykke_omfang]")  # shown by its condition, asked of the server
    consent.send_keys("Opplysninger om helse deles med skolen")
    page.type("kontakt.navn", "Anne Forelder")
    page.type("medlemmer.0.tittel", "Kontaktlærer")
    browser.find_element(By.ID, "send-inn").click()
    summary = page.visible(".error-summary")
    assert "Skjemaet har feil" in summary.text
    assert "Feltet må fylles ut." in page.find("#f-samtaledato-feil").text
    assert "Feltet må fylles ut." in page.find("#f-medlemmer-0-navn-feil").text
    assert browser.find_element(By.NAME, "sted").get_attribute("value") == "Familiens hjem"
    assert browser.find_element(By.NAME, "medlemmer.0.tittel").get_attribute("value") == "Kontaktlærer"
    page.screenshot("oppgave-med-feil.png")

    # second try: fill in what was missing and add a row with the page's own button
    page.set_value("samtaledato", "2027-01-12")
    page.type("medlemmer.0.navn", "Per Lærer")
    rows_before = len(browser.find_elements(By.CSS_SELECTOR, ".dynamiclist .dl-row"))
    browser.find_element(By.CSS_SELECTOR, ".dynamiclist .dl-add").click()
    page.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".dynamiclist .dl-row")) == rows_before + 1)
    new_row = browser.find_elements(By.CSS_SELECTOR, ".dynamiclist .dl-row")[-1]
    index = new_row.get_attribute("data-index")
    page.type(f"medlemmer.{index}.tittel", "Helsesykepleier")
    page.type(f"medlemmer.{index}.navn", "Siri Helse")
    browser.find_element(By.CSS_SELECTOR, "input[name=tjenester][value=skole]").click()
    browser.find_element(By.ID, "send-inn").click()

    page.wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Hold oppstartmøte")
    assert "Neste oppgave i saken: «Hold oppstartmøte»" in page.find(".flash-success").text
    data = instances.get(orc, case.id, SYSTEM).data
    assert data["medlemmer"] == [{"tittel": "Kontaktlærer", "navn": "Per Lærer"},
                                 {"tittel": "Helsesykepleier", "navn": "Siri Helse"}]
    assert data["samtykke_omfang"] == "Opplysninger om helse deles med skolen" and data["tjenester"] == ["skole"]
    assert page.csp_violations() == []


def test_the_instance_page_marks_completed_elements_on_the_diagram(live_server, browser, orc, case):
    [task] = open_tasks(orc, case.id)
    from orchestrator.services import tasks

    tasks.complete(orc, task.id, {"samtaledato": "2027-01-12", "sted": "Rådhuset", "samtykke": "ja",
                                  "kontakt": {"navn": "Anne"}, "medlemmer": [{"navn": "Per"}]}, SYSTEM)
    _user(orc, "mona", "manager")
    page = Page(browser, live_server)
    page.login("mona")
    page.open(f"/instances/{case.id}")
    page.find("#diagram[data-state=ready]")
    done = page.find('g.djs-element[data-element-id="oppstartsamtale"]')
    assert "orc-done" in done.get_attribute("class")
    assert "orc-done" in page.find('g.djs-element[data-element-id="start"]').get_attribute("class")
    walked = browser.find_elements(By.CSS_SELECTOR, "g.djs-connection.orc-walked")
    assert len(walked) >= 2
    assert "orc-active" in page.find('g.djs-element[data-element-id="oppstartmote"]').get_attribute("class")
    assert "orc-waiting" in page.find('g.djs-element[data-element-id="purring"]').get_attribute("class")
    overlays = [o.text for o in browser.find_elements(By.CSS_SELECTOR, ".orc-overlay")]
    assert any(o.startswith("Frist ") and " kl. " in o for o in overlays), overlays
    assert any(o.startswith("Utløper ") for o in overlays), overlays
    assert "Oppgave fullført" in browser.page_source and "Rådhuset" in browser.page_source
    page.screenshot("instans.png")
    assert page.csp_violations() == []

    page.open("/dashboard")
    assert page.h1() == "Fristoversikt"
    page.screenshot("fristoversikt.png")


def test_a_process_owner_renames_a_task_in_the_modeler_and_deploys_version_two(live_server, browser, orc, case):
    _user(orc, "petra", "process_owner")
    page = Page(browser, live_server)
    page.login("petra")
    page.open("/processes")
    assert "Test: oppstart med koordinator" in browser.page_source
    page.open("/modeler/test_koordinering")
    page.find("#modeler[data-state=ready]")
    page.find('g.djs-element[data-element-id="oppstartmote"]').click()
    page.find('[data-group-id="group-general"] .bio-properties-panel-group-header').click()  # open «General»
    name = page.visible("#bio-properties-panel-name")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys("Hold oppstartmøte med familien")
    page.wait.until(lambda d: "Hold oppstartmøte med familien" in d.find_element(
        By.CSS_SELECTOR, 'g.djs-element[data-element-id="oppstartmote"]').text)
    page.screenshot("modellerer.png")
    button = page.find("#rull-ut")
    page.wait.until(lambda d: button.is_enabled())
    button.click()
    status = page.wait.until(lambda d: d.find_element(By.ID, "editor-status")
                             if "Rullet ut som versjon 2" in d.find_element(By.ID, "editor-status").text else False)
    assert "test_koordinering" in status.text
    saved = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "window.orchestratorModeler.saveXML({format: true}).then(function (r) { done(r.xml); });")
    deployed = processes.source(orc, "test_koordinering", 2, SYSTEM).content.decode()
    assert deployed == saved  # exactly what the modeler wrote, deployed unchanged
    assert 'name="Hold oppstartmøte med familien"' in deployed and 'camunda:formKey="test_mote"' in deployed

    page.open("/processes/test_koordinering")
    assert "v2" in page.find("table.versions").text
    started = instances.start(orc, "test_koordinering", SYSTEM, "SAK-V2", {})
    assert started.process_version == 2
    assert page.csp_violations() == []


def test_a_broken_diagram_shows_the_problems_and_deploys_nothing(live_server, browser, orc, case):
    _user(orc, "petra", "process_owner")
    page = Page(browser, live_server)
    page.login("petra")
    page.open("/modeler/test_koordinering")
    page.find("#modeler[data-state=ready]")
    page.find('g.djs-element[data-element-id="oppstartmote"]').click()
    modeling_script = (
        "var m = window.orchestratorModeler; var el = m.get('elementRegistry').get('oppstartmote');"
        "m.get('modeling').updateProperties(el, {'camunda:formKey': 'finnes_ikke'});")
    browser.execute_script(modeling_script)
    page.find("#rull-ut").click()
    problems = page.visible("#editor-problems")
    assert "oppstartmote" in problems.text and "finnes_ikke" in problems.text
    assert [v.version for v in processes.get_process(orc, "test_koordinering", SYSTEM).versions] == [1]


def test_the_login_page(live_server, browser):
    page = Page(browser, live_server)
    page.open("/tasks")
    page.find("#username")
    assert "/login?next=/tasks" in browser.current_url
    page.screenshot("innlogging.png")
    assert json.dumps(page.csp_violations()) == "[]"



def test_the_properties_panel_edits_every_attribute_the_orchestrator_reads(live_server, browser, orc, deploy):
    import diagrams

    for files in (diagrams.user_task_with_gateway(), diagrams.timers(), diagrams.called_process(),
                  diagrams.messages(), diagrams.business_rule(), diagrams.multi_instance()):
        deploy(*files)
    _user(orc, "petra", "process_owner")
    page = Page(browser, live_server)
    page.login("petra")
    select = (
        "var m = window.orchestratorModeler, r = m.get('elementRegistry'), q = arguments[0];"
        "var el = r.get(q) || r.filter(function (e) { var b = e.businessObject;"
        "  return e.type === 'bpmn:SequenceFlow' && b.sourceRef.id + '>' + b.targetRef.id === q; })[0];"
        "m.get('selection').select(el);")
    shown_groups = ("return Array.from(document.querySelectorAll('[data-group-id]')).map(function (g) {"
                    "  return g.getAttribute('data-group-id'); });")
    expected = [  # (process, element, the groups that edit what engine/authoring.py reads)
        ("test_gateway", "vurder", {"group-CamundaPlatform__Form", "group-CamundaPlatform__UserAssignment"}),
        ("test_gateway", "behov>folg_opp", {"group-CamundaPlatform__Condition"}),
        ("test_tidtakere", "dato", {"group-timer"}),
        ("test_tidtakere", "paminn", {"group-timer"}),
        ("test_forelder", "kall", {"group-CamundaPlatform__CallActivity"}),
        ("test_mottak", "vent_svar", {"group-message"}),
        ("test_avsender", "send", {"group-message", "group-CamundaPlatform__Input"}),
        ("test_dmn", "regel", {"group-CamundaPlatform__Implementation"}),
        ("test_multi", "kontakt", {"group-multiInstance"}),
    ]
    missing = []
    for key, element, groups in expected:
        page.open(f"/modeler/{key}")
        page.find("#modeler[data-state=ready]")
        browser.execute_script(select, element)
        try:  # the panel redraws on the selection event
            WebDriverWait(browser, 10).until(lambda d: groups <= set(d.execute_script(shown_groups)))
        except TimeoutException:
            shown = set(browser.execute_script(shown_groups))
            missing.append((key, element, sorted(groups - shown), sorted(shown)))
    assert not missing
