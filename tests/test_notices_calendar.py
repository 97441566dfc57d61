"""Calendar invites: one UID per meeting, a higher SEQUENCE for every new version, REQUEST or CANCEL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from helpers import complete
from notice_support import KARI, LISE, PER, meeting_data, meeting_series, oslo, run_delivery
from notice_support import mailbox, smtp  # noqa: F401  (fixtures)
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM


OSLO = ZoneInfo("Europe/Oslo")
NO_CHANGE = {"nytt_tidspunkt": "", "nytt_sted": "", "fjern_adresse": "", "beslutning": ""}


def assert_itip(received, method: str) -> icalendar.Event:
    """What RFC 5545/5546 require of a REQUEST or CANCEL, checked on the text as sent."""
    part = received.calendar_part()
    assert part.get_param("method") == method
    raw = received.part("text/calendar")
    wire = part.get_payload(decode=True)
    assert b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")  # CRLF line ends
    assert all(len(line) <= 75 for line in wire.split(b"\r\n"))           # folded at 75 octets
    calendar = icalendar.Calendar.from_ical(raw)
    assert calendar["METHOD"] == method and calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    for name in ("UID", "DTSTAMP", "DTSTART", "ORGANIZER", "SEQUENCE", "ATTENDEE", "SUMMARY"):
        assert name in event, name
    used = {event["DTSTART"].params.get("TZID"), event["DTEND"].params.get("TZID")}
    assert used == {"Europe/Oslo"} and [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Oslo"]
    attachment = next(p for p in received.message.walk() if p.get_content_type() == "application/ics")
    assert attachment.get_filename() == "invitasjon.ics"
    assert attachment.get_payload(decode=True) == wire  # the same invite, as a file
    return event


def attendees(event) -> list[str]:
    found = event["ATTENDEE"]
    found = found if isinstance(found, list) else [found]
    return sorted(str(a).removeprefix("mailto:") for a in found)


def uid(started, moete_id="SAK-2027-14-m1") -> str:
    return f"{moete_id}.{started.id}@lund.kommune.invalid"


def _start(orc, clock, **extra):
    return instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-2027-14",
                           data=meeting_data(clock.now() + timedelta(days=30), **extra))


@pytest.fixture
def series(deploy):
    deploy(*meeting_series())


def test_every_innkalling_carries_a_request_invite_that_parses_back(orc, series, clock, smtp, mailbox):
    started = _start(orc, clock)
    run_delivery(orc)
    event = assert_itip(mailbox.to(KARI["adresse"])[0], "REQUEST")
    assert str(event["UID"]) == uid(started)
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].dt == datetime(2027, 2, 3, 9, 0, tzinfo=OSLO)
    assert event["DTEND"].dt == datetime(2027, 2, 3, 10, 30, tzinfo=OSLO)
    assert event["DTSTAMP"].dt == clock.now()
    assert str(event["LOCATION"]) == "Lund rådhus, møterom 2"
    assert event["STATUS"] == "CONFIRMED" and event["CLASS"] == "PRIVATE"
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{LISE['adresse']}"
    assert organizer.params["CN"] == "Lise Berg"
    assert organizer.params["SENT-BY"] == "mailto:ke@lund.kommune.invalid"
    assert attendees(event) == sorted(p["adresse"] for p in (KARI, PER, LISE))
    people = event["ATTENDEE"]
    kari = next(a for a in people if str(a).endswith(KARI["adresse"]))
    assert (kari.params["CN"], kari.params["RSVP"], kari.params["PARTSTAT"], kari.params["ROLE"]) == \
        ("Kari Nordmann", "TRUE", "NEEDS-ACTION", "REQ-PARTICIPANT")
    chair = next(a for a in people if str(a).endswith(LISE["adresse"]))
    assert chair.params["ROLE"] == "CHAIR"
    # the calendar names no person and carries no agenda (calendars are shared more widely than mail)
    ics = mailbox.to(KARI["adresse"])[0].part("text/calendar")
    assert "Ola" not in ics and "Skole" not in ics and "tilrettelegging" not in ics
    assert str(event["SUMMARY"]) == "Møte i Ansvarsgruppe SAK-2027-14"


def test_moving_the_meeting_sends_an_update_with_the_same_uid_and_a_higher_sequence(orc, series, clock, smtp, mailbox):
    started = _start(orc, clock)
    run_delivery(orc)
    moved_to = datetime(2027, 2, 10, 13, 0, tzinfo=OSLO)
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "flytt", "nytt_tidspunkt": oslo(moved_to),
                                                "nytt_sted": "Lund skole, møterom A"})
    run_delivery(orc)
    mails = mailbox.to(KARI["adresse"])
    assert len(mails) == 2
    update = mails[1]
    event = assert_itip(update, "REQUEST")
    assert (str(event["UID"]), event["SEQUENCE"]) == (uid(started), 1)
    assert event["DTSTART"].dt == moved_to and event["DTEND"].dt == moved_to + timedelta(minutes=90)
    assert str(event["LOCATION"]) == "Lund skole, møterom A"
    assert update.subject == "Endret innkalling: Ansvarsgruppe SAK-2027-14 – onsdag 10. februar 2027 kl. 13.00"
    assert "Nytt tidspunkt: onsdag 10. februar 2027 kl. 13.00 (var onsdag 3. februar 2027 kl. 09.00)." in update.text
    assert "Nytt sted: Lund skole, møterom A (var Lund rådhus, møterom 2)." in update.text
    assert "Møtet gjelder: Ola N." in update.text  # the update is a complete innkalling again
    # moved again: SEQUENCE keeps rising
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "flytt",
                                                "nytt_tidspunkt": oslo(moved_to + timedelta(days=1))})
    run_delivery(orc)
    assert assert_itip(mailbox.to(KARI["adresse"])[2], "REQUEST")["SEQUENCE"] == 2


def test_a_participant_taken_off_the_list_gets_a_cancellation_and_the_others_an_update(orc, series, clock, smtp, mailbox):
    started = _start(orc, clock)
    run_delivery(orc)
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "flytt", "fjern_adresse": PER["adresse"]})
    run_delivery(orc)
    per = mailbox.to(PER["adresse"])
    assert len(per) == 2
    cancel = assert_itip(per[1], "CANCEL")
    assert (str(cancel["UID"]), cancel["SEQUENCE"], cancel["STATUS"]) == (uid(started), 1, "CANCELLED")
    assert attendees(cancel) == [PER["adresse"]]
    assert per[1].subject.startswith("Du er ikke lenger innkalt: Ansvarsgruppe SAK-2027-14")
    assert "Ola N." not in per[1].text and "Skole: tilrettelegging" not in per[1].text  # no details any more
    update = assert_itip(mailbox.to(KARI["adresse"])[1], "REQUEST")
    assert update["SEQUENCE"] == 1
    assert attendees(update) == sorted([KARI["adresse"], LISE["adresse"]])
    # a later change does not cancel Per again: he no longer holds the event
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "flytt", "nytt_sted": "Et annet rom"})
    run_delivery(orc)
    assert len(mailbox.to(PER["adresse"])) == 2 and len(mailbox.to(KARI["adresse"])) == 3


def test_cancelling_the_meeting_sends_cancel_with_status_cancelled_and_a_higher_sequence(orc, series, clock, smtp, mailbox):
    started = _start(orc, clock)
    run_delivery(orc)
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "flytt", "nytt_sted": "Lund skole"})
    run_delivery(orc)
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "avlys"})
    run_delivery(orc)
    for person in (KARI, PER, LISE):
        mails = mailbox.to(person["adresse"])
        assert len(mails) == 3
        event = assert_itip(mails[2], "CANCEL")
        assert (str(event["UID"]), event["SEQUENCE"], event["STATUS"]) == (uid(started), 2, "CANCELLED")
        assert event["DTSTART"].dt == datetime(2027, 2, 3, 9, 0, tzinfo=OSLO)
        assert mails[2].subject == "Avlyst: Ansvarsgruppe SAK-2027-14 – onsdag 3. februar 2027 kl. 09.00"
        assert "er avlyst" in mails[2].text
    assert attendees(event) == sorted(p["adresse"] for p in (KARI, PER, LISE))


def test_each_meeting_has_its_own_uid_even_when_groups_number_their_meetings_alike(orc, series, clock, smtp, mailbox):
    """Two groups' first meetings are both «m1»: two events, each at SEQUENCE 0, and no cross-talk."""
    first = _start(orc, clock, moete_id="m1")
    run_delivery(orc)
    second = instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-2027-15",
                             data=meeting_data(clock.now() + timedelta(days=40), moete_id="m1", deltakere=[KARI]))
    run_delivery(orc)
    kari = mailbox.to(KARI["adresse"])
    assert [str(m.event()["UID"]) for m in kari] == [uid(first, "m1"), uid(second, "m1")]
    assert [(m.invite()["METHOD"], m.event()["SEQUENCE"]) for m in kari] == [("REQUEST", 0), ("REQUEST", 0)]
    assert len(mailbox.to(PER["adresse"])) == 1  # Per (only in the first group) hears nothing of the second


def test_the_referat_carries_no_invite(orc, series, clock, smtp, mailbox):
    started = _start(orc, clock)
    complete(orc, started.id, "neste", SYSTEM, {**NO_CHANGE, "valg": "referat"})
    run_delivery(orc)
    referat = [m for m in mailbox.to(KARI["adresse"]) if m.subject.startswith("Referat")]
    assert len(referat) == 1 and referat[0].calendar_part() is None


@pytest.mark.parametrize("year", [2026, 2027, 2031, 2037])
def test_the_oslo_time_zone_in_the_invite_agrees_with_the_tz_database(year):
    from orchestrator.services.notices.calendar import oslo_timezone

    parsed = icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + oslo_timezone().to_ical() + b"END:VCALENDAR\r\n")
    tz = parsed.walk("VTIMEZONE")[0].to_tz()
    moment = datetime(year, 1, 1, tzinfo=timezone.utc)
    while moment.year == year:  # every 6 hours through the year, transitions included
        assert moment.astimezone(tz).utcoffset() == moment.astimezone(OSLO).utcoffset(), moment
        moment += timedelta(hours=6)
