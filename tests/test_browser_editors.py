"""Process owners in real headless Chromium: the modeler in Norwegian with the «Orkestrering» group,
problems on the elements while editing, drafts, and deploying a diagram; editing a form and
seeing it in a staff task; changing the DMN table and seeing a samarbeid check use it.

Screenshots go to tests/_artifacts/ (git-ignored); docs/screenshots/ is never written here.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("webtools")
from webtools import rich_form_process  # noqa: E402

from orchestrator.services import instances, processes, users  # noqa: E402
from orchestrator.services.access import SYSTEM  # noqa: E402

from helpers import task_named  # noqa: E402
from test_browser import PASSWORD, Page, browser, live_server  # noqa: E402,F401 - fixtures

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytest_plugins = ["webtools"]
pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
ROOT = Path(__file__).resolve().parent.parent


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.driver.save_screenshot(str(ARTIFACTS / name))


def _owner(orc, page: Page) -> None:
    users.add(orc, "petra", ["process_owner"], PASSWORD, display_name="Petra")
    page.login("petra")


def _run(browser, script: str, *args):
    return browser.execute_script(script, *args)


def _choose(browser, name: str, value: str) -> None:
    """Pick an option as a person does (chromedriver's option click fires no «input» event)."""
    _run(browser, "var s = document.querySelector('select[name=\"' + arguments[0] + '\"]'); s.value = arguments[1];"
         "s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true}));",
         name, value)


def _saved_xml(browser) -> str:
    return browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "window.orchestratorModeler.saveXML({format: true}).then(function (r) { done(r.xml); });")


def test_a_process_owner_edits_a_diagram_in_norwegian_and_deploys_it(live_server, browser, orc, deploy):
    deploy(*rich_form_process())
    page = Page(browser, live_server)
    _owner(orc, page)
    page.open("/modeler/test_koordinering")
    page.find("#modeler[data-state=ready]")
    _shot(page, "modeler-open.png")
    # the palette and context pad speak Norwegian
    titles = _run(browser, "return Array.from(document.querySelectorAll('.djs-palette .entry'))"
                           ".map(function (e) { return e.getAttribute('aria-label'); });")
    assert {"Oppgave", "Slutthendelse", "Port (valg eller parallell)"} <= set(titles), titles
    page.find('g.djs-element[data-element-id="oppstartmote"]').click()
    assert page.find(".djs-context-pad .entry[title='Legg til slutthendelse']")
    # «Orkestrering» shows what the orchestrator reads, with the roles by their Norwegian names
    group = page.find('[data-group-id="group-orkestrering"]')
    header = group.find_element(By.CSS_SELECTOR, ".bio-properties-panel-group-header")
    if "open" not in group.find_element(By.CSS_SELECTOR, ".bio-properties-panel-group-entries").get_attribute("class"):
        header.click()
    role = Select(page.visible("select[name='orkestrering-rolle']"))
    assert "Koordinerende enhet" in [o.text for o in role.options]
    _choose(browser, "orkestrering-rolle", "leder")  # a person's pick fires «input», as this does
    assert Select(page.find("select[name='orkestrering-skjema']")).first_selected_option.text == "test_mote"
    assert page.find("#orkestrering-apne-skjema").get_attribute("href").endswith("/skjemaer/test_mote/rediger")
    due = page.visible("input[name='orkestrering-frist']")
    due.clear()
    due.send_keys("P10D")
    page.wait.until(lambda d: 'camunda:dueDate="P10D"' in _saved_xml(d))
    _shot(page, "modeler-orkestrering.png")
    page.find("#rull-ut").click()
    page.wait.until(lambda d: "Rullet ut som versjon 2" in d.find_element(By.ID, "editor-status").text)
    deployed = processes.source(orc, "test_koordinering", 2, SYSTEM).content.decode()
    assert 'camunda:candidateGroups="leder"' in deployed and 'camunda:dueDate="P10D"' in deployed
    version = processes.get_process(orc, "test_koordinering", SYSTEM).versions[0]
    assert (version.version, version.origin, version.deployed_by) == (2, "browser", "petra")
    # the version page marks what changed since version 1 on the diagram
    page.open("/processes/test_koordinering/versions/2?mot=1")
    page.find("#diagram[data-state=ready]")
    assert page.find("#diagram").get_attribute("data-diff") == "0,1,0"
    assert "orc-changed" in page.find('g.djs-element[data-element-id="oppstartmote"]').get_attribute("class")
    assert "Endret: Hold oppstartmøte (oppstartmote)" in page.find("#diff-summary").text
    _shot(page, "versjon-endringer.png")
    assert page.csp_violations() == []


def test_a_new_process_shows_problems_while_editing_and_is_kept_as_a_draft(live_server, browser, orc, deploy):
    page = Page(browser, live_server)
    _owner(orc, page)
    page.open("/processes")
    page.find("a[href='/modeler']").click()
    page.find("#modeler[data-state=ready]")
    # the untouched template: the server's check says why it cannot be deployed, before any deploy
    problems = page.visible("#editor-problems")
    page.wait.until(lambda d: "tomme malen" in d.find_element(By.ID, "editor-problems").text)
    # draw a task after the start and an end left unconnected: the template refusal gives way to
    # «no way from the start to an end», marked on the start event
    _run(browser, "var m = window.orchestratorModeler, r = m.get('elementRegistry'), start = r.get('start');"
                  "var task = m.get('elementFactory').createShape({type: 'bpmn:UserTask'});"
                  "m.get('modeling').appendShape(start, task, {x: start.x + 200, y: start.y + 18});"
                  "m.get('modeling').updateProperties(task, {name: 'Vurder saken'});"
                  "var end = m.get('elementFactory').createShape({type: 'bpmn:EndEvent'});"
                  "m.get('modeling').createShape(end, {x: start.x + 450, y: start.y + 18}, start.parent);"
                  "m.get('modeling').updateModdleProperties(r.get('Deltaker_ny_prosess'), "
                  "  m.getDefinitions().rootElements.filter(function (e) { return e.$type === 'bpmn:Process'; })[0],"
                  "  {id: 'min_prosess', name: 'Min prosess'});")
    page.wait.until(lambda d: "ingen vei fra starten" in d.find_element(By.ID, "editor-problems").text)
    page.find(".orkestrering-problem-badge[data-element-id='start']")
    lint = int(page.find("#modeler").get_attribute("data-lint-issues"))
    assert lint >= 1  # bpmnlint's own markers beside the server's
    _shot(page, "ny-prosess-problemer.png")
    assert "tomme malen" not in problems.text
    page.find("#lagre-utkast").click()
    page.wait.until(lambda d: "Utkastet er lagret" in d.find_element(By.ID, "editor-status").text)
    assert processes.list_processes(orc, SYSTEM).total == 0  # nothing deployed, nothing startable
    page.open("/processes")
    drafts_table = page.find("#utkast")
    assert "min_prosess" in drafts_table.text
    drafts_table.find_element(By.LINK_TEXT, "Fortsett").click()
    page.find("#modeler[data-state=ready]")
    assert "utkast" in page.find("#draft-note").text
    assert "Vurder saken" in _saved_xml(browser)
    assert page.csp_violations() == []


def test_a_process_owner_edits_a_form_previews_it_and_staff_get_it_in_their_task(live_server, browser, orc, deploy):
    deploy(*rich_form_process())
    page = Page(browser, live_server)
    _owner(orc, page)
    page.open("/skjemaer/test_oppstart/rediger")
    page.find("#form-editor[data-state=ready]")
    # a person's path: select the field on the canvas, rename it in the editor's properties panel
    _run(browser, "var el = Array.from(document.querySelectorAll('.fjs-editor-container .fjs-element'))"
                  ".filter(function (e) { return /Sted/.test(e.textContent) && !/Rådhus/.test(e.textContent); })"
                  ".pop(); el.click();")
    page.find(".fjs-properties-container [data-group-id='group-general'] .bio-properties-panel-group-header").click()
    label = page.visible("#bio-properties-panel-label")
    label.clear()
    label.send_keys("Møtested")
    page.wait.until(lambda d: "Møtested" in _run(d, "return JSON.stringify(window.orchestratorFormEditor.saveSchema());"))
    _shot(page, "skjemaeditor.png")
    # the preview saves a draft and checks answers with the server's own validation
    page.find("#forhandsvis").click()
    page.find("#preview-form")
    assert "Møtested" in browser.page_source and "utkast" in page.find(".eyebrow").text
    page.find("#prov-innsending").click()
    summary = page.visible("#feiloppsummering")
    assert "Møtested" in summary.text and "Feltet må fylles ut" in summary.text
    _shot(page, "skjema-forhandsvisning.png")
    assert [v.version for v in processes.get_process(orc, "test_oppstart", SYSTEM).versions] == [1]  # only a draft
    # back in the editor, the draft opens with a note; deploying it makes version 2
    page.open("/skjemaer/test_oppstart/rediger")
    page.find("#form-editor[data-state=ready]")
    assert "utkast" in page.find("#draft-note").text
    page.find("#rull-ut").click()
    page.wait.until(lambda d: "Rullet ut som versjon 2" in d.find_element(By.ID, "editor-status").text)
    # staff get the new form in a new case's task
    started = instances.start(orc, "test_koordinering", SYSTEM, "SAK-SKJEMA", {"saksbeskrivelse": "Emil"})
    users.add(orc, "kora", ["koordinator"], PASSWORD, display_name="Kora")
    page.logout()
    page.login("kora")
    task = task_named(orc, started.id, "oppstartsamtale")
    page.open(f"/tasks/{task.id}")
    assert page.find("label[for='f-sted']").text.startswith("Møtested")
    assert page.csp_violations() == []


def test_a_process_owner_changes_the_dmn_table_and_a_samarbeid_check_uses_it(live_server, browser, orc, deploy,
                                                                              make_user):
    deploy(ROOT / "processes", ROOT / "forms")
    page = Page(browser, live_server)
    _owner(orc, page)
    page.open("/tabeller/rett_til_barnekoordinator/rediger")
    page.find("#dmn-editor[data-state=ready]")
    # the table's own words are Norwegian
    assert "Treffregel" in page.find(".tjs-container").text
    cell = page.find("td[data-element-id='regel_alle_begrunnelse'] [contenteditable='true']")
    cell.click()
    # typing as a person does (chromedriver cannot send keys to this contenteditable)
    _run(browser, "var c = arguments[0]; c.focus(); document.execCommand('selectAll', false, null);"
                  "document.execCommand('insertText', false, arguments[1]);",
         cell, '"Alle tre vilkår er oppfylt; endret i nettleseren."')
    page.wait.until(lambda d: "endret i nettleseren" in d.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "window.orchestratorDmnModeler.saveXML({format: true}).then(function (r) { done(r.xml); });"))
    _shot(page, "dmn-editor.png")
    page.find("#rull-ut").click()
    page.wait.until(lambda d: "Rullet ut som versjon 2" in d.find_element(By.ID, "editor-status").text)
    # a samarbeid check started now decides with the new table
    from routines import data, do

    tina = make_user("tina", "tjenesteyter", services=["helsestasjon"])
    tor = make_user("tor", "tjenesteyter", services=["skole"])
    check = instances.start(orc, "samarbeid", tina, business_key="SAK-DMN")
    services = [{"tjeneste": "skole"}]
    do(orc, check.id, "steg1", tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": services,
                                      "konklusjon_steg1": "Skolen er involvert."})
    do(orc, check.id, "steg2", tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    do(orc, check.id, "steg3", tor, {"kontakt": {"kontakt_dato": "2027-01-06", "kontaktperson": "Kontakt",
                                                   "samtykke_til_deling": "samtykke"}})
    do(orc, check.id, "barnekoordinator_vurdering", tina, {
        "vilkar_barn": "ja", "vilkar_alvorlig": "ja", "vilkar_langvarig": "ja", "vurdering_barnekoordinator": "Vurdert."})
    result = data(orc, check.id)
    assert result["rett_til_barnekoordinator"] is True
    assert result["barnekoordinator_begrunnelse"] == "Alle tre vilkår er oppfylt; endret i nettleseren."
    assert page.csp_violations() == []
