"""What the e-mails say (Norwegian, the routine's required contents, minimal personal data) and
how the messages are built. No database needed."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_string
from email.policy import default as default_policy

import pytest

from notice_support import KARI, LEDER_LISE, LISE, PER
from orchestrator.services.errors import StepFailed
from orchestrator.services.notices import calendar, content, mime, payload

STAMP = datetime(2027, 1, 20, 8, 0, tzinfo=timezone.utc)


def _meeting(kind="innkalling", **changes):
    data = {"moete_id": "SAK-2027-14-m1", "gjelder": "Ola N.", "tidspunkt": "2027-06-15T10:00:00+02:00",
            "sted": "Lund rådhus", "saksliste": ["Status", "Tiltak <script>alert(1)</script> & mer"],
            "deltakere": [KARI, PER, LISE], "leder": LEDER_LISE, "gruppe": "Ansvarsgruppe SAK-2027-14"}
    data.update(changes)
    return payload.meeting(kind, data)


def _minutes(**changes):
    data = {"moete_id": "SAK-2027-14-m1", "gjelder": "Ola N.", "tidspunkt": "2027-02-03T09:00:00+01:00",
            "sted": "Lund rådhus", "gruppe": "Ansvarsgruppe SAK-2027-14",
            "beslutninger": ["Skolen søker om assistent.", "Avlastning utredes."],
            "ansvarsfordeling": [{"oppgave": "Søke om assistent", "ansvarlig": "Kari Nordmann", "frist": "2027-03-01"},
                                 {"oppgave": "Utrede avlastning", "ansvarlig": "Lise Berg"}],
            "faglig_uenighet": "NAV og skolen er uenige om når arbeidstrening bør starte.",
            "mottakere": [KARI, PER], "neste_moete": "2027-06-15T10:00:00+02:00"}
    data.update(changes)
    return payload.minutes(data)


def test_the_innkalling_has_the_four_required_contents_in_norwegian():
    meeting = _meeting()
    rendered = content.meeting_notice(meeting, meeting.deltakere[0], "Koordinerende enhet")
    for body in (rendered.text, rendered.html):
        assert "Møtet gjelder" in body and "Ola N." in body
        assert "tirsdag 15. juni 2027 kl. 10.00–11.30" in body  # summer time, 90 minutes by default
        assert "Lund rådhus" in body
        assert "Saksliste" in body and "Status" in body
        assert "Deltakere" in body
        for person in (KARI, PER, LISE):
            assert person["tittel"] in body and person["navn"] in body and person["adresse"] in body
        assert "taushetsplikt" in body
    assert rendered.text.startswith("Hei Kari Nordmann,\n")
    assert "  1. Status\n  2. Tiltak" in rendered.text
    assert "Møteleder: Lise Berg, lise.berg@lund.kommune.example" in rendered.text


def test_staff_text_is_escaped_in_html_and_kept_as_written_in_plain_text():
    meeting = _meeting()
    rendered = content.meeting_notice(meeting, meeting.deltakere[0], "Koordinerende enhet")
    assert "<script>" not in rendered.html
    assert "Tiltak &lt;script&gt;alert(1)&lt;/script&gt; &amp; mer" in rendered.html
    assert "Tiltak <script>alert(1)</script> & mer" in rendered.text


def test_subject_lines_and_the_invite_do_not_name_the_person_the_meeting_concerns():
    meeting = _meeting(gjelder="Ola Nordmann")
    for removed in (False, True):
        assert "Ola" not in content.meeting_notice(meeting, meeting.deltakere[0], "KE", removed=removed).subject
    referat = content.minutes_notice(_minutes(gjelder="Ola Nordmann"), _minutes().mottakere[0], "KE")
    assert "Ola" not in referat.subject
    ics = calendar.invite(meeting, uid="u@x", sequence=0, method="REQUEST", organizer=meeting.leder, sent_by=None,
                          attendees=list(meeting.deltakere), stamp=STAMP).decode()
    assert "Ola" not in ics and "Status" not in ics and "Tiltak" not in ics


def test_the_referat_has_decisions_responsibilities_and_disagreement():
    minutes = _minutes()
    rendered = content.minutes_notice(minutes, minutes.mottakere[0], "Koordinerende enhet")
    assert rendered.subject == "Referat: Ansvarsgruppe SAK-2027-14 – møtet 3. februar 2027"
    for body in (rendered.text, rendered.html):
        assert "Beslutninger" in body and "Skolen søker om assistent." in body
        assert "Ansvarsfordeling" in body and "Søke om assistent" in body and "Kari Nordmann" in body
        assert "1. mars 2027" in body
        assert "Faglig uenighet" in body and "NAV og skolen er uenige" in body
        assert "Neste møte" in body and "tirsdag 15. juni 2027 kl. 10.00" in body
    assert "  - Søke om assistent – ansvarlig: Kari Nordmann, frist: 1. mars 2027\n" in rendered.text
    assert "  - Utrede avlastning – ansvarlig: Lise Berg\n" in rendered.text


def test_a_referat_without_disagreement_says_so():
    minutes = _minutes(faglig_uenighet="", beslutninger=[], ansvarsfordeling=[], neste_moete=None)
    text = content.minutes_notice(minutes, minutes.mottakere[0], "KE").text
    assert "Ingen faglig uenighet ble referatført." in text
    assert "Ingen beslutninger ble referatført." in text
    assert "Ingen oppgaver ble fordelt." in text
    assert "Neste møte" not in text


def test_the_message_is_a_multipart_invitation_in_ascii_with_norwegian_headers():
    meeting = _meeting()
    rendered = content.meeting_notice(meeting, meeting.deltakere[1], "Koordinerende enhet")
    invite = calendar.invite(meeting, uid="u@x", sequence=0, method="REQUEST", organizer=meeting.leder,
                             sent_by="ke@lund.kommune.invalid", attendees=list(meeting.deltakere), stamp=STAMP)
    text = mime.compose(mail_from="Koordinerende enhet <ke@lund.kommune.invalid>", recipient=meeting.deltakere[1],
                        subject=rendered.subject, text=rendered.text, html=rendered.html,
                        message_id="<utsending.1@lund.kommune.invalid>", date=STAMP, reply_to=meeting.leder,
                        calendar=invite, method="REQUEST")
    text.encode("ascii")  # 7-bit clean: any server takes it
    message = message_from_string(text, policy=default_policy)
    assert str(message["To"]) == "Per Ås <per.aas@nav.example>"
    assert str(message["From"]) == "Koordinerende enhet <ke@lund.kommune.invalid>"
    assert message["Content-Language"] == "nb"
    assert message["Date"] == "Wed, 20 Jan 2027 09:00:00 +0100"
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html", "text/calendar"]
    assert attachment.get_content_type() == "application/ics"


def test_the_duration_defaults_to_90_minutes_and_addresses_are_normalised():
    meeting = _meeting(varighet_minutter=None, deltakere=[{**KARI, "adresse": "kari@bø.kommune.example"}])
    assert meeting.varighet_minutter == 90
    assert meeting.deltakere[0].adresse == "kari@xn--b-5ga.kommune.example"
    assert _meeting(varighet_minutter="60").varighet_minutter == 60
    assert _meeting(leder=None).leder is None


@pytest.mark.parametrize("change, problem", [
    ({"moete_id": "møte 1"}, "«moete_id» mangler eller er ugyldig"),
    ({"gjelder": ""}, "«gjelder» (hvem møtet gjelder) mangler"),
    ({"tidspunkt": "2027-02-03T09:00:00"}, "«tidspunkt» må ha tidssone"),
    ({"varighet_minutter": 0}, "«varighet_minutter» må være et helt antall minutter"),
    ({"deltakere": []}, "«deltakere» mangler"),
    ({"deltakere": [{**KARI, "adresse": "kari@localhost"}]}, "ikke en gyldig e-postadresse"),
    ({"deltakere": [{**KARI, "navn": "Kari\nBcc: x@y.no"}]}, "linjeskift"),
    ({"gruppe": "Gruppe 12345678901"}, "fødselsnummer"),
    ({"leder": {"navn": "Uten adresse"}}, "«leder»: adresse mangler"),
])
def test_a_wrong_innkalling_payload_is_refused_with_a_clear_message(change, problem):
    with pytest.raises(StepFailed) as failure:
        _meeting(**change)
    assert problem in failure.value.message
    assert failure.value.message.startswith("Innkalling kan ikke sendes:")


def test_a_cancellation_needs_no_agenda_but_an_innkalling_does():
    assert payload.meeting("moete_avlyst", {**_raw(), "saksliste": None}).saksliste == ()
    with pytest.raises(StepFailed, match="«saksliste» mangler"):
        payload.meeting("innkalling", {**_raw(), "saksliste": None})


def test_a_referat_without_division_of_responsibility_is_refused():
    with pytest.raises(StepFailed, match="Referat kan ikke sendes: «ansvarsfordeling» mangler"):
        _minutes(ansvarsfordeling=None)
    with pytest.raises(StepFailed, match="frist må være en dato"):
        _minutes(ansvarsfordeling=[{"oppgave": "x", "ansvarlig": "y", "frist": "snart"}])


def _raw():
    return {"moete_id": "m1", "gjelder": "Ola N.", "tidspunkt": "2027-06-15T10:00:00+02:00", "sted": "Rådhuset",
            "deltakere": [KARI], "gruppe": "Ansvarsgruppe SAK-1"}


def test_empty_form_rows_are_not_items_or_people():
    meeting = _meeting(saksliste=["Status", "", None], leder={"navn": None, "adresse": ""},
                       deltakere=[KARI, {"tittel": None, "navn": "", "adresse": None}])
    assert meeting.saksliste == ("Status",) and meeting.leder is None and len(meeting.deltakere) == 1
    with pytest.raises(StepFailed, match="«saksliste» er tom"):
        _meeting(saksliste=["", None])
    minutes = _minutes(ansvarsfordeling=[{"oppgave": None, "ansvarlig": None, "frist": None}])
    assert minutes.ansvarsfordeling == ()
