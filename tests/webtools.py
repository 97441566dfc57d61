"""Shared helpers for the web tests: the app on the test's orchestrator, a signed-in client,
CSRF tokens as a browser gets them, bearer tokens, and one user per role."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from orchestrator.services import sessions, users
from orchestrator.services.access import ALL_ROLES
from orchestrator.web.app import create_app
from orchestrator.web.auth import SESSION_KEY

# One user per role (the five staff roles, process_owner, manager), as the access matrix uses them.
ROLE_USERS = {
    "tjenesteyter": "tina",
    "koordinerende_enhet": "kari",
    "koordinator": "kora",
    "leder": "lars",
    "kommuneledelse": "kim",
    "process_owner": "petra",
    "manager": "mona",
}
assert set(ROLE_USERS) == set(ALL_ROLES)
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def app(orc):
    application = create_app(orchestrator=orc)
    application.config["TESTING"] = True
    return application


class WebClient:
    """A Flask test client that signs in and sends the CSRF token the way the pages do."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def login(self, username: str) -> "WebClient":
        """Signed in as `username` with a real server-side session, as a password sign-in makes one."""
        session_id = sessions.start(self.app.extensions["orchestrator"], username, "password")
        with self.client.session_transaction() as session:
            session.clear()
            session[SESSION_KEY] = session_id
        return self

    def logout(self) -> "WebClient":
        with self.client.session_transaction() as session:
            session.clear()
        return self

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            signed_in = SESSION_KEY in session
        page = self.client.get("/instances" if signed_in else "/login")
        match = _CSRF_META.search(page.get_data(as_text=True))
        assert match, page.get_data(as_text=True)[:500]
        return match.group(1)

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, csrf: bool = True, **kwargs):
        data = dict(data or {}) if not isinstance(data, list) else data
        if csrf:
            token = self.csrf()
            if isinstance(data, list):
                data = data + [("csrf_token", token)]
            else:
                data["csrf_token"] = token
        if isinstance(data, list):
            from werkzeug.datastructures import MultiDict

            data = MultiDict(data)
        return self.client.post(url, data=data, **kwargs)

    def api(self, method: str, url: str, token: str | None = None, csrf: bool = False, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if csrf:
            headers["X-CSRFToken"] = self.csrf()
        return self.client.open(url, method=method, headers=headers, **kwargs)


@pytest.fixture
def web(app) -> WebClient:
    return WebClient(app)


@pytest.fixture
def new_client(app):
    return lambda: WebClient(app)


@dataclass
class RoleUsers:
    tokens: dict[str, str]  # role -> bearer token

    def user(self, role: str) -> str:
        return ROLE_USERS[role]


@pytest.fixture
def role_users(orc, make_user) -> RoleUsers:
    """One user per role (no password: fast) with a bearer token each."""
    tokens = {}
    for role, username in ROLE_USERS.items():
        make_user(username, role)
        tokens[role] = users.create_token(orc, username)
    return RoleUsers(tokens)


def form_field_names(html: str) -> set[str]:
    return set(re.findall(r'name="([^"]+)"', html))


def rich_form_process():
    """A coordinator's two steps; the first has a form with every kind of field the pages draw."""
    import json

    from bpmnbuilder import Process

    p = Process("test_koordinering", "Test: oppstart med koordinator", lanes=["Koordinator", "Leder"])
    p.start("start", "Start", lane="Koordinator")
    p.user("oppstartsamtale", "Gjennomfør oppstartsamtale", lane="Koordinator", form="test_oppstart",
           doc="Avtal samtalen med **bruker og pårørende**.\n\n- Kartlegg ønsker\n- Avklar samtykke")
    p.user("oppstartmote", "Hold oppstartmøte", lane="Koordinator", form="test_mote", due="P7D")
    p.boundary("purring", "Ikke holdt etter 14 dager", attached_to="oppstartmote", timer=("timeDuration", "P14D"),
               interrupting=False)
    p.user("folg_opp_koordinator", "Følg opp koordinatoren", lane="Leder")
    p.end("slutt", "Slutt", lane="Koordinator")
    p.end("slutt_leder", "Fulgt opp", lane="Leder")
    p.chain("start", "oppstartsamtale", "oppstartmote", "slutt")
    p.chain("purring", "folg_opp_koordinator", "slutt_leder")
    oppstart = {"type": "default", "id": "test_oppstart", "components": [
        {"type": "text", "text": "## Oppstart\nSaken gjelder {{ saksbeskrivelse }}."},
        {"type": "datetime", "subtype": "date", "key": "samtaledato", "label": "Dato for samtalen",
         "validate": {"required": True}},
        {"type": "textfield", "key": "sted", "label": "Sted", "validate": {"required": True, "maxLength": 80}},
        {"type": "number", "key": "antall_deltakere", "label": "Antall deltakere", "decimalDigits": 0,
         "validate": {"min": 1, "max": 20}},
        {"type": "radio", "key": "samtykke", "label": "Samtykke gitt?", "validate": {"required": True},
         "values": [{"label": "Ja", "value": "ja"}, {"label": "Nei", "value": "nei"}]},
        {"type": "textarea", "key": "samtykke_omfang", "label": "Hva samtykket gjelder",
         "conditional": {"hide": '=samtykke != "ja"'}},
        {"type": "checklist", "key": "tjenester", "label": "Tjenester involvert",
         "values": [{"label": "Helsestasjon", "value": "helsestasjon"}, {"label": "Skole", "value": "skole"},
                    {"label": "NAV", "value": "nav"}]},
        {"type": "checkbox", "key": "parorende_informert", "label": "Pårørende er informert"},
        {"type": "group", "path": "kontakt", "label": "Kontaktperson", "components": [
            {"type": "textfield", "key": "navn", "label": "Navn", "validate": {"required": True}},
            {"type": "textfield", "key": "telefon", "label": "Telefon", "validate": {"validationType": "phone"}},
        ]},
        {"type": "dynamiclist", "path": "medlemmer", "label": "Medlemmer", "validate": {"required": True},
         "components": [
             {"type": "textfield", "key": "tittel", "label": "Tittel"},
             {"type": "textfield", "key": "navn", "label": "Navn", "validate": {"required": True}},
         ]},
    ]}
    mote = {"type": "default", "id": "test_mote", "components": [
        {"type": "textfield", "key": "referat", "label": "Referat", "validate": {"required": True}}]}
    return [("test_koordinering.bpmn", p.to_xml()), ("test_oppstart.form", json.dumps(oppstart)),
            ("test_mote.form", json.dumps(mote))]


GOOD_OPPSTART = {
    "samtaledato": "2027-01-10", "sted": "Rådhuset", "antall_deltakere": "3", "samtykke": "ja",
    "samtykke_omfang": "Helseopplysninger til skolen", "tjenester": ["helsestasjon", "skole"],
    "parorende_informert": "on", "kontakt.navn": "Ola Nordmann", "kontakt.telefon": "+47 99 99 99 99",
    "medlemmer.0.tittel": "Lærer", "medlemmer.0.navn": "Kari Lærer",
}


def as_form_items(values: dict) -> list[tuple[str, str]]:
    items = []
    for key, value in values.items():
        for v in (value if isinstance(value, list) else [value]):
            items.append((key, v))
    return items
