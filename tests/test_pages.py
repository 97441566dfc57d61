"""The pages: each renders for the roles it is for; the task form shows errors in place with the
input kept; a coordinator moves from one task to the next; uploads and the modeler's pages."""
from __future__ import annotations

import pytest

import json
import re
from datetime import timedelta

import diagrams
pytest.register_assert_rewrite("webtools")  # it is also this module's plugin (pytest_plugins below)
from webtools import GOOD_OPPSTART, as_form_items, form_field_names, rich_form_process

from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM

from helpers import open_tasks
from routines import ROOT

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users


def _start_coordination(orc, deploy, data=None):
    deploy(*rich_form_process())
    started = instances.start(orc, "test_koordinering", SYSTEM, "SAK-2027-42",
                              data or {"saksbeskrivelse": "barn med sammensatte behov"})
    [task] = open_tasks(orc, started.id)
    return started, task


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_task_list_shows_my_tasks_and_my_queues_with_due_dates_and_overdue_markers(web, role_users, deploy, orc, clock):
    deploy(*diagrams.boundary_timers())
    started = instances.start(orc, "test_grense", SYSTEM, "SAK-7")
    web.login("tina")
    queue = _text(web.get("/tasks"))
    assert "Oppgaver i mine køer" in queue and "Mine oppgaver" in queue
    assert "Svar innen fristen" in queue and "SAK-7" in queue
    assert "18.01.2027 kl. 09:00" in queue and "Forfalt" not in queue  # 14 days, in Oslo time
    assert "Ta oppgaven" in queue
    clock.advance(timedelta(days=15))
    web.login("tina")  # a fortnight later the session has long timed out: signed in again
    assert "Forfalt" in _text(web.get("/tasks?scope=roles"))
    [task] = open_tasks(orc, started.id)
    claimed = web.post(f"/tasks/{task.id}/claim")
    assert claimed.status_code == 302 and claimed.headers["Location"].endswith(f"/tasks/{task.id}")
    mine = _text(web.get("/tasks?scope=mine"))
    assert "Svar innen fristen" in mine and "Deg" in mine


def test_a_task_page_shows_the_case_context_and_the_form(web, role_users, deploy, orc):
    _, task = _start_coordination(orc, deploy)
    html = _text(web.login("kora").get(f"/tasks/{task.id}"))
    assert "Test: oppstart med koordinator" in html and "Gjennomfør oppstartsamtale" in html
    assert "SAK-2027-42" in html
    assert "<strong>bruker og pårørende</strong>" in html and "<li>Kartlegg ønsker</li>" in html
    assert "Saken gjelder barn med sammensatte behov." in html  # {{ saksbeskrivelse }} in a text component
    names = form_field_names(html)
    assert {"samtaledato", "sted", "samtykke", "tjenester", "parorende_informert", "kontakt.navn",
            "medlemmer.0.navn", "medlemmer.1.tittel", "csrf_token"} <= names
    assert 'name="medlemmer.__INDEX__.navn"' in html  # the row template for "Legg til rad"
    assert 'type="date"' in html and "Send inn" in html


def test_invalid_form_data_shows_errors_in_place_and_keeps_the_input(web, role_users, deploy, orc):
    _, task = _start_coordination(orc, deploy)
    web.login("kora")
    submitted = dict(GOOD_OPPSTART, samtaledato="", antall_deltakere="mange", **{"medlemmer.0.navn": ""})
    response = web.post(f"/tasks/{task.id}", as_form_items(submitted))
    assert response.status_code == 422
    html = _text(response)
    assert "Skjemaet har feil" in html
    assert re.search(r'id="f-samtaledato-feil">.*Feltet må fylles ut\.', html)
    assert re.search(r'id="f-antall_deltakere-feil">.*Skriv et tall\.', html)
    assert re.search(r'id="f-medlemmer-0-navn-feil">.*Feltet må fylles ut\.', html)
    assert 'href="#f-medlemmer-0-navn"' in html and "Medlemmer: Navn (rad 1)" in html
    assert 'value="Rådhuset"' in html and 'value="mange"' in html and 'value="Lærer"' in html
    assert 'value="Ola Nordmann"' in html and re.search(r'value="skole"\s+checked', html)
    assert not re.search(r'value="nav"\s+checked', html)
    assert tasks.get(orc, task.id, SYSTEM).name == "Gjennomfør oppstartsamtale"  # still open


def test_a_valid_submission_stores_nested_data_and_leads_to_the_next_task(web, role_users, deploy, orc):
    started, task = _start_coordination(orc, deploy)
    web.login("kora")
    items = as_form_items(dict(GOOD_OPPSTART, **{"medlemmer.1.tittel": "", "medlemmer.1.navn": "",
                                                 "medlemmer.5.tittel": "Helsesykepleier",
                                                 "medlemmer.5.navn": "Siri"}))
    response = web.post(f"/tasks/{task.id}", items)
    assert response.status_code == 302
    [next_task] = open_tasks(orc, started.id)
    assert response.headers["Location"].endswith(f"/tasks/{next_task.id}")
    page = _text(web.get(response.headers["Location"]))
    assert "«Gjennomfør oppstartsamtale» er sendt inn. Neste oppgave i saken: «Hold oppstartmøte»." in page
    data = instances.get(orc, started.id, SYSTEM).data
    assert data["medlemmer"] == [{"tittel": "Lærer", "navn": "Kari Lærer"}, {"tittel": "Helsesykepleier", "navn": "Siri"}]
    assert data["kontakt"] == {"navn": "Ola Nordmann", "telefon": "+47 99 99 99 99"}
    assert data["tjenester"] == ["helsestasjon", "skole"] and data["parorende_informert"] is True
    assert data["antall_deltakere"] == 3 and data["samtaledato"] == "2027-01-10"
    done = web.post(f"/tasks/{next_task.id}", {"referat": "Møtet ble holdt"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/tasks")
    assert "«Hold oppstartmøte» er sendt inn. Saken er fullført." in _text(web.get("/tasks"))
    twice = web.post(f"/tasks/{next_task.id}", {"referat": "Møtet ble holdt"})  # a double click
    assert twice.status_code == 302 and "allerede fullført" in _text(web.get("/tasks"))


def test_a_field_hidden_by_its_condition_is_not_submitted(web, role_users, deploy, orc):
    started, task = _start_coordination(orc, deploy)
    web.login("kora")
    items = as_form_items(dict(GOOD_OPPSTART, samtykke="nei", samtykke_omfang="skal ikke lagres"))
    assert web.post(f"/tasks/{task.id}", items).status_code == 302
    data = instances.get(orc, started.id, SYSTEM).data
    assert data.get("samtykke_omfang") is None  # what was typed in the hidden field is not stored


def test_the_page_asks_the_server_which_fields_its_conditions_hide(web, role_users, deploy, orc):
    _, task = _start_coordination(orc, deploy)
    web.login("kora")
    assert web.post(f"/tasks/{task.id}/visibility", {"samtykke": "nei"}).get_json() == {"hidden": ["samtykke_omfang"]}
    assert web.post(f"/tasks/{task.id}/visibility", {"samtykke": "ja"}).get_json() == {"hidden": []}
    first = _text(web.get(f"/tasks/{task.id}"))
    assert re.search(r'data-key="samtykke_omfang" hidden', first)  # no answer yet: hidden


def test_someone_without_the_lane_sees_no_form_to_submit(web, role_users, deploy, orc):
    _, task = _start_coordination(orc, deploy)
    html = _text(web.login("mona").get(f"/tasks/{task.id}"))  # managers read all
    assert "Du kan se oppgaven, men ikke utføre den" in html and "Send inn" not in html
    assert web.login("tina").get(f"/tasks/{task.id}").status_code == 404
    refused = web.login("tina").post(f"/tasks/{task.id}", as_form_items(GOOD_OPPSTART))
    assert refused.status_code == 302 and "finnes ikke eller er ikke synlig for deg" in _text(web.get("/tasks"))


def test_a_task_taken_by_someone_else_cannot_be_submitted(web, role_users, deploy, orc, make_user, new_client):
    _, task = _start_coordination(orc, deploy)
    make_user("kjell", "koordinator")
    assert new_client().login("kjell").post(f"/tasks/{task.id}/claim").status_code == 302
    html = _text(web.login("kora").get(f"/tasks/{task.id}"))
    assert "tildelt kjell" in html and "Ta oppgaven" not in html
    refused = web.post(f"/tasks/{task.id}", as_form_items(GOOD_OPPSTART))
    assert refused.status_code == 302
    assert "Oppgaven er tatt av kjell." in _text(web.get(refused.headers["Location"]))


def test_releasing_puts_the_task_back_in_the_queue(web, role_users, deploy, orc):
    _, task = _start_coordination(orc, deploy)
    web.login("kora").post(f"/tasks/{task.id}/claim")
    html = _text(web.get(f"/tasks/{task.id}"))
    assert "Legg oppgaven tilbake i køen" in html
    response = web.post(f"/tasks/{task.id}/release")
    assert response.status_code == 302 and tasks.get(orc, task.id, SYSTEM).assignee is None


def test_staff_start_a_case_and_land_on_its_first_task(web, role_users, deploy, orc):
    deploy(*diagrams.user_task_with_gateway())
    web.login("tina")
    choose = _text(web.get("/instances/new"))
    assert "Test: vurdering med port" in choose
    assert web.get("/instances/new/finnes_ikke").status_code == 404
    refused = web.post("/instances/new/test_gateway", {"__saksnummer": "12345678901"})
    assert refused.status_code == 422 and "fødselsnummer" in _text(refused)
    response = web.post("/instances/new/test_gateway", {"__saksnummer": "SAK-2027-3"})
    assert response.status_code == 302 and "/tasks/" in response.headers["Location"]
    assert instances.list_instances(orc, SYSTEM, business_key="SAK-2027-3").total == 1


def test_the_instance_page_draws_the_diagram_with_state_history_and_data(web, role_users, deploy, orc):
    started, task = _start_coordination(orc, deploy)
    tasks.complete(orc, task.id, {k: v for k, v in {
        "samtaledato": "2027-01-10", "sted": "Rådhuset", "samtykke": "nei", "kontakt": {"navn": "Ola"},
        "medlemmer": [{"navn": "Kari"}]}.items()}, SYSTEM)
    html = _text(web.login("mona").get(f"/instances/{started.id}"))
    assert 'data-xml-url="/processes/test_koordinering/versions/1/xml"' in html
    state = re.search(r'<script type="application/json" id="instance-state">(.*?)</script>', html, re.S).group(1)
    state = json.loads(state)
    assert "oppstartsamtale" in state["completed"] and ["start", "oppstartsamtale"] in state["walked"]
    assert state["active"] == ["oppstartmote", "purring"] and state["tasks"] == ["oppstartmote"]
    assert [(o["element_id"], o["kind"]) for o in state["overlays"]] == [("oppstartmote", "task"), ("purring", "timer")]
    assert state["overlays"][0]["label"].startswith("Frist ") and " kl. " in state["overlays"][1]["label"]
    assert "Oppgave fullført" in html and "Historikk" in html and "Gjeldende data" in html
    assert "Rådhuset" in html and "Hold oppstartmøte" in html
    assert "bpmn-navigated-viewer.js" in html and "diagram.js" in html
    xml = web.get("/processes/test_koordinering/versions/1/xml")
    assert xml.status_code == 200 and b"oppstartsamtale" in xml.data


def test_instances_are_listed_with_filters_and_staff_only_see_their_own(web, role_users, deploy, orc):
    deploy(*diagrams.user_task_with_gateway())
    deploy(*rich_form_process())
    instances.start(orc, "test_gateway", SYSTEM, "SAK-A")
    instances.start(orc, "test_koordinering", SYSTEM, "SAK-B")
    everything = _text(web.login("mona").get("/instances"))
    assert "SAK-A" in everything and "SAK-B" in everything and "Instanser" in everything
    filtered = _text(web.get("/instances?process_key=test_gateway&status=running&business_key=SAK-A"))
    assert "SAK-A" in filtered and "SAK-B" not in filtered
    own = _text(web.login("lars").get("/instances"))
    assert "Mine saker" in own and "SAK-A" not in own and "SAK-B" not in own
    assert "SAK-A" in _text(web.login("tina").get("/instances"))  # she has its open task
    assert web.get("/instances?status=tull&page=x").status_code == 200


def test_the_dashboard_renders_every_list_for_managers(web, role_users):
    html = _text(web.login("mona").get("/dashboard"))
    for heading in ("Innkallinger som skal sendes de neste 14 dagene", "Forfalte innkallinger",
                    "Ansvarsgrupper uten møte siste 6 måneder", "Åpne eskaleringer", "Koordinatorenes belastning",
                    "Varsler som ikke kom fram"):
        assert heading in html
    assert web.login("kari").get("/dashboard").status_code == 200
    assert web.login("kora").get("/dashboard").status_code == 403


def test_process_owners_see_versions_diagrams_and_the_modeler(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    deploy(("test_gateway.bpmn", dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"].replace(
        "Vurder behov", "Vurder behovet")))
    web.login("petra")
    listing = _text(web.get("/processes"))
    assert "Test: vurdering med port" in listing and "v2" in listing and "Last opp filer" in listing
    history = _text(web.get("/processes/test_gateway"))
    assert "v2" in history and "v1" in history and "gjeldende" in history
    version = _text(web.get("/processes/test_gateway/versions/1"))
    assert 'data-xml-url="/processes/test_gateway/versions/1/xml"' in version
    form = _text(web.get("/processes/test_vurdering/versions/1"))
    assert "behov" in form and "<pre" in form
    modeler = _text(web.get("/modeler/test_gateway"))
    assert 'data-source-url="/processes/test_gateway/versions/2/xml"' in modeler
    assert "modeler.bundle.js" in modeler and "Rull ut ny versjon" in modeler
    assert 'data-source-url="/modeler/ny-prosess.bpmn"' in _text(web.get("/modeler"))
    assert b'id="ny_prosess"' in web.get("/modeler/ny-prosess.bpmn").data
    download = web.get("/processes/test_gateway/versions/2/xml?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment") and b"Vurder behovet" in download.data


def test_a_task_page_shows_the_guidance_and_its_source_as_a_small_line_apart(web, role_users, deploy, orc):
    deploy(ROOT / "processes", ROOT / "forms")
    started = instances.start(orc, "samarbeid", SYSTEM, "SAK-2027-7")
    [task] = open_tasks(orc, started.id)
    html = _text(web.login("tina").get(f"/tasks/{task.id}"))
    guidance = html[html.index("Slik gjør du det"):html.index('class="source"')]
    assert "<li>Skriv alltid en kort konklusjon." in guidance and "Kilde:" not in guidance
    assert re.search(r'<p class="source">Kilde: Bufdir og Helsedirektoratet, [^<]*\(003\)</p>', html)


def test_the_process_list_shows_how_the_routines_talk_to_each_other(web, role_users):
    html = _text(web.login("tina").get("/processes"))
    assert "Slik henger rutinene sammen" in html
    assert 'data-xml-url="/static/app/samspill.bpmn"' in html and "bpmn-navigated-viewer.js" in html
    diagram = web.get("/static/app/samspill.bpmn")
    assert diagram.status_code == 200 and b'<bpmn:messageFlow id="Opprett_ansvarsgruppe"' in diagram.data


def test_the_modeler_is_for_process_owners_only(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    assert web.login("mona").get("/modeler/test_gateway").status_code == 403
    assert web.get("/modeler").status_code == 403
    assert "Last opp filer" not in _text(web.get("/processes"))


def test_uploading_an_invalid_file_shows_the_problems_and_deploys_nothing(web, role_users, orc):
    bpmn = dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"]  # its form is missing
    web.login("petra")
    import io

    response = web.post("/processes/upload", {"file": (io.BytesIO(bpmn.encode()), "test_gateway.bpmn")},
                        content_type="multipart/form-data")
    assert response.status_code == 422
    html = _text(response)
    assert "Utrullingen ble avvist – ingenting ble lagret" in html
    assert "<code>vurder</code>" in html and "test_vurdering" in html
    assert "Ingen prosesser er rullet ut ennå." in html


def test_uploading_files_from_camunda_modeler_deploys_them_together(web, role_users, orc):
    import io

    files = diagrams.user_task_with_gateway()
    web.login("petra")
    response = web.post("/processes/upload", {"file": [(io.BytesIO(c.encode()), n) for n, c in files]},
                        content_type="multipart/form-data")
    assert response.status_code == 302
    html = _text(web.get("/processes"))
    assert "Rullet ut: test_gateway versjon 1, test_vurdering versjon 1." in html
    again = web.post("/processes/upload", {"file": [(io.BytesIO(c.encode()), n) for n, c in files]},
                     content_type="multipart/form-data")
    assert "Ingen endringer" in _text(web.get(again.headers["Location"]))
    empty = web.post("/processes/upload", {}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Ingen fil ble lastet opp." in _text(empty)
    assert web.login("mona").post("/processes/upload", {"file": [(io.BytesIO(b"x"), "a.bpmn")]},
                                  content_type="multipart/form-data").status_code == 403


def test_home_sends_each_role_to_its_work(web, role_users):
    assert web.login("tina").get("/").headers["Location"].endswith("/tasks")
    assert web.login("mona").get("/").headers["Location"].endswith("/dashboard")
    assert web.login("petra").get("/").headers["Location"].endswith("/processes")


def test_errors_are_pages_in_norwegian(web, role_users):
    web.login("tina")
    missing = web.get("/instances/999")
    assert missing.status_code == 404 and "Finnes ikke" in _text(missing)
    assert web.get("/finnes/ikke").status_code == 404


def test_stored_times_are_shown_in_oslo_time_and_typed_input_is_kept_as_typed():
    from orchestrator.forms.model import Field
    from orchestrator.web.forms_render import input_value, render_text

    moment = Field(type="datetime", key="moetetid", subtype="datetime")
    assert input_value(moment, "2027-03-15T09:00:00+00:00") == "2027-03-15T10:00"  # CET
    assert input_value(moment, "2027-06-15T08:00:00+00:00") == "2027-06-15T10:00"  # CEST
    assert input_value(moment, "2027-03-15T10:00") == "2027-03-15T10:00"
    assert input_value(Field(type="number", key="n"), 3.0) == "3"
    html = str(render_text("## Møte\nTid: {{ moetetid }} <script>x</script>", {"moetetid": "2027-03-15T09:00:00+00:00"}))
    assert "<h4>Møte</h4>" in html and "15.03.2027 kl. 10:00" in html and "<script>" not in html


def test_a_posted_form_becomes_the_nested_data_the_validator_expects():
    import json

    from werkzeug.datastructures import MultiDict

    from orchestrator.forms.model import parse_form
    from orchestrator.web.forms_render import parse_submission

    form = parse_form("test_oppstart", dict(rich_form_process())["test_oppstart.form"].encode())
    posted = MultiDict(as_form_items(dict(GOOD_OPPSTART, antall_deltakere="1 2", **{
        "medlemmer.3.navn": "Siri", "medlemmer.2.tittel": "", "medlemmer.2.navn": "", "ukjent": "x"})))
    data = parse_submission(form, posted, {})
    assert data["kontakt"] == {"navn": "Ola Nordmann", "telefon": "+47 99 99 99 99"}
    assert data["medlemmer"] == [{"tittel": "Lærer", "navn": "Kari Lærer"}, {"navn": "Siri"}]
    assert data["antall_deltakere"] == "12" and data["parorende_informert"] is True and "ukjent" not in data
    assert json.dumps(data)  # plain data, ready for the validator
    unchecked = parse_submission(form, MultiDict([("samtykke", "nei"), ("samtykke_omfang", "x")]), {})
    assert unchecked["parorende_informert"] is False and "samtykke_omfang" not in unchecked


def test_an_incident_shows_on_the_case_page_and_a_manager_starts_it_again(web, role_users, deploy, orc, clock):
    from orchestrator.services import timers

    deploy(*diagrams.failing_timer())
    orc.settings.timer_max_attempts = 1
    started = instances.start(orc, "test_feilende_tidtaker", SYSTEM, "SAK-FEIL")
    clock.advance(timedelta(days=1))
    [fired] = timers.fire_due(orc)
    assert fired.incident
    web.login("mona")
    page = web.get(f"/instances/{started.id}").get_data(as_text=True)
    assert "Saken har stoppet på en feil" in page and "division by zero" in page and "Start saken igjen" in page
    answer = web.post(f"/instances/{started.id}/resume")
    assert answer.status_code == 302
    page = web.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Saken er startet igjen" in page and "Start saken igjen" not in page
    assert instances.get(orc, started.id, SYSTEM).status == "running"
