"""The e-mail itself (RFC 5322/MIME), built once when the notice is queued and stored as sent.

Because the stored bytes are what every attempt sends, a retry repeats the same Message-ID and
Date: receivers that drop duplicates (docs/notices.md) recognise it.

An innkalling is laid out the way calendar services send invitations, which Outlook, Gmail and
Apple Mail all show as a meeting to accept or decline:

    multipart/mixed
      multipart/alternative
        text/plain                       the notice
        text/html                        the same, formatted
        text/calendar; method=REQUEST    the invite (or CANCEL)
      application/ics  invitasjon.ics    the same invite as a file, for clients that need one
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from ...clock import OSLO
from .payload import Person


def sender_address(mail_from: str) -> tuple[str, str]:
    """(display name, address) of the configured sender."""
    name, address = parseaddr(mail_from)
    if not address or "@" not in address:
        raise ValueError(f"ORCHESTRATOR_MAIL_FROM er ikke en e-postadresse: «{mail_from}»")
    return name, address


def mail_domain(mail_from: str, public_url: str) -> str:
    """The domain our Message-IDs and calendar UIDs live in."""
    try:
        return sender_address(mail_from)[1].rsplit("@", 1)[1].lower()
    except ValueError:
        host = urlsplit(public_url).hostname
        return host or "localhost"


def new_message_id(domain: str) -> str:
    return f"<utsending.{uuid.uuid4().hex}@{domain}>"


# Characters that separate or delimit addresses (RFC 5322 "specials" but the period, and controls).
_ADDRESS_SYNTAX = re.compile(r'[,;:<>@"()\[\]\\\x00-\x1f\x7f]+')


def display_name(name: str | None) -> str:
    """A person's name as it may stand before their address.

    The name is encoded (RFC 2047) when it is not ASCII, but a client that decodes it and then
    re-reads the header, as some do on reply-all, would see `Kari, x <evil@example>` as two
    recipients. So the characters that make address syntax are replaced by spaces first: the
    name stays readable and can never add an address.
    """
    return " ".join(_ADDRESS_SYNTAX.sub(" ", name or "").split())


def _address(person: Person) -> Address:
    local, domain = person.adresse.rsplit("@", 1)
    return Address(display_name=display_name(person.navn), username=local, domain=domain)


def compose(*, mail_from: str, recipient: Person, subject: str, text: str, html: str, message_id: str,
            date: datetime, reply_to: Person | None = None, calendar: bytes | None = None,
            method: str | None = None) -> str:
    """The whole message as ASCII text with CRLF line ends (8-bit content is QP/base64-encoded)."""
    message = EmailMessage(policy=SMTP)
    name, address = sender_address(mail_from)
    local, domain = address.rsplit("@", 1)
    message["From"] = Address(display_name=name, username=local, domain=domain)
    message["To"] = _address(recipient)
    if reply_to is not None and reply_to.key != address.casefold():
        message["Reply-To"] = _address(reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(date.astimezone(OSLO))
    message["Message-ID"] = message_id
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if calendar is not None:
        message.add_alternative(calendar, maintype="text", subtype="calendar", cte="base64",
                                params={"method": method, "charset": "UTF-8"})
        message.add_attachment(calendar, maintype="application", subtype="ics", filename="invitasjon.ics")
    message["Content-Language"] = "nb"  # after the body: set_content clears Content-* headers
    return message.as_bytes(policy=SMTP).decode("ascii")

