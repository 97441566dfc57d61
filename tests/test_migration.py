"""Running cases move to a new version (issue 12 item 6), on the real ansvarsgruppe routine.

Version 2 of the routine is made here, in memory, from processes/ansvarsgruppe.bpmn (the file is
never changed): a longer notice period, a step renamed, a step removed.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select, update

import diagrams
from routines import ROOT, do, instance_of, people, plan_case, seeded, send  # noqa: F401
from test_routine_ansvarsgruppe import FIRST, create, hold, meet, prepare, sent

from helpers import open_elements, open_tasks, task_named
from orchestrator.services import instances, migration, tasks, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from orchestrator.store.models import AuditEntry, Instance, OpenTask, WaitingTimer
from conftest import DEPLOYER
from test_cli import run  # noqa: F401 - the command-line fixture

SOURCE = (ROOT / "processes" / "ansvarsgruppe.bpmn").read_text()
NOTICE = "iso(subtract_days(moetetid, varslingsfrist_dager))"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
PREPARE = "Forberede innkalling: saksliste og innkalte"


def notice_period_21(xml: str = SOURCE) -> str:
    """Version 2: innkalling at least 21 days before each meeting (the timers; the form still says 14)."""
    changed = xml.replace(f"{NOTICE}</bpmn:timeDate>", "iso(subtract_days(moetetid, max(varslingsfrist_dager, 21)))"
                                                      "</bpmn:timeDate>")
    assert changed.count("max(varslingsfrist_dager, 21)") == 2
    return changed


def renamed(xml: str, old: str, new: str) -> str:
    """The element `old` is called `new` (its references, flows and drawing too), as a modeler renames an id."""
    root = etree.fromstring(xml.encode())
    for node in root.iter():
        for attribute in ("id", "sourceRef", "targetRef", "attachedToRef", "bpmnElement"):
            if node.get(attribute) == old:
                node.set(attribute, new)
        if etree.QName(node).localname in ("incoming", "outgoing", "flowNodeRef") and node.text == old:
            node.text = new
    return etree.tostring(root, encoding="unicode")


def without_prepare(xml: str = SOURCE) -> str:
    """Version 2 without the «Forberede innkalling» step (and its late-innkalling escalation): the
    innkalling goes out at the deadline with what the first meeting agreed."""
    root = etree.fromstring(xml.encode())
    gone = {"forberede_innkalling", "innkalling_forsinket", "eskalering_innkalling_forsinket", "forsinket_slutt",
            "Flow_forberede_innkalling_innkallingsfrist", "Flow_innkalling_forsinket_eskalering_innkalling_forsinket",
            "Flow_eskalering_innkalling_forsinket_forsinket_slutt"}
    for node in list(root.iter()):
        if node.get("id") in gone or node.get("bpmnElement") in gone or (
                etree.QName(node).localname in ("incoming", "outgoing", "flowNodeRef") and node.text in gone):
            node.getparent().remove(node)
    flow = root.find(".//bpmn:sequenceFlow[@id='Flow_forberede_merge_forberede_innkalling']", NS)
    flow.set("targetRef", "innkallingsfrist")
    catch = root.find(".//bpmn:intermediateCatchEvent[@id='innkallingsfrist']", NS)
    etree.SubElement(catch, f"{{{NS['bpmn']}}}incoming").text = flow.get("id")
    catch.insert(1, catch[-1])  # incoming before outgoing, as the schema wants
    _redraw_edge(root, flow.get("id"), "innkallingsfrist")
    return etree.tostring(root, encoding="unicode")


def _redraw_edge(root, flow_id: str, target: str) -> None:
    """The flow's drawing ends at its new target (the modeler would do this when reconnecting)."""
    di = "http://www.omg.org/spec/DD/20100524/DI"
    bounds = root.find(f".//bpmndi:BPMNShape[@bpmnElement='{target}']/{{http://www.omg.org/spec/DD/20100524/DC}}Bounds", NS)
    edge = root.find(f".//bpmndi:BPMNEdge[@bpmnElement='{flow_id}']", NS)
    points = edge.findall(f"{{{di}}}waypoint")
    for point in points[1:]:
        edge.remove(point)
    end = etree.SubElement(edge, f"{{{di}}}waypoint")
    end.set("x", bounds.get("x"))
    end.set("y", str(float(bounds.get("y")) + float(bounds.get("height")) / 2))
    points[0].set("y", end.get("y"))


@pytest.fixture
def group(orc, seeded, people, clock):
    """SAK-1's ansvarsgruppe (coordinator kora), its first meeting 30 days ahead, innkalling prepared:
    it waits on its innkalling timer."""
    plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    group.meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    return group


def innkalling_due(orc, instance_id):
    [timer] = [t for t in instances.get(orc, instance_id, SYSTEM).timers if t["element_id"] == "innkallingsfrist"]
    return timer["due_at"]


def migrated_rows(orc, instance_id):
    with orc.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id,
                                                             AuditEntry.action == "migrated")))


def snapshot(orc, instance_id) -> dict:
    """Everything stored about a case: its row (state included), open tasks, timers, waits, audit rows."""
    with orc.db.read() as session:
        row = session.get(Instance, instance_id)
        return {
            "instance": (row.process_version, row.pins, row.state, row.lock_version, row.next_timer_at, row.trail),
            "tasks": sorted((t.id, t.element_id, t.assignee, t.due_at) for t in
                            session.scalars(select(OpenTask).where(OpenTask.instance_id == instance_id))),
            "timers": sorted((t.task_id, t.element_id, t.due_at) for t in
                             session.scalars(select(WaitingTimer).where(WaitingTimer.instance_id == instance_id))),
            "audit": session.scalar(select(func.count()).select_from(AuditEntry)
                                    .where(AuditEntry.instance_id == instance_id)),
        }


def test_an_ansvarsgruppe_waiting_on_its_innkalling_timer_moves_to_a_longer_notice_period_and_its_timer_follows(
        orc, group, people, clock, deploy):
    assert innkalling_due(orc, group.id) == group.meeting - timedelta(days=14)
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))

    dry = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER)
    [case] = dry.instances
    assert (case.business_key, case.from_version, case.movable, case.refusals) == ("SAK-1", 1, True, [])
    [timer] = [t for t in case.timers if t.element_id == "innkallingsfrist"]
    assert (timer.before, timer.after, timer.changed) == (group.meeting - timedelta(days=14),
                                                           group.meeting - timedelta(days=21), True)
    waiting = {(p.kind, p.element_id, p.target_id) for p in case.placements}
    assert {("tidtaker", "innkallingsfrist", "innkallingsfrist"), ("tidtaker", "seks_maaneder", "seks_maaneder"),
            ("melding", "onskes_ikke", "onskes_ikke")} <= waiting
    assert innkalling_due(orc, group.id) == group.meeting - timedelta(days=14)  # a dry run changes nothing

    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    assert (done.moved, done.refused) == (1, 0)
    moved = instances.get(orc, group.id, SYSTEM)
    assert moved.process_version == 2
    assert innkalling_due(orc, group.id) == group.meeting - timedelta(days=21)
    [audit] = migrated_rows(orc, group.id)
    assert (audit.actor, audit.data["from_version"], audit.data["to_version"]) == ("prosesseier", 1, 2)
    assert (audit.data["pins_before"]["ansvarsgruppe"], audit.data["pins_after"]["ansvarsgruppe"]) == (1, 2)
    assert audit.data["timers"] == [{"element_id": "innkallingsfrist",
                                     "before": (group.meeting - timedelta(days=14)).isoformat(),
                                     "after": (group.meeting - timedelta(days=21)).isoformat()}]

    clock.set(group.meeting - timedelta(days=21) - timedelta(seconds=1))
    timers.fire_due(orc)
    assert sent(orc, group.id, "innkalling") == []
    clock.set(group.meeting - timedelta(days=21))
    timers.fire_due(orc)  # the engine's own timer moved too, not only the row
    assert len(sent(orc, group.id, "innkalling")) == 1
    assert open_elements(orc, group.id) == ["moete"]


def test_a_moved_ansvarsgruppe_runs_on_to_its_dissolution(orc, group, people, clock, deploy):
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    meet(orc, group, clock, group.meeting)  # the innkalling leaves at its deadline, then the meeting
    hold(orc, group, people, next_meeting=group.meeting + timedelta(days=90), **FIRST)
    assert open_elements(orc, group.id) == ["forberede_innkalling"]  # the next cycle, on version 2
    prepare(orc, group, people)
    assert innkalling_due(orc, group.id) == group.meeting + timedelta(days=90 - 21)
    meet(orc, group, clock, group.meeting + timedelta(days=90))
    hold(orc, group, people)
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "felles_evaluering"})
    assert instances.get(orc, group.id, SYSTEM).status == "completed"


def test_a_moved_ansvarsgruppe_still_hears_that_the_person_no_longer_wants_it(orc, group, people, deploy):
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    send(orc, "ansvarsgruppe_onskes_ikke", "SAK-1", people.kari)
    assert open_elements(orc, group.id) == ["opplosning"]  # the meeting cycle was interrupted
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "onsker_ikke", "fortsatt_behov_for_samarbeid": "nei"})
    detail = instances.get(orc, group.id, SYSTEM)
    assert (detail.status, detail.timers) == ("completed", [])


def test_an_element_renamed_further_ahead_needs_no_mapping(orc, group, people, clock, deploy):
    """The end of the meeting cycles lies ahead of the case (predicted below the running meeting
    period): it is predicted again from version 2, and the case later ends through the new element."""
    deploy(("ansvarsgruppe.bpmn", renamed(SOURCE, "moeter_slutt", "ikke_lenger_behov")))
    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    assert (done.moved, done.instances[0].refusals) == (1, [])
    meet(orc, group, clock, group.meeting)  # the innkalling leaves at its deadline, then the meeting
    hold(orc, group, people, **FIRST)  # the group is dissolved: through «ikke_lenger_behov»
    do(orc, group.id, "opplosning", people.kora, {"opplosning_grunn": "felles_evaluering"})
    detail = instances.get(orc, group.id, SYSTEM)
    assert detail.status == "completed" and "ikke_lenger_behov" in detail.completed_elements


def with_script_on(xml: str, flow_id: str, script_id: str, script: str) -> str:
    """A script task `script_id` put on the sequence flow `flow_id` (between its source and target)."""
    root = etree.fromstring(xml.encode())
    flow = root.find(f".//bpmn:sequenceFlow[@id='{flow_id}']", NS)
    container, target = flow.getparent(), flow.get("targetRef")
    flow.set("targetRef", script_id)
    task = etree.SubElement(container, f"{{{NS['bpmn']}}}scriptTask", id=script_id, name="Registrer", scriptFormat="python")
    etree.SubElement(task, f"{{{NS['bpmn']}}}incoming").text = flow_id
    etree.SubElement(task, f"{{{NS['bpmn']}}}outgoing").text = f"Flow_{script_id}"
    etree.SubElement(task, f"{{{NS['bpmn']}}}script").text = script
    etree.SubElement(container, f"{{{NS['bpmn']}}}sequenceFlow", id=f"Flow_{script_id}", sourceRef=script_id,
                     targetRef=target)
    incoming = container.find(f"*[@id='{target}']/bpmn:incoming", NS)
    for node in container.find(f"*[@id='{target}']", NS).findall("bpmn:incoming", NS):
        if node.text == flow_id:
            node.text = f"Flow_{script_id}"
    assert incoming is not None
    return etree.tostring(root, encoding="unicode")


def test_a_step_added_after_the_running_meeting_period_is_taken_when_it_ends(orc, group, people, clock, deploy):
    """What the case will do after its running subprocess is predicted again from version 2."""
    # version 2 records each meeting between the meeting period and «Videre behov for gruppen?»
    deploy(("ansvarsgruppe.bpmn", with_script_on(SOURCE, "Flow_moeteperiode_videre_gw", "registrer_moete",
                                                 "moeter_holdt = moete_nr")))
    assert migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER).moved == 1
    meet(orc, group, clock, group.meeting)  # the innkalling leaves at its deadline, then the meeting
    hold(orc, group, people, next_meeting=group.meeting + timedelta(days=90), **FIRST)
    detail = instances.get(orc, group.id, SYSTEM)
    assert "registrer_moete" in detail.completed_elements and detail.data["moeter_holdt"] == 1
    assert open_elements(orc, group.id) == ["forberede_innkalling"]


def test_a_samarbeid_check_in_step_3_moves_and_takes_the_step_added_after_it(orc, seeded, people, deploy):
    """Step 3 is a multi-instance activity (one contact per service): one contact is done, one open.
    Version 2 records the contacts after step 3; the case takes that step when its last contact is done."""
    from test_routine_samarbeid import STEG3, TJENESTER

    check = instances.start(orc, "samarbeid", people.tina, business_key="SAK-10")
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og PPT er involvert."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    do(orc, check.id, "steg3", people.tor, STEG3)
    open_contact = task_named(orc, check.id, "steg3")
    service = tasks.get(orc, open_contact.id, SYSTEM).data["kontakt"]
    assert service["tjeneste"] == "ppt" and open_contact.service == "ppt"  # the school's contact is done
    source = (ROOT / "processes" / "samarbeid.bpmn").read_text()
    deploy(("samarbeid.bpmn", with_script_on(source, "Flow_steg3_barnekoordinator_vurdering", "registrer_kontakter",
                                             "kontakter_registrert = len(tjenester)")))

    assert migration.migrate(orc, "samarbeid", 2, DEPLOYER).moved == 1
    assert task_named(orc, check.id, "steg3").id == open_contact.id  # the open contact is the same task
    assert tasks.get(orc, open_contact.id, SYSTEM).data["kontakt"] == service  # for the same service
    assert task_named(orc, check.id, "steg3").service == "ppt"  # still in PPT's queue
    do(orc, check.id, "steg3", people.kai, STEG3)
    detail = instances.get(orc, check.id, SYSTEM)
    assert detail.data["kontakter_registrert"] == 2 and open_elements(orc, check.id) == ["barnekoordinator_vurdering"]


def test_a_version_that_removed_the_active_task_is_refused_for_that_instance(orc, seeded, people, clock, deploy):
    plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    create(orc, group, people, clock)
    assert open_elements(orc, group.id) == ["forberede_innkalling"]
    before = snapshot(orc, group.id)
    deploy(("ansvarsgruppe.bpmn", without_prepare()))

    dry = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER)
    [case] = dry.instances
    assert not case.movable
    assert any(f"«{PREPARE}» (forberede_innkalling) finnes ikke i versjon 2" in r and "står der nå" in r
               for r in case.refusals), case.refusals
    assert [u.element_id for u in dry.unmapped] == ["forberede_innkalling", "innkalling_forsinket"]

    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    assert (done.moved, done.refused) == (0, 1)
    assert done.instances[0].refusals == case.refusals
    assert snapshot(orc, group.id) == before
    assert migrated_rows(orc, group.id) == []


def test_a_removed_step_the_case_has_passed_does_not_stop_it_from_moving(orc, group, people, clock, deploy):
    """The case waits at the innkalling deadline; the preparing step it passed is gone in version 2.
    What the case builds on (the step it came from) has no element: it needs a mapping or stays."""
    deploy(("ansvarsgruppe.bpmn", without_prepare()))
    [case] = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER).instances
    assert not case.movable
    assert any("(forberede_innkalling) finnes ikke i versjon 2 (saken har passert det" in r for r in case.refusals)
    mapped = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, mapping={"forberede_innkalling": "forberede_merge"})
    assert mapped.moved == 1
    assert innkalling_due(orc, group.id) == group.meeting - timedelta(days=14)


def test_a_renamed_element_moves_with_an_explicit_mapping(orc, seeded, people, clock, deploy):
    plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    meeting = create(orc, group, people, clock)
    task = task_named(orc, group.id, "forberede_innkalling")
    deploy(("ansvarsgruppe.bpmn", renamed(SOURCE, "forberede_innkalling", "forberede_saksliste")))

    [unmapped] = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER).unmapped
    assert (unmapped.element_id, unmapped.name) == ("forberede_innkalling", PREPARE)
    assert migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER).moved == 0  # not guessed: asked for

    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, mapping={"forberede_innkalling": "forberede_saksliste"})
    assert done.moved == 1
    [placed] = [p for p in done.instances[0].placements if p.kind == "oppgave"]
    assert (placed.element_id, placed.target_id) == ("forberede_innkalling", "forberede_saksliste")
    after = task_named(orc, group.id, "forberede_saksliste")
    assert (after.id, after.due_at, after.assignee) == (task.id, meeting - timedelta(days=14), "kora")
    assert migrated_rows(orc, group.id)[0].data["mapping"] == {"forberede_innkalling": "forberede_saksliste"}
    prepare_data = {"saksliste": [{"punkt": "Status"}], "tjenestemottaker_deltar": "ja"}
    do(orc, group.id, "forberede_saksliste", people.kora, prepare_data)
    assert innkalling_due(orc, group.id) == meeting - timedelta(days=14)


def test_an_open_task_keeps_its_assignee_and_due_date(orc, seeded, people, clock, deploy):
    plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    meeting = create(orc, group, people, clock)
    task = task_named(orc, group.id, "forberede_innkalling")
    taken_at = clock.now()
    with orc.write() as session:  # handed to kai (the coordinator is away), who took it
        session.execute(update(OpenTask).where(OpenTask.id == task.id).values(assignee="kai", claimed_at=taken_at))
    clock.advance(timedelta(days=2))
    # version 2 gives the innkalling 21 days: the task's due date and both timers say so
    deploy(("ansvarsgruppe.bpmn", notice_period_21().replace(
        f'camunda:dueDate="{NOTICE}"', 'camunda:dueDate="iso(subtract_days(moetetid, 21))"')))

    assert migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER).moved == 1
    after = task_named(orc, group.id, "forberede_innkalling")
    assert (after.id, after.assignee, after.claimed_at, after.created_at) == (task.id, "kai", taken_at, task.created_at)
    assert after.due_at == meeting - timedelta(days=14)  # the date kai was given stays
    [late] = [t for t in instances.get(orc, group.id, SYSTEM).timers if t["element_id"] == "innkalling_forsinket"]
    assert late["due_at"] == meeting - timedelta(days=21)  # the escalation follows the new definition
    do(orc, group.id, "forberede_innkalling", people.kai, {"saksliste": [{"punkt": "Status"}],
                                                            "tjenestemottaker_deltar": "ja"})
    assert innkalling_due(orc, group.id) == meeting - timedelta(days=21)


def test_bulk_moves_every_case_that_maps_and_leaves_the_refused_one_untouched(orc, seeded, people, clock, deploy):
    waiting = []
    for key in ("SAK-1", "SAK-2"):
        plan_case(orc, people, key, coordinator="kora")
        group = instance_of(orc, "ansvarsgruppe", key)
        create(orc, group, people, clock)
        prepare(orc, group, people)
        waiting.append(group.id)
    plan_case(orc, people, "SAK-3", coordinator="kora")
    preparing = instance_of(orc, "ansvarsgruppe", "SAK-3")
    create(orc, preparing, people, clock)
    before = snapshot(orc, preparing.id)
    deploy(("ansvarsgruppe.bpmn", without_prepare()))
    mapping = {"forberede_innkalling": "forberede_merge"}  # what the waiting cases passed

    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, mapping=mapping)
    outcome = {i.instance_id: i for i in done.instances}
    assert (done.moved, done.refused) == (2, 1)
    assert {i for i in waiting if outcome[i].moved} == set(waiting)
    assert not outcome[preparing.id].moved and "står der nå" in outcome[preparing.id].refusals[0]
    for instance_id in waiting:
        assert instances.get(orc, instance_id, SYSTEM).process_version == 2
        assert len(migrated_rows(orc, instance_id)) == 1  # one audit row per case moved
    assert snapshot(orc, preparing.id) == before  # nothing of the refused case changed


def test_the_chosen_cases_move_and_the_others_stay(orc, seeded, people, clock, deploy):
    ids = []
    for key in ("SAK-1", "SAK-2"):
        plan_case(orc, people, key, coordinator="kora")
        group = instance_of(orc, "ansvarsgruppe", key)
        create(orc, group, people, clock)
        prepare(orc, group, people)
        ids.append(group.id)
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, instance_ids=[ids[0], 999])
    assert {i.instance_id: i.moved for i in done.instances} == {ids[0]: True, 999: False}
    assert [instances.get(orc, i, SYSTEM).process_version for i in ids] == [2, 1]
    assert migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER).instances[0].instance_id == ids[1]


def test_the_dry_run_names_data_the_new_version_reads_that_the_case_lacks(orc, group, deploy):
    # version 2 plans the meeting's length; nothing in the routine asks for it
    changed = SOURCE.replace('camunda:dueDate="moetetid"', 'camunda:dueDate="iso(add_days(moetetid, moete_dager))"')
    deploy(("ansvarsgruppe.bpmn", changed))
    [case] = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER).instances
    assert case.movable  # it is read only when the meeting task opens: a warning, not a refusal
    assert [(n.name, n.element_id, n.what) for n in case.missing_data] == [("moete_dager", "moete", "frist")]


def test_a_due_timer_under_the_new_version_fires_when_the_case_moves(orc, group, clock, deploy):
    clock.set(group.meeting - timedelta(days=20))  # past the 21-day deadline, before the 14-day one
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    [case] = migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER).instances
    assert any("utløses når saken flyttes" in n for n in case.notes)
    migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    assert len(sent(orc, group.id, "innkalling")) == 1
    assert open_elements(orc, group.id) == ["moete"]


def test_only_process_owners_move_cases(orc, group, people, deploy):
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    for actor in (people.kora, people.kari, people.lars):
        with pytest.raises(Forbidden):
            migration.plan(orc, "ansvarsgruppe", 2, actor)
        with pytest.raises(Forbidden):
            migration.migrate(orc, "ansvarsgruppe", 2, actor)


def test_a_mapping_must_name_elements_of_the_versions(orc, group, deploy):
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    with pytest.raises(Invalid) as refused:
        migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, mapping={"forberede_innkalling": "finnes_ikke"})
    assert "«finnes_ikke» finnes ikke i versjon 2." in refused.value.fields["mapping"]
    with pytest.raises(Invalid):
        migration.plan(orc, "ansvarsgruppe", 2, DEPLOYER, mapping={"ukjent": "moete"})
    with pytest.raises(NotFound):
        migration.plan(orc, "ansvarsgruppe", 7, DEPLOYER)
    assert instances.get(orc, group.id, SYSTEM).process_version == 1


# --- timers and pins on the engine's own test diagrams -------------------------------------------------------


def test_an_unchanged_duration_keeps_its_due_time_and_a_changed_one_counts_from_its_start(orc, deploy, clock):
    deploy(*diagrams.timers(date_expr="2027-01-05T09:00:00+01:00", duration="P14D"))
    first = instances.start(orc, "test_tidtakere", SYSTEM, "SAK-T1")
    clock.set(clock.now() + timedelta(days=1, hours=1))
    timers.fire_due(orc)
    started = clock.now()
    [waiting] = instances.get(orc, first.id, SYSTEM).timers
    assert (waiting["element_id"], waiting["due_at"]) == ("varighet", started + timedelta(days=14))
    clock.advance(timedelta(days=5))
    deploy(*diagrams.timers(date_expr="2027-01-06T09:00:00+01:00", duration="P14D"))  # v2: only the date differs
    deploy(*diagrams.timers(date_expr="2027-01-06T09:00:00+01:00", duration="P21D"))  # v3: three weeks

    assert migration.migrate(orc, "test_tidtakere", 2, DEPLOYER).moved == 1
    assert instances.get(orc, first.id, SYSTEM).timers[0]["due_at"] == started + timedelta(days=14)
    assert migration.migrate(orc, "test_tidtakere", 3, DEPLOYER).moved == 1
    assert instances.get(orc, first.id, SYSTEM).timers[0]["due_at"] == started + timedelta(days=21)


def test_a_case_in_a_called_process_moves_with_the_callers_new_pins(orc, deploy):
    deploy(*diagrams.called_process())
    started = instances.start(orc, "test_forelder", SYSTEM, "SAK-C1")
    assert open_elements(orc, started.id) == ["c_oppgave"]
    [(_, parent)], [(_, child)] = ([f for f in diagrams.called_process() if f[0] == n]
                                   for n in ("test_forelder.bpmn", "test_barn.bpmn"))
    deploy(("test_barn.bpmn", child.replace("Oppgave i kalt prosess", "Oppgave i den kalte prosessen")))
    deploy(("test_forelder.bpmn", parent.replace("Etter kallet", "Etter kallet er ferdig")))

    done = migration.migrate(orc, "test_forelder", 2, DEPLOYER)
    assert done.moved == 1
    with orc.db.read() as session:
        pins = session.get(Instance, started.id).pins
    assert pins == {"test_forelder": 2, "test_barn": 2}
    [task] = open_tasks(orc, started.id)
    assert (task.element_id, task.name) == ("c_oppgave", "Oppgave i den kalte prosessen")


def test_process_owners_move_cases_from_the_command_line(run, tmp_path):
    from test_cli import _json

    folder = tmp_path / "v1"
    folder.mkdir()
    for name, content in diagrams.user_task_with_gateway():
        (folder / name).write_text(content)
    run("db", "upgrade")
    run("deploy", str(folder))
    first = _json(run("instances", "start", "test_gateway", "--business-key", "SAK-1", "--json"))
    second = _json(run("instances", "start", "test_gateway", "--business-key", "SAK-2", "--json"))
    (folder / "test_gateway.bpmn").write_text(renamed(dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"],
                                                      "vurder", "vurder_behov"))
    run("deploy", str(folder))

    dry = run("migrate", "test_gateway", "--to", "2", "--dry-run")
    assert "avvist" in dry.stdout and "«Vurder behov» (vurder) finnes ikke i versjon 2" in dry.stdout
    assert "uten mål i v2: vurder (2 sak(er))" in dry.stdout
    refused = run("migrate", "test_gateway", "--to", "2", "--map", "vurder", expect=2)
    assert "GAMMEL_ID=NY_ID" in refused.stderr
    moved = _json(run("migrate", "test_gateway", "--to", "2", "--map", "vurder=vurder_behov",
                      "--instance", str(first["id"]), "--json"))
    assert (moved["moved"], moved["refused"]) == (1, 0)
    assert moved["instances"][0]["placements"][0]["target_id"] == "vurder_behov"
    shown = _json(run("instances", "show", str(first["id"]), "--json"))
    assert (shown["process_version"], [t["element_id"] for t in shown["tasks"]]) == (2, ["vurder_behov"])
    assert _json(run("instances", "show", str(second["id"]), "--json"))["process_version"] == 1


def test_a_case_whose_move_fails_unexpectedly_is_rolled_back_alone(orc, seeded, people, clock, deploy, monkeypatch):
    ids = []
    for key in ("SAK-1", "SAK-2"):
        plan_case(orc, people, key, coordinator="kora")
        group = instance_of(orc, "ansvarsgruppe", key)
        create(orc, group, people, clock)
        prepare(orc, group, people)
        ids.append(group.id)
    before = snapshot(orc, ids[0])
    deploy(("ansvarsgruppe.bpmn", notice_period_21()))
    from orchestrator.engine import migration as engine_migration

    real, calls = engine_migration.migrate, []

    def first_one_breaks(workflow, *args, **kwargs):
        calls.append(1)
        moved = real(workflow, *args, **kwargs)  # the workflow is changed, and then something breaks
        if len(calls) == 1:
            raise RuntimeError("disken er full")
        return moved

    monkeypatch.setattr(engine_migration, "migrate", first_one_breaks)
    done = migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER)
    outcome = {i.instance_id: i for i in done.instances}
    assert (outcome[ids[0]].moved, outcome[ids[1]].moved) == (False, True)
    assert "uventet feil" in outcome[ids[0]].refusals[0]
    assert snapshot(orc, ids[0]) == before
    monkeypatch.setattr(engine_migration, "migrate", real)
    assert migration.migrate(orc, "ansvarsgruppe", 2, DEPLOYER, instance_ids=[ids[0]]).moved == 1  # and it can be retried
