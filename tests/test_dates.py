"""Dates are typed and shown as dd.mm.åååå (issue 14 item 4); stored data and the API keep ISO 8601."""
from __future__ import annotations

import re

import pytest
from webtools import GOOD_OPPSTART, as_form_items, rich_form_process

from orchestrator.forms.dates import parse_day, parse_moment
from orchestrator.forms.model import parse_form
from orchestrator.forms.schema import FormInvalid, validate_submission
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM

from helpers import open_tasks

pytest_plugins = ["webtools"]
FORM = parse_form("datoer", b'{"type": "default", "components": ['
                  b'{"type": "datetime", "subtype": "date", "key": "dag", "label": "Dag"},'
                  b'{"type": "datetime", "subtype": "datetime", "key": "mote", "label": "Moete"}]}')


@pytest.mark.parametrize("typed, stored", [("24.12.2027", "2027-12-24"), ("1.2.2027", "2027-02-01"),
                                           (" 29.02.2028 ", "2028-02-29"), ("2027-12-24", "2027-12-24")])
def test_a_date_is_typed_as_people_write_it_and_stored_as_iso(typed, stored):
    assert parse_day(typed).isoformat() == stored
    assert validate_submission(FORM, {"dag": typed})["dag"] == stored


@pytest.mark.parametrize("typed", ["31.02.2027", "29.02.2027", "24/12/2027", "12.24.2027", "24.12.27", "i morgen"])
def test_a_date_that_is_no_day_is_refused_saying_how_to_write_it(typed):
    with pytest.raises(FormInvalid) as refused:
        validate_submission(FORM, {"dag": typed})
    assert "dd.mm.åååå" in str(refused.value.errors["dag"])


def test_a_moment_is_typed_with_its_time_and_stored_with_the_norwegian_offset():
    assert validate_submission(FORM, {"mote": "24.03.2027 10:00"})["mote"] == "2027-03-24T10:00:00+01:00"
    assert validate_submission(FORM, {"mote": "01.07.2027 kl. 9.30"})["mote"] == "2027-07-01T09:30:00+02:00"
    assert parse_moment("2027-03-24T10:00").hour == 10  # ISO from the API still reads
    with pytest.raises(FormInvalid):
        validate_submission(FORM, {"mote": "24.03.2027 25:00"})


def test_the_task_page_takes_dd_mm_aaaa_stores_iso_and_shows_it_back(web, role_users, deploy, orc):
    deploy(*rich_form_process())
    case = instances.start(orc, "test_koordinering", SYSTEM, "SAK-DATO", {"saksbeskrivelse": "datoer"})
    [task] = open_tasks(orc, case.id)
    web.login("kora")
    refused = web.post(f"/tasks/{task.id}", as_form_items(dict(GOOD_OPPSTART, samtaledato="31.02.2027")))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Ugyldig dato (skriv dd.mm.åååå" in html
    assert 'name="samtaledato" value="31.02.2027"' in html  # what was typed stays, to be corrected
    done = web.post(f"/tasks/{task.id}", as_form_items(dict(GOOD_OPPSTART, samtaledato="12.01.2027")))
    assert done.status_code == 302
    assert instances.get(orc, case.id, SYSTEM).data["samtaledato"] == "2027-01-12"
    page = web.login("kari").get(f"/instances/{case.id}").get_data(as_text=True)
    assert re.search(r"<dd>\s*12\.01\.2027\s*</dd>", page)  # the case's data, as the form collected it
