"""Handing a stored message to the world: an SMTP server, or the local sink when there is none.

`SmtpTransport` honours ORCHESTRATOR_SMTP_SECURITY (`none`, `starttls`, `tls`), logs in when a
username is configured (never over an unencrypted connection to another machine), keeps one
connection for a worker pass and classifies every answer:

- accepted (2xx)                                  -> sent
- refused 5xx after DATA saying "duplicate"       -> sent: the server already holds a copy with
                                                     this Message-ID, which only we generate
- refused 5xx for the recipient or the content    -> permanent: give up now, escalate
- anything else (cannot connect, 4xx, timeouts,
  login or sender refused, TLS problems)          -> retry later with back-off

`SinkTransport` writes the message as an .eml file under var/utsendinger/ so a newcomer running
`make run` without a mail server sees what would have been sent (and the Utsendinger page lists it).
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...config import Settings

SENT, DUPLICATE, SUNK, RETRY, PERMANENT = "sent", "duplicate", "sink", "retry", "permanent"
DUPLICATE_MARKERS = ("duplicate", "duplikat")


@dataclass(frozen=True)
class Claimed:
    """A notice leased to this worker, as read when it was claimed."""

    id: int
    kind: str
    instance_id: int | None
    business_key: str | None
    meeting_id: str
    recipient: str
    recipient_name: str | None
    message_id: str
    message: str
    attempts: int  # including this attempt
    lease_until: datetime | None


@dataclass(frozen=True)
class Outcome:
    result: str  # SENT | DUPLICATE | SUNK | RETRY | PERMANENT
    detail: str | None = None

    @property
    def delivered(self) -> bool:
        return self.result in (SENT, DUPLICATE, SUNK)


class ConfigurationError(Exception):
    pass


def _reply(code: int, message) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """One SMTP connection per worker pass, opened on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._down: str | None = None  # the server could not be reached in this pass

    @property
    def where(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def _security(self) -> str:
        security = (self.settings.smtp_security or "none").strip().lower()
        if security not in ("none", "starttls", "tls"):
            raise ConfigurationError(
                f"ORCHESTRATOR_SMTP_SECURITY må være none, starttls eller tls (er «{self.settings.smtp_security}»)")
        return security

    def _tls_context(self) -> ssl.SSLContext:
        # Verifies the server's certificate and host name; an internal CA can be given as a
        # file in ORCHESTRATOR_SMTP_CA_FILE (settings.smtp_ca_file) or OpenSSL's SSL_CERT_FILE.
        return ssl.create_default_context(cafile=self.settings.smtp_ca_file)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        security = self._security()
        if settings.smtp_username and security == "none" and not _is_loopback(settings.smtp_host):
            raise ConfigurationError(
                "SMTP-brukernavn og -passord sendes ikke ukryptert; sett ORCHESTRATOR_SMTP_SECURITY til "
                "starttls eller tls")
        timeout = settings.smtp_timeout_seconds
        if security == "tls":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                    context=self._tls_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        try:
            smtp.ehlo()
            if security == "starttls":
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:  # still there (servers close idle connections)
                    return self._smtp
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()
        self._smtp = self._connect()
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def send(self, notice: Claimed, envelope_from: str) -> Outcome:
        if self._down is not None:
            return Outcome(RETRY, self._down)
        try:
            smtp = self._connection()
        except ConfigurationError as error:
            self._down = str(error)
            return Outcome(RETRY, self._down)
        except smtplib.SMTPAuthenticationError as error:
            self._down = f"E-postserveren {self.where} avviste innloggingen ({_reply(error.smtp_code, error.smtp_error)})"
            return Outcome(RETRY, self._down)
        except smtplib.SMTPNotSupportedError as error:
            self._down = f"E-postserveren {self.where} støtter ikke det som er konfigurert ({error})"
            return Outcome(RETRY, self._down)
        except ssl.SSLError as error:
            self._down = f"TLS mot e-postserveren {self.where} feilet ({error})"
            return Outcome(RETRY, self._down)
        except smtplib.SMTPResponseException as error:
            self._down = f"E-postserveren {self.where} svarte med feil ({_reply(error.smtp_code, error.smtp_error)})"
            return Outcome(RETRY, self._down)
        except (OSError, smtplib.SMTPException) as error:
            self._down = f"Får ikke kontakt med e-postserveren {self.where} ({error or type(error).__name__})"
            return Outcome(RETRY, self._down)
        try:
            smtp.sendmail(envelope_from, [notice.recipient], notice.message.encode("ascii"))
            return Outcome(SENT, None)
        except smtplib.SMTPRecipientsRefused as error:
            code, message = next(iter(error.recipients.values()), (0, b""))
            reply = _reply(code, message)
            if code >= 500:
                return Outcome(PERMANENT, f"Mottakeradressen ble avvist av e-postserveren ({reply})")
            return Outcome(RETRY, f"Mottakeradressen ble midlertidig avvist ({reply})")
        except smtplib.SMTPDataError as error:
            reply = _reply(error.smtp_code, error.smtp_error)
            if error.smtp_code >= 500 and any(marker in reply.lower() for marker in DUPLICATE_MARKERS):
                return Outcome(DUPLICATE, f"Serveren hadde allerede denne e-posten og avviste kopien ({reply})")
            if error.smtp_code >= 500:
                return Outcome(PERMANENT, f"E-postserveren avviste e-posten ({reply})")
            return Outcome(RETRY, f"E-postserveren avviste e-posten midlertidig ({reply})")
        except smtplib.SMTPSenderRefused as error:
            return Outcome(RETRY, f"E-postserveren avviste avsenderadressen ({_reply(error.smtp_code, error.smtp_error)})")
        except smtplib.SMTPResponseException as error:
            self._drop()
            return Outcome(RETRY, f"E-postserveren svarte med feil ({_reply(error.smtp_code, error.smtp_error)})")
        except (OSError, smtplib.SMTPException) as error:
            # Cut off mid-conversation: the outcome is unknown; a retry repeats the Message-ID.
            self._drop()
            return Outcome(RETRY, f"Forbindelsen til e-postserveren {self.where} brøt ({error or type(error).__name__})")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()


class SinkTransport:
    """No SMTP server: keep the message as var/utsendinger/<id>-<kind>.eml (owner-only)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, notice_id: int, kind: str) -> Path:
        return self.folder / f"{notice_id:06d}-{kind}.eml"

    def send(self, notice: Claimed, envelope_from: str) -> Outcome:
        domain = notice.recipient.rpartition("@")[2].lower().rstrip(".")
        if domain == "invalid" or domain.endswith(".invalid"):
            # what any mail server answers for a domain that cannot exist (RFC 2606): a permanent refusal
            return Outcome(PERMANENT, f"Adressen {notice.recipient} kan ikke motta e-post: domenet finnes ikke")
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self.path_for(notice.id, notice.kind)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(notice.message.encode("ascii"))
                os.chmod(temporary, 0o600)
                os.replace(temporary, target)  # the same file on a retry: never two copies
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            return Outcome(RETRY, f"Kunne ikke skrive til utsendingsmappen {self.folder} ({error})")
        return Outcome(SUNK, str(target))

    def close(self) -> None:
        pass


def for_settings(settings: Settings) -> SmtpTransport | SinkTransport:
    if settings.smtp_host:
        return SmtpTransport(settings)
    return sink(settings)


def sink(settings: Settings) -> SinkTransport:
    """The local folder (var/utsendinger/); retention removes its copies of erased e-mails too."""
    return SinkTransport(settings.var_dir / "utsendinger")


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except (OSError, smtplib.SMTPException):
        pass

