"""In headless Chromium: signing in through the municipality's OpenID Connect provider (a real
oidc-provider on loopback), and a role change at the provider seen at the next sign-in."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

pytest.register_assert_rewrite("webtools")
import test_browser  # noqa: E402  (its browser fixture and Page helper)
from test_browser import Page, browser  # noqa: E402,F401  (browser is a fixture)

from orchestrator.web.app import create_app  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

pytest_plugins = ["webtools", "oidc_support"]
pytestmark = pytest.mark.browser
PASSWORD = "passord-hos-leverandoren"


@pytest.fixture
def site(orc, settings, oidc_provider):
    """The orchestrator on a loopback port, with the provider that knows its callback address."""
    if orc.db.dialect != "sqlite":
        pytest.skip("browser tests run on SQLite (the pages are the same on PostgreSQL)")
    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    provider = oidc_provider([f"{base}/login/oidc/callback"])
    settings.oidc = provider.settings()
    holder["app"] = create_app(orchestrator=orc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, provider
    server.shutdown()
    thread.join(10)


def _sign_in_at_provider(page: Page, login: str):
    page.find("#logg-inn-oidc").click()
    page.find("#login").send_keys(login)
    page.driver.find_element(By.ID, "password").send_keys(PASSWORD)
    page.driver.find_element(By.ID, "sign-in").click()


def test_staff_sign_in_through_the_municipalitys_provider_and_a_new_role_counts_at_the_next_sign_in(site, browser):
    base, provider = site
    provider.account("siri", PASSWORD, ["skole-ansatte"], name="Siri Skole")
    page = Page(browser, base)
    page.open("/login")
    assert page.find("#logg-inn-oidc").text == "Logg inn med Testkommunens innlogging"
    _sign_in_at_provider(page, "siri")
    page.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mainnav")))
    assert page.find(".who-name").text == "siri" and page.h1().startswith("Oppgaver")
    assert "Fristoversikt" not in page.find(".mainnav").text

    provider.account("siri", PASSWORD, ["ke-ansatte"])  # moved to koordinerende enhet
    page.logout()
    page.find("#logg-inn-oidc").click()  # the provider still knows her: straight back
    page.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".mainnav")))
    assert "Fristoversikt" in page.find(".mainnav").text
    assert page.csp_violations() == []
