"""Calendar invites (iCalendar, RFC 5545, sent as iTIP, RFC 5546) for the innkalling.

One meeting has one UID for its whole life (`meeting_uid`); each new version of it
(moved, changed, cancelled) carries a higher SEQUENCE, so calendar clients update or remove the
event they already have instead of adding another. A duplicate copy of the same version (same
UID and SEQUENCE) changes nothing in a calendar.

The event carries time, place and the group's name, marked CLASS:PRIVATE; the person the
meeting concerns and the agenda stay in the e-mail body, because calendars are shared more
widely than mailboxes (assistants, free/busy details, phones). See docs/notices.md.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import icalendar

from .constants import CANCEL, REQUEST
from ...clock import OSLO
from .payload import Meeting, Person

PRODID = "-//Orchestrator//Koordinerte tjenester//NO"
TZID = OSLO.key


def meeting_uid(moete_id: str, instance_id: int, domain: str) -> str:
    """`<moete_id>.<instance id>@<domain>`: stable for the meeting, unique across the municipality.

    A diagram numbers its meetings per group (`m1`, `m2`, …), so the moete_id alone would give the
    first meeting of every group the same UID, and a calendar would take one group's invite for an
    update of another's. The instance (one ansvarsgruppe) makes it unique; the meeting's whole life
    (innkalling, changes, cancellation) is thrown by that one instance.
    """
    return f"{quote(moete_id, safe='-._~')}.{instance_id}@{domain}"


def oslo_timezone() -> icalendar.Timezone:
    """Europe/Oslo with the EU rule (since 1996) as yearly RRULEs: what Outlook, Google and Apple
    calendars themselves write, and shorter than a table of dates."""
    tz = icalendar.Timezone()
    tz.add("tzid", TZID)
    tz.add("x-lic-location", TZID)
    summer = icalendar.TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("tzoffsetfrom", _offset(1))
    summer.add("tzoffsetto", _offset(2))
    summer.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    winter = icalendar.TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("tzoffsetfrom", _offset(2))
    winter.add("tzoffsetto", _offset(1))
    winter.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


def _offset(hours: int) -> timedelta:
    return timedelta(hours=hours)


def _address(person_address: str) -> str:
    return f"mailto:{person_address}"


def _attendee(person: Person, chair: bool, method: str) -> icalendar.vCalAddress:
    attendee = icalendar.vCalAddress(_address(person.adresse))
    attendee.params["CN"] = icalendar.vText(person.navn)
    attendee.params["CUTYPE"] = "INDIVIDUAL"
    attendee.params["ROLE"] = "CHAIR" if chair else "REQ-PARTICIPANT"
    if method == REQUEST:
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendee.params["RSVP"] = "TRUE"
    return attendee


def invite(meeting: Meeting, *, uid: str, sequence: int, method: str, organizer: Person,
           sent_by: str | None, attendees: list[Person], stamp: datetime) -> bytes:
    """The VCALENDAR for one version of a meeting: METHOD:REQUEST (new or changed) or CANCEL."""
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"unknown iTIP method {method}")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(oslo_timezone())

    event = icalendar.Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(timezone.utc))
    event.add("dtstart", meeting.tidspunkt.astimezone(OSLO))
    event.add("dtend", meeting.slutt.astimezone(OSLO))
    event.add("summary", f"Møte i {meeting.gruppe}")
    event.add("location", meeting.sted)
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    if method == CANCEL:
        event.add("status", "CANCELLED")
        event.add("description", "Møtet er avlyst.")
    else:
        event.add("status", "CONFIRMED")
        event.add("description", "Innkallingen med saksliste og deltakerliste er sendt på e-post.")
    chair = organizer.key if meeting.leder is not None else None
    organizer_address = icalendar.vCalAddress(_address(organizer.adresse))
    organizer_address.params["CN"] = icalendar.vText(organizer.navn)
    if sent_by and sent_by.casefold() != organizer.key:
        organizer_address.params["SENT-BY"] = _address(sent_by)
    event.add("organizer", organizer_address)
    for person in attendees:
        event.add("attendee", _attendee(person, chair == person.key, method))
    calendar.add_component(event)
    return calendar.to_ical()
