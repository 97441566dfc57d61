"""The three jobs on the seed routines in a real browser: staff work an oppstart case, a manager
inspects it on its diagram and on the dashboard, and sees the innkalling among the Utsendinger.

Takes the README's screenshots of the real routines (rutine-*.png; see tests/test_browser.py for where).
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from routines import CONSENT, ROOT, do, instance_of, plan_case  # noqa: F401
from test_browser import PASSWORD, Page, browser, live_server  # noqa: F401  (fixtures)
from test_diagram_layout import SAMSPILL, layout_of
from test_routine_ansvarsgruppe import create, prepare
from orchestrator.services import instances, timers, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.notices import delivery

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

pytest_plugins = ["webtools"]
pytestmark = pytest.mark.browser


class Staff:
    def __init__(self, orc):
        for username, name, roles in [("kari", "Kari Koordinerende", ["koordinerende_enhet"]),
                                      ("kora", "Kora Koordinator", ["koordinator", "tjenesteyter"]),
                                      ("mona", "Mona Manager", ["manager"])]:
            users.add(orc, username, roles, PASSWORD, display_name=name)
        self.kari, self.kora = users.actor_for(orc, "kari"), users.actor_for(orc, "kora")


@pytest.fixture
def staff(orc, deploy):
    deploy(ROOT / "processes", ROOT / "forms")
    return Staff(orc)


def test_ke_starts_an_oppstart_case_and_the_coordinator_works_it(live_server, browser, orc, staff):
    page = Page(browser, live_server)
    page.login("kari")
    page.open("/instances/new")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Igangsettelse av koordinering").click()
    page.type("__saksnummer", "SAK-2027-0042")
    page.type("gjelder", "Emil H.")
    page.type("meldt_av", "Helsestasjonen")
    page.type("behov", "Skole, helsestasjon og avlastning må samarbeide.")
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()
    page.wait.until(lambda d: "Avklare om bruker ønsker koordinering" in d.page_source)  # the POST has answered
    case = instance_of(orc, "oppstart", "SAK-2027-0042")

    # KE records the wish, the conversation with consent, and appoints kora (11.1 punkt 1)
    do(orc, case.id, "onske", staff.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                            "soknad_fra": "parorende", "soknad_dato": "2027-01-04"})
    do(orc, case.id, "samtale", staff.kari, CONSENT)
    do(orc, case.id, "onske", staff.kari, {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja",
                                            "koordinator": "kora"})
    do(orc, case.id, "oppstartsamtale", staff.kora, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "Månedlig."})
    page.logout()

    page.login("kora")
    assert "7. Oppstartmøte" in browser.page_source and "SAK-2027-0042" in browser.page_source
    page.screenshot("rutine-oppgaver.png")
    browser.find_element(By.PARTIAL_LINK_TEXT, "7. Oppstartmøte").click()
    page.find("#send-inn")
    for name, text in [("situasjon", "Går i 3. klasse."), ("ressurser", "Engasjerte foreldre."),
                       ("mal", "Trives på skolen."), ("behov", "Tilrettelegging.")]:
        page.type(name, text)
    page.set_value("oppstartmote_dato", "2027-01-20")
    browser.find_element(By.CSS_SELECTOR, "input[name=barn_som_parorende][value=ja]").click()
    browser.find_element(By.ID, "send-inn").click()
    page.visible(".error-summary")
    assert "Legg til minst én rad." in browser.page_source  # the children must be mapped (Lund § 6)
    assert browser.find_element(By.NAME, "situasjon").get_attribute("value") == "Går i 3. klasse."
    page.screenshot("rutine-kartlegging-med-feil.png")
    assert page.csp_violations() == []


def test_a_manager_sees_the_case_on_its_diagram_the_dashboard_and_the_utsendinger(
        live_server, browser, orc, staff, clock):
    from orchestrator.services import users as user_service

    class Names:  # the routines' helpers expect people with these attributes
        kari, kora = staff.kari, staff.kora
        kai = tina = tor = lars = kim = staff.kari

    plan_case(orc, Names, "SAK-2027-0042", coordinator="kora")
    case = instance_of(orc, "oppstart", "SAK-2027-0042")
    group = instance_of(orc, "ansvarsgruppe", "SAK-2027-0042")
    meeting = create(orc, group, Names, clock)
    prepare(orc, group, Names)
    clock.set(meeting - timedelta(days=14) + timedelta(seconds=1))
    timers.fire_due(orc)
    delivery.deliver_due(orc)
    plan_case(orc, Names, "SAK-2027-0043", coordinator="kora")  # a second group, innkalling due in 11 days
    other = instance_of(orc, "ansvarsgruppe", "SAK-2027-0043")
    create(orc, other, Names, clock, days_ahead=25)
    prepare(orc, other, Names)
    assert user_service.actor_for(orc, "mona").reads_all_instances

    page = Page(browser, live_server)
    page.login("mona")
    page.open(f"/instances/{case.id}")
    page.find("#diagram[data-state=ready]")
    assert "orc-done" in page.find('g.djs-element[data-element-id="samtale"]').get_attribute("class")
    assert "orc-active" in page.find('g.djs-element[data-element-id="plan"]').get_attribute("class")
    page.screenshot("rutine-instans.png")

    page.open(f"/instances/{group.id}")
    page.find("#diagram[data-state=ready]")
    assert "orc-active" in page.find('g.djs-element[data-element-id="moete"]').get_attribute("class")
    page.screenshot("rutine-ansvarsgruppe.png")

    page.open("/dashboard")
    assert "SAK-2027-0043" in browser.page_source and "Kora Koordinator" in browser.page_source
    page.screenshot("rutine-fristoversikt.png")

    page.open("/utsendinger")
    assert browser.page_source.count("Innkalling") >= 3
    page.screenshot("rutine-utsendinger.png")
    assert page.csp_violations() == []



# Every text bpmn-js draws, measured in the browser: it must fit the box the file gives it, or the
# layout checks on the file (tests/test_diagram_layout.py) would be checking the wrong boxes.
TEXT_OUTSIDE_ITS_BOX = """
var boxes = arguments[0], out = [];
Object.keys(boxes).forEach(function (id) {
  var g = document.querySelector('#diagram g.djs-element[data-element-id="' + id + '"]');
  var text = g && g.querySelector(':scope > .djs-visual > text');
  if (!text || !text.textContent.trim() || text.getAttribute('transform')) return;  // rotated: pool and lane names
  var box = text.getBBox(), w = boxes[id][0], h = boxes[id][1], slack = 2;
  if (box.x < -slack || box.y < -slack || box.x + box.width > w + slack || box.y + box.height > h + slack) {
    out.push(id + ': ' + Math.round(box.width) + 'x' + Math.round(box.height) + ' px of text in a ' + w + 'x' + h + ' box');
  }
});
return out;
"""


def _text_boxes(path) -> dict[str, tuple[float, float]]:
    """The box each name is drawn in: its label's, or for tasks, subprocesses and pools the shape's."""
    lay = layout_of(path)
    boxes = {f"{ref}_label": (b.w, b.h) for ref, b in lay.labels.items() if b is not None}
    boxes.update({ref: (b.w, b.h) for ref, b in lay.shapes.items() if lay.labels.get(ref) is None})
    return boxes


def test_every_routine_and_how_they_connect_is_drawn_with_each_text_inside_its_box(live_server, browser, staff):
    page = Page(browser, live_server)
    page.login("kari")
    drawn = {}
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        page.open(f"/processes/{path.stem}/versions/1")
        page.find("#diagram[data-state=ready]")
        drawn[path.stem] = browser.execute_script(TEXT_OUTSIDE_ITS_BOX, _text_boxes(path))
    page.open("/processes")
    page.find("#diagram[data-state=ready]")
    assert "Trinn 9: opprett ansvarsgruppe" in browser.find_element(By.ID, "diagram").text
    drawn["samspill"] = browser.execute_script(TEXT_OUTSIDE_ITS_BOX, _text_boxes(SAMSPILL))
    assert len(drawn) == 6 and all(problems == [] for problems in drawn.values()), drawn
    assert page.csp_violations() == []
