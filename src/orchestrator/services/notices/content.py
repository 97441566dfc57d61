"""What the e-mails say: subject lines, plain text and HTML in Norwegian (bokmål).

The innkalling carries the four contents seed 004 section 11.4 requires: whom the meeting
concerns, the participants (title, name, address), time and place, and the agenda. The referat
follows the innkalling's agenda point by point, with the decision on each, then other decisions, the
division of responsibility and recorded professional disagreement. Subject lines and the calendar
carry no name of the person the case concerns (docs/notices.md).

HTML is rendered by Jinja2 with autoescaping, so staff-written text cannot inject markup.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from jinja2 import Environment, StrictUndefined

from .constants import INNKALLING_ENDRET, MOETE_AVLYST
from .payload import Meeting, Minutes, Person
from ...clock import OSLO

WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
MONTHS = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
          "november", "desember")

# Variants of a meeting notice for one recipient.
INVITED, CHANGED, REMOVED, CANCELLED = "innkalt", "endret", "fjernet", "avlyst"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Previous:
    """What the last invite for the meeting said, to tell recipients what changed."""

    tidspunkt: datetime | None
    sted: str | None


# --- Norwegian dates ------------------------------------------------------------------------------
def local(moment: datetime) -> datetime:
    return moment.astimezone(OSLO)


def day_text(value: date) -> str:
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


def date_text(moment: datetime) -> str:
    """«tirsdag 16. februar 2027» (Oslo time)."""
    moment = local(moment)
    return f"{WEEKDAYS[moment.weekday()]} {day_text(moment.date())}"


def clock_text(moment: datetime) -> str:
    moment = local(moment)
    return f"{moment.hour:02d}.{moment.minute:02d}"


def moment_text(moment: datetime) -> str:
    """«tirsdag 16. februar 2027 kl. 10.00»."""
    return f"{date_text(moment)} kl. {clock_text(moment)}"


def span_text(start: datetime, end: datetime) -> str:
    """«tirsdag 16. februar 2027 kl. 10.00–11.30»."""
    if local(start).date() == local(end).date():
        return f"{moment_text(start)}–{clock_text(end)}"
    return f"{moment_text(start)} – {moment_text(end)}"


def person_line(person: Person) -> str:
    title = f"{person.tittel} " if person.tittel else ""
    return f"{title}{person.navn}, {person.adresse}"


# --- templates ------------------------------------------------------------------------------------
_TEXT = Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                    undefined=StrictUndefined)
_HTML = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)

_FOOTER_TEXT = """
--
Sendt automatisk av {{ sender }} fra kommunens system for koordinerte tjenester.
E-posten kan inneholde opplysninger som er underlagt taushetsplikt. Ikke videresend den.
Har du fått den ved en feil, gi beskjed til avsenderen og slett den.
"""

_FOOTER_HTML = """
<hr style="border:none;border-top:1px solid #ccc;margin:24px 0 8px">
<p style="color:#555;font-size:12px">Sendt automatisk av {{ sender }} fra kommunens system for koordinerte
tjenester.<br>E-posten kan inneholde opplysninger som er underlagt taushetsplikt. Ikke videresend den.
Har du fått den ved en feil, gi beskjed til avsenderen og slett den.</p>
"""

_HTML_HEAD = """<!DOCTYPE html>
<html lang="nb"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.4;color:#1a1a1a">
"""

MEETING_TEXT = _TEXT.from_string("""Hei {{ recipient.navn }},

{% if variant == "innkalt" %}
du er innkalt til møte i {{ m.gruppe }}.
{% elif variant == "endret" %}
innkallingen til møtet i {{ m.gruppe }} er endret. Dette er den oppdaterte innkallingen.
{% for change in changes %}
{{ change }}
{% endfor %}
{% elif variant == "fjernet" %}
du står ikke lenger på deltakerlisten til møtet i {{ m.gruppe }} {{ when }}.
Møtet fjernes fra kalenderen din når du åpner eller godtar avlysningen.
{% else %}
møtet i {{ m.gruppe }} {{ when }} er avlyst.
Møtet fjernes fra kalenderen din når du åpner eller godtar avlysningen.
{% endif %}
{% if variant in ("innkalt", "endret") %}

Møtet gjelder: {{ m.gjelder }}
Tid: {{ when }}
Sted: {{ m.sted }}

Saksliste:
{% for item in m.saksliste %}
  {{ loop.index }}. {{ item }}
{% endfor %}

Deltakere:
{% for person in m.deltakere %}
  - {{ line(person) }}
{% endfor %}
{% if m.leder %}

Møteleder: {{ m.leder.navn }}, {{ m.leder.adresse }}
{% endif %}

Kalenderinvitasjonen ligger ved. Svar på den, eller gi beskjed til {{ "møteleder" if m.leder else "avsenderen" }}, om du ikke kan komme.
{% elif variant == "avlyst" %}

Sted: {{ m.sted }}
{% if m.leder %}
Spørsmål kan rettes til møteleder {{ m.leder.navn }}, {{ m.leder.adresse }}.
{% endif %}
{% endif %}
""" + _FOOTER_TEXT)

MEETING_HTML = _HTML.from_string(_HTML_HEAD + """
<p>Hei {{ recipient.navn }},</p>
{% if variant == "innkalt" %}
<h1 style="font-size:20px">Innkalling til møte i {{ m.gruppe }}</h1>
{% elif variant == "endret" %}
<h1 style="font-size:20px">Endret innkalling: møte i {{ m.gruppe }}</h1>
<p>Innkallingen er endret. Dette er den oppdaterte innkallingen.</p>
{% if changes %}
<ul>{% for change in changes %}<li><strong>{{ change }}</strong></li>{% endfor %}</ul>
{% endif %}
{% elif variant == "fjernet" %}
<h1 style="font-size:20px">Du er ikke lenger innkalt</h1>
<p>Du står ikke lenger på deltakerlisten til møtet i {{ m.gruppe }} {{ when }}.
Møtet fjernes fra kalenderen din når du åpner eller godtar avlysningen.</p>
{% else %}
<h1 style="font-size:20px">Avlyst: møte i {{ m.gruppe }}</h1>
<p>Møtet {{ when }} er avlyst. Møtet fjernes fra kalenderen din når du åpner eller godtar avlysningen.</p>
{% endif %}
{% if variant in ("innkalt", "endret") %}
<table style="border-collapse:collapse;margin:12px 0">
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Møtet gjelder</th><td>{{ m.gjelder }}</td></tr>
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Tid</th><td>{{ when }}</td></tr>
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Sted</th><td>{{ m.sted }}</td></tr>
</table>
<h2 style="font-size:16px">Saksliste</h2>
<ol>{% for item in m.saksliste %}<li style="white-space:pre-line">{{ item }}</li>{% endfor %}</ol>
<h2 style="font-size:16px">Deltakere</h2>
<ul>{% for person in m.deltakere %}<li>{% if person.tittel %}{{ person.tittel }} {% endif %}{{ person.navn }},
<a href="mailto:{{ person.adresse }}">{{ person.adresse }}</a></li>{% endfor %}</ul>
{% if m.leder %}
<p>Møteleder: {{ m.leder.navn }}, <a href="mailto:{{ m.leder.adresse }}">{{ m.leder.adresse }}</a></p>
{% endif %}
<p>Kalenderinvitasjonen ligger ved. Svar på den, eller gi beskjed til {{ "møteleder" if m.leder else "avsenderen" }},
om du ikke kan komme.</p>
{% elif variant == "avlyst" %}
<p>Sted: {{ m.sted }}</p>
{% if m.leder %}
<p>Spørsmål kan rettes til møteleder {{ m.leder.navn }},
<a href="mailto:{{ m.leder.adresse }}">{{ m.leder.adresse }}</a>.</p>
{% endif %}
{% endif %}
""" + _FOOTER_HTML + "</body></html>\n")

MINUTES_TEXT = _TEXT.from_string("""Hei {{ recipient.navn }},

her er referatet fra møtet i {{ m.gruppe }}.

Møtet gjaldt: {{ m.gjelder }}
Tid: {{ when }}
Sted: {{ m.sted }}
{% if m.saksliste %}

Saksliste og beslutninger:
{% for item in m.saksliste %}
  {{ loop.index }}. {{ item.punkt }}
     {{ item.beslutning or "Ingen beslutning ble referatført." }}
{% endfor %}
{% if m.beslutninger %}

Andre beslutninger:
{% for item in m.beslutninger %}
  - {{ item }}
{% endfor %}
{% endif %}
{% else %}

Beslutninger:
{% for item in m.beslutninger %}
  {{ loop.index }}. {{ item }}
{% else %}
  Ingen beslutninger ble referatført.
{% endfor %}
{% endif %}

Ansvarsfordeling:
{% for task in m.ansvarsfordeling %}
  - {{ task.oppgave }} – ansvarlig: {{ task.ansvarlig }}{% if task.frist %}, frist: {{ day(task.frist) }}{% endif %}

{% else %}
  Ingen oppgaver ble fordelt.
{% endfor %}

Faglig uenighet:
{% if m.faglig_uenighet %}
  {{ m.faglig_uenighet }}
{% else %}
  Ingen faglig uenighet ble referatført.
{% endif %}
{% if m.neste_moete %}

Neste møte: {{ next_when }}. Innkalling kommer senest 14 dager før.
{% endif %}

Referatet omfatter bare beslutninger og ansvarsfordeling. Hver fagperson noterer selv det som trengs i egen journal.
""" + _FOOTER_TEXT)

MINUTES_HTML = _HTML.from_string(_HTML_HEAD + """
<p>Hei {{ recipient.navn }},</p>
<h1 style="font-size:20px">Referat fra møte i {{ m.gruppe }}</h1>
<table style="border-collapse:collapse;margin:12px 0">
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Møtet gjaldt</th><td>{{ m.gjelder }}</td></tr>
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Tid</th><td>{{ when }}</td></tr>
<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">Sted</th><td>{{ m.sted }}</td></tr>
</table>
{% if m.saksliste %}
<h2 style="font-size:16px">Saksliste og beslutninger</h2>
<ol>{% for item in m.saksliste %}<li><strong style="white-space:pre-line">{{ item.punkt }}</strong><br>
<span style="white-space:pre-line">{{ item.beslutning or "Ingen beslutning ble referatført." }}</span></li>{% endfor %}</ol>
{% if m.beslutninger %}
<h2 style="font-size:16px">Andre beslutninger</h2>
<ul>{% for item in m.beslutninger %}<li style="white-space:pre-line">{{ item }}</li>{% endfor %}</ul>
{% endif %}
{% else %}
<h2 style="font-size:16px">Beslutninger</h2>
{% if m.beslutninger %}
<ol>{% for item in m.beslutninger %}<li style="white-space:pre-line">{{ item }}</li>{% endfor %}</ol>
{% else %}
<p>Ingen beslutninger ble referatført.</p>
{% endif %}
{% endif %}
<h2 style="font-size:16px">Ansvarsfordeling</h2>
{% if m.ansvarsfordeling %}
<table style="border-collapse:collapse">
<tr><th style="text-align:left;padding:2px 12px 2px 0">Oppgave</th><th style="text-align:left;padding:2px 12px 2px 0">Ansvarlig</th><th style="text-align:left">Frist</th></tr>
{% for task in m.ansvarsfordeling %}
<tr><td style="padding:2px 12px 2px 0;white-space:pre-line;vertical-align:top">{{ task.oppgave }}</td><td style="padding:2px 12px 2px 0;vertical-align:top">{{ task.ansvarlig }}</td><td style="vertical-align:top">{{ day(task.frist) if task.frist else "–" }}</td></tr>
{% endfor %}
</table>
{% else %}
<p>Ingen oppgaver ble fordelt.</p>
{% endif %}
<h2 style="font-size:16px">Faglig uenighet</h2>
<p style="white-space:pre-line">{{ m.faglig_uenighet or "Ingen faglig uenighet ble referatført." }}</p>
{% if m.neste_moete %}
<p><strong>Neste møte:</strong> {{ next_when }}. Innkalling kommer senest 14 dager før.</p>
{% endif %}
<p>Referatet omfatter bare beslutninger og ansvarsfordeling. Hver fagperson noterer selv det som trengs i
egen journal.</p>
""" + _FOOTER_HTML + "</body></html>\n")


# --- notices --------------------------------------------------------------------------------------
def meeting_variant(meeting: Meeting, removed: bool) -> str:
    if meeting.kind == MOETE_AVLYST:
        return CANCELLED
    if removed:
        return REMOVED
    return CHANGED if meeting.kind == INNKALLING_ENDRET else INVITED


def meeting_subject(meeting: Meeting, variant: str) -> str:
    prefix = {INVITED: "Innkalling", CHANGED: "Endret innkalling", REMOVED: "Du er ikke lenger innkalt",
              CANCELLED: "Avlyst"}[variant]
    return f"{prefix}: {meeting.gruppe} – {moment_text(meeting.tidspunkt)}"


def changes(meeting: Meeting, previous: Previous | None) -> list[str]:
    if previous is None:
        return []
    found = []
    if previous.tidspunkt is not None and previous.tidspunkt != meeting.tidspunkt:
        found.append(f"Nytt tidspunkt: {moment_text(meeting.tidspunkt)} (var {moment_text(previous.tidspunkt)}).")
    if previous.sted is not None and previous.sted != meeting.sted:
        found.append(f"Nytt sted: {meeting.sted} (var {previous.sted}).")
    return found


def meeting_notice(meeting: Meeting, recipient: Person, sender: str, removed: bool = False,
                   previous: Previous | None = None) -> Rendered:
    variant = meeting_variant(meeting, removed)
    values = dict(m=meeting, recipient=recipient, variant=variant, when=span_text(meeting.tidspunkt, meeting.slutt),
                  changes=changes(meeting, previous) if variant == CHANGED else [], line=person_line,
                  sender=sender)
    subject = meeting_subject(meeting, variant)
    return Rendered(subject, MEETING_TEXT.render(values), MEETING_HTML.render(values, subject=subject))


def minutes_notice(minutes: Minutes, recipient: Person, sender: str) -> Rendered:
    values = dict(m=minutes, recipient=recipient, when=moment_text(minutes.tidspunkt),
                  next_when=moment_text(minutes.neste_moete) if minutes.neste_moete else None, day=day_text,
                  sender=sender)
    subject = f"Referat: {minutes.gruppe} – møtet {day_text(local(minutes.tidspunkt).date())}"
    return Rendered(subject, MINUTES_TEXT.render(values), MINUTES_HTML.render(values, subject=subject))

