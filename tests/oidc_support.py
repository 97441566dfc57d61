"""A real OpenID Connect provider for the tests: tests/oidc/provider.mjs (`oidc-provider` from npm)
in a Node process on a free loopback port, with accounts the test can change between sign-ins.

`oidc_provider(redirect_uris)` starts one; `TestProvider.sign_in(...)` walks its sign-in pages over
HTTP the way a browser would and returns the address it sends the browser back to.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from orchestrator.config import OidcSettings

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "orkestrator", "test-klienthemmelighet-som-er-lang-nok"
PROVIDER_NAME = "Testkommunens innlogging"
# as a municipality would map its directory groups (docs/identity.md)
MAPPING = {"groups": {
    "ke-ansatte": {"roles": ["koordinerende_enhet"], "services": ["helse_omsorg"]},
    "skole-ansatte": {"roles": ["tjenesteyter"], "services": ["skole"]},
    "ppt-ansatte": {"roles": ["tjenesteyter"], "services": ["ppt"]},
    "skole-ledere": {"roles": ["leder"], "services": ["skole"]},
}}


class TestProvider:
    __test__ = False  # not a test class

    def __init__(self, process: subprocess.Popen, issuer: str, accounts_file: Path):
        self.process, self.issuer, self.accounts_file = process, issuer, accounts_file
        self.browser = requests.Session()  # the provider's own cookies (its single sign-on session)

    def account(self, login: str, password: str, groups: list[str], **claims) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login] = {"password": password, "preferred_username": login, "groups": groups, **claims}
        self.accounts_file.write_text(json.dumps(accounts))

    def settings(self, **overrides) -> OidcSettings:
        values = dict(issuer=self.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      scopes="openid profile email groups", provider_name=PROVIDER_NAME, mapping=MAPPING)
        return OidcSettings(**{**values, **overrides})

    def sign_in(self, authorize_url: str, login: str, password: str, cancel: bool = False) -> str:
        """Through the provider's pages; the address (with code and state, or an error) it redirects back to."""
        response = self.browser.get(authorize_url, allow_redirects=False, timeout=10)
        for _ in range(10):
            if response.is_redirect:
                target = urljoin(response.url, response.headers["Location"])
                if not target.startswith(self.issuer):
                    return target
                response = self.browser.get(target, allow_redirects=False, timeout=10)
                continue
            uid = re.search(r'action="/interaction/([^/"]+)/login"', response.text)
            assert uid, response.text[:500]
            if cancel:
                response = self.browser.get(f"{self.issuer}/interaction/{uid.group(1)}/abort", allow_redirects=False, timeout=10)
            else:
                response = self.browser.post(f"{self.issuer}/interaction/{uid.group(1)}/login", allow_redirects=False,
                                             data={"login": login, "password": password}, timeout=10)
                assert response.is_redirect, response.text[:500]  # a wrong password stays on the form
        raise AssertionError("the provider never sent the browser back")


@pytest.fixture
def oidc_provider(tmp_path):
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").exists():
        pytest.skip("Node.js and `npm ci` (oidc-provider) are needed for the OpenID Connect tests (make assets)")
    started: list[subprocess.Popen] = []

    def start(redirect_uris: list[str]) -> TestProvider:
        folder = tmp_path / f"oidc-{len(started)}"
        folder.mkdir()
        accounts = folder / "accounts.json"
        accounts.write_text("{}")
        config = folder / "config.json"
        config.write_text(json.dumps({"client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                                 "redirect_uris": redirect_uris}, "accounts_file": str(accounts)}))
        log = folder / "provider.log"  # its warnings (development keys, in-memory storage): not read back
        with log.open("w") as stderr:
            process = subprocess.Popen([node, str(SCRIPT), str(config)], stdout=subprocess.PIPE, stderr=stderr,
                                       text=True, cwd=ROOT)
        started.append(process)
        line = _first_line(process, timeout=30)
        assert line.startswith("READY "), (line, log.read_text())
        return TestProvider(process, line.split()[1], accounts)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""
