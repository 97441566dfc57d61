"""Fixtures and test diagrams for the e-mail notices (tests/test_notices_*.py).

- `mailbox`: a real SMTP server (aiosmtpd) on 127.0.0.1 and a free port. It keeps every message it
  accepts (parsed with the email package) and, like a receiving system that drops duplicates,
  refuses with 550 a message whose Message-ID it has already accepted, counting the refusals.
  `mailbox.server.stop()` / `.start()` take it down and bring it back on the same port.
- `smtp`: the orchestrator's settings pointed at that server.
- `meeting_series()` and `ansvarsgruppe_mini()`: small ansvarsgruppe-like diagrams throwing the
  notice messages of the contract (innkalling, innkalling_endret, moete_avlyst, referat), with a
  non-interrupting event subprocess that gives the leader a task on `utsending_feilet`.

Test modules import the fixtures by name: `from notice_support import mailbox, smtp  # noqa: F401`.
"""
from __future__ import annotations

import contextlib
import email
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import icalendar
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bpmnbuilder import Process
from diagrams import choice, form, text_field
from orchestrator.services.notices import delivery

KE, LEDER = "Koordinerende enhet", "Leder"
OSLO_OFFSET = "+01:00"


# --- the SMTP server ---------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    authenticated_as: str | None = None
    tls: bool = False

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str | None:
        for part in self.message.walk():
            if not part.is_multipart() and part.get_content_type() == content_type:
                value = part.get_content()
                return value.decode("utf-8") if isinstance(value, bytes) else value
        return None

    @property
    def text(self) -> str:
        return self.part("text/plain") or ""

    @property
    def html(self) -> str:
        return self.part("text/html") or ""

    def calendar_part(self):
        for part in self.message.walk():
            if part.get_content_type() == "text/calendar":
                return part
        return None

    def invite(self) -> icalendar.Calendar | None:
        """The text/calendar part, parsed back with icalendar (as a client would)."""
        text = self.part("text/calendar")
        return icalendar.Calendar.from_ical(text) if text is not None else None

    def event(self) -> icalendar.Event:
        return self.invite().walk("VEVENT")[0]


@dataclass
class Mailbox:
    """The handler: accepts, records, refuses duplicates by Message-ID."""

    accepted: list[Received] = field(default_factory=list)
    refused_duplicates: list[str] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    server: "SmtpServer | None" = None
    _seen: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=default_policy)
        message_id = message["Message-ID"]
        with self._lock:
            if message_id in self._seen:
                self.refused_duplicates.append(message_id)
                return f"550 5.7.1 Duplicate Message-ID {message_id}: already accepted"
            self._seen.add(message_id)
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            self.accepted.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw,
                                          authenticated_as=login, tls=encrypted))
        return "250 2.0.0 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.accepted if address in m.rcpt_tos]

    def recipients(self) -> list[str]:
        return sorted(address for m in self.accepted for address in m.rcpt_tos)


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """An aiosmtpd Controller on a fixed loopback port that can be stopped and started again."""

    def __init__(self, handler: Mailbox, port: int | None = None, **smtp_options):
        self.handler = handler
        self.port = port or free_port()
        self.options = smtp_options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.server = SmtpServer(box)
    box.server.start()
    yield box
    box.server.stop()


@pytest.fixture
def smtp(settings, mailbox):
    """Settings pointed at the loopback server (the orchestrator `orc` shares this object)."""
    settings.smtp_host = "127.0.0.1"
    settings.smtp_port = mailbox.server.port
    settings.smtp_security = "none"
    settings.smtp_timeout_seconds = 5.0
    settings.mail_from = "Koordinerende enhet <ke@lund.kommune.invalid>"
    return settings


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (cryptography if installed, else the openssl command)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _certificate_with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True)
    return cert, key


def _certificate_with_cryptography(cert: Path, key: Path) -> None:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now().astimezone()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def password_checker(username: str, password: str):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == username \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, auth_data=auth_data if ok else None)
    return authenticate


# --- the data of a meeting -------------------------------------------------------------------------
KARI = {"tittel": "Lærer", "navn": "Kari Nordmann", "adresse": "kari.nordmann@skole.lund.example", "tjeneste": "skole"}
PER = {"tittel": "NAV-veileder", "navn": "Per Ås", "adresse": "per.aas@nav.example", "tjeneste": "nav"}
LISE = {"tittel": "Helsesykepleier", "navn": "Lise Berg", "adresse": "lise.berg@lund.kommune.example",
        "tjeneste": "helsestasjon"}
# the consent the case's notices need (decision 0016): recorded by the test diagrams' first step
CONSENT = {"dato": "2027-01-05", "gitt_av": "foresatte", "form": "skriftlig", "omfatter": ["ansvarsgruppe"],
           "deles_med": ["helsestasjon", "nav", "skole"]}
LEDER_LISE = {"navn": "Lise Berg", "adresse": "lise.berg@lund.kommune.example"}


def oslo(moment: datetime) -> str:
    """ISO 8601 with the offset Oslo has in winter (the tests' dates are in winter)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Oslo")).isoformat()


def meeting_data(when: datetime, moete_id: str = "SAK-2027-14-m1", deltakere=None, **extra) -> dict:
    data = {
        "moete_id": moete_id,
        "gjelder": "Ola N.",
        "tidspunkt": oslo(when),
        "varighet_minutter": 90,
        "sted": "Lund rådhus, møterom 2",
        "saksliste": ["Velkommen og status siden sist", "Skole: tilrettelegging", "Fritid og avlastning"],
        "deltakere": deltakere if deltakere is not None else [KARI, PER, LISE],
        "leder": LEDER_LISE,
        "gruppe": "Ansvarsgruppe SAK-2027-14",
        # what the referat will carry
        "beslutninger": ["Skolen søker om ekstra assistent fra mars."],
        "ansvarsfordeling": [{"oppgave": "Sende søknad om assistent", "ansvarlig": "Kari Nordmann",
                              "frist": "2027-03-01"},
                             {"oppgave": "Undersøke avlastningstilbud", "ansvarlig": "Lise Berg"}],
        "faglig_uenighet": "NAV mener arbeidstrening bør vente til høsten; skolen mener den bør starte nå.",
        "mottakere": deltakere if deltakere is not None else [KARI, PER, LISE],
        # the optional fields of the «neste» form (an empty optional field is not submitted)
        "nytt_tidspunkt": "", "nytt_sted": "", "fjern_adresse": "", "beslutning": "",
        "samtykke": CONSENT,
    }
    data.update(extra)
    return data


MEETING_PAYLOAD = {key: key for key in ("moete_id", "gjelder", "tidspunkt", "varighet_minutter", "sted",
                                        "saksliste", "deltakere", "leder", "gruppe")}
MINUTES_PAYLOAD = {key: key for key in ("moete_id", "gjelder", "tidspunkt", "sted", "gruppe", "ansvarsfordeling",
                                        "faglig_uenighet", "mottakere")}


def _escalation(p: Process) -> None:
    """A non-interrupting event subprocess: a failed notice gives the leader an escalation task."""
    sub = Process("ved_feilet_utsending_innhold", "Utsending feilet")
    sub.start("feilet_start", "Utsending feilet", message="utsending_feilet")
    sub.nodes["feilet_start"].attrs["isInterrupting"] = "false"
    sub.user("eskalering_utsending", "Følg opp utsending som ikke kom fram", groups="leder")
    sub.end("feilet_slutt", "Fulgt opp")
    sub.chain("feilet_start", "eskalering_utsending", "feilet_slutt")
    p.subprocess("ved_feilet_utsending", "Utsending feilet", sub, lane=LEDER, triggered_by_event=True)


def meeting_series(escalation: bool = True, key: str = "test_moeteserie"):
    """innkalling at once; then, as often as chosen: move (innkalling_endret), cancel, or minutes."""
    p = Process(key, "Test: møteserie med utsendinger", lanes=[KE, LEDER])
    p.start("start", "Møtet er avtalt", lane=KE)
    p.throw("send_innkalling", "Send innkalling", lane=KE, message="innkalling", payload=MEETING_PAYLOAD)
    p.user("neste", "Hva skjer med møtet?", lane=KE, form="test_moete_neste")
    p.xor("hva", "Valg", lane=KE)
    p.script("endre", "Endre møtet",
             "if nytt_tidspunkt:\n    tidspunkt = nytt_tidspunkt\n"
             "if nytt_sted:\n    sted = nytt_sted\n"
             "if fjern_adresse:\n    deltakere = [d for d in deltakere if d['adresse'] != fjern_adresse]\n"
             "nytt_tidspunkt = nytt_sted = fjern_adresse = ''\n",
             lane=KE)
    p.throw("send_endring", "Send endret innkalling", lane=KE, message="innkalling_endret",
            payload=MEETING_PAYLOAD)
    p.end("avlyst", "Møtet er avlyst", lane=KE, message="moete_avlyst", payload=MEETING_PAYLOAD)
    p.end("referat_sendt", "Referat sendt", lane=KE, message="referat",
          payload={**MINUTES_PAYLOAD, "beslutninger": "beslutninger + ([beslutning] if beslutning else [])"})
    p.throw("registrer_samtykke", "Samtykke registreres på saken", lane=KE, message="samtykke_registrert",
            payload={"samtykke": "samtykke"})
    p.chain("start", "registrer_samtykke", "send_innkalling", "neste", "hva")
    p.flow("hva", "endre", name="Flytt eller endre", condition='valg == "flytt"')
    p.flow("hva", "avlyst", name="Avlys", condition='valg == "avlys"')
    p.flow("hva", "referat_sendt", name="Referat", default=True)
    p.chain("endre", "send_endring", "neste")
    if escalation:
        _escalation(p)
    neste = form("test_moete_neste", choice("valg", ["flytt", "avlys", "referat"]),
                 text_field("nytt_tidspunkt", required=False), text_field("nytt_sted", required=False),
                 text_field("fjern_adresse", required=False), text_field("beslutning", required=False))
    return [(f"{key}.bpmn", p.to_xml()), neste]


def ansvarsgruppe_mini():
    """The routine's shape: meeting agreed -> 14 days before it the innkalling goes -> minutes after."""
    p = Process("test_ansvarsgruppe_mini", "Test: ansvarsgruppe (innkalling og referat)", lanes=[KE, LEDER])
    p.start("start", "Neste møte er avtalt", lane=KE)
    p.catch("innkallingsfrist", "14 dager før møtet", lane=KE,
            timer=("timeDate", "iso(subtract_days(tidspunkt, 14))"))
    p.throw("send_innkalling", "Send innkalling", lane=KE, message="innkalling", payload=MEETING_PAYLOAD)
    p.user("skriv_referat", "Skriv referat", lane=KE, form="test_referat_skjema")
    p.end("send_referat", "Send referat", lane=KE, message="referat",
          payload={**MINUTES_PAYLOAD, "beslutninger": "[beslutning]", "neste_moete": "neste_moete"})
    p.throw("registrer_samtykke", "Samtykke registreres på saken", lane=KE, message="samtykke_registrert",
            payload={"samtykke": "samtykke"})
    p.chain("start", "registrer_samtykke", "innkallingsfrist", "send_innkalling", "skriv_referat", "send_referat")
    _escalation(p)
    referat = form("test_referat_skjema", text_field("beslutning"), text_field("neste_moete"))
    return [("test_ansvarsgruppe_mini.bpmn", p.to_xml()), referat]


def run_delivery(orc, owner: str = "test-worker") -> list[delivery.Delivered]:
    return delivery.deliver_due(orc, owner)
