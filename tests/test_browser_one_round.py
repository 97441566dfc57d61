"""One round per step in a real browser (issue 14 item 3): a samarbeid check from start to its end
without a single «Ta oppgaven» click, and every error of a submission shown at once, each at its field."""
from __future__ import annotations

import pytest

from routines import ROOT, instance_of  # noqa: F401
from test_browser import PASSWORD, Page, browser, live_server  # noqa: F401  (fixtures)
from orchestrator.services import instances, users
from orchestrator.services.access import SYSTEM

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytest_plugins = ["webtools"]
pytestmark = pytest.mark.browser


@pytest.fixture
def tina(orc, deploy):
    deploy(ROOT / "processes", ROOT / "forms")
    users.add(orc, "tina", ["tjenesteyter"], PASSWORD, display_name="Tina Helse", services=["helsestasjon"])


def _no_claim_button(browser) -> bool:
    return browser.find_elements(By.ID, "ta-oppgaven") == []


def test_a_samarbeid_check_is_completed_without_taking_any_task(live_server, browser, orc, tina):
    page = Page(browser, live_server)
    page.login("tina")
    page.open("/instances/new/samarbeid")
    page.type("__saksnummer", "2027/77")
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()
    page.wait.until(lambda d: "Steg 1" in d.find_element(By.TAG_NAME, "h1").text)
    assert _no_claim_button(browser) and "Den første oppgaven er tatt til deg." in browser.page_source

    # step 1 with one error left in: every error comes back at once, each at its field
    browser.find_element(By.CSS_SELECTOR, "input[name=andre_tjenester][value=ja]").click()
    page.visible("select[name='tjenester.0.tjeneste']")
    Select(browser.find_element(By.NAME, "tjenester.0.tjeneste")).select_by_value("skole")
    browser.find_element(By.ID, "send-inn").click()
    page.visible(".error-summary")
    summary = browser.find_element(By.CSS_SELECTOR, ".error-summary").text
    assert summary.count("Feltet må fylles ut.") == 2  # gjelder and the conclusion, together
    assert browser.find_element(By.NAME, "tjenester.0.tjeneste").get_attribute("value") == "skole"

    page.type("gjelder", "Emma S.")
    page.type("konklusjon_steg1", "Skolen er involvert.")
    browser.find_element(By.ID, "send-inn").click()
    page.wait.until(lambda d: "Steg 2" in d.find_element(By.TAG_NAME, "h1").text)
    assert _no_claim_button(browser) and "Den er tatt til deg" in browser.page_source
    assert "Deg" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text

    browser.find_element(By.CSS_SELECTOR, "input[name=samarbeid_nodvendig][value=nei]").click()
    page.type("begrunnelse_steg2", "Skolen følger opp alene; behovet er kortvarig.")
    browser.find_element(By.ID, "send-inn").click()
    page.wait.until(lambda d: d.current_url.endswith("/tasks") and "er sendt inn" in d.page_source)  # back at the list
    check = instance_of(orc, "samarbeid", "2027/77")
    assert instances.get(orc, check.id, SYSTEM).status == "completed"
    claims = [h for h in instances.get(orc, check.id, SYSTEM).history if h["action"] == "task_claimed"]
    assert [(h["actor"], h["element_id"]) for h in claims] == [("tina", "steg1"), ("tina", "steg2")]
    assert page.csp_violations() == []
