"""`make run` on an empty installation shows the routines at work: `orchestrator demo --if-empty`."""
from __future__ import annotations

from orchestrator.services import dashboard, demo, instances, tasks, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.notices import queries
from routines import seeded  # noqa: F401  (fixture: processes/ and forms/ deployed)


def _demo_users(orc, tmp_path):
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    return {name: users.actor_for(orc, name) for name in ("tina", "kari", "kora", "nina", "lars", "kim", "mona")}


def test_on_an_empty_installation_every_demo_user_finds_work_deadlines_and_notices(orc, seeded, clock, tmp_path):
    people = _demo_users(orc, tmp_path)
    made = demo.seed(orc, if_empty=True)
    assert len(made) == 8 and all(m.business_key.startswith("9999/") for m in made)  # clearly not real cases

    def work(name):
        return {(t.business_key, t.element_id) for t in tasks.list_tasks(orc, people[name], "roles").items}

    assert ("9999/0001", "steg2") in work("tina")  # a samarbeid check waiting at step 2
    assert ("9999/0002", "onske") in work("kari")  # a new melding, oppstart trinn 2
    assert ("9999/0003", "kartlegging") in work("kora")  # an oppstart at trinn 7, kora its coordinator
    assert {("9999/0006", "eskalering_innkalling_forsinket"),
            ("9999/0007", "eskalering_utsending_feilet")} <= work("lars")  # escalations for the leader
    assert ("9999/0004", "samordningsplikt") in work("kim")  # the services could not agree
    # the step 3 contacts of a check the school (tina) assesses wait in the contacted services' queues
    assert ("9999/0008", "steg3") in work("kora") and ("9999/0008", "steg3") in work("nina")
    assert ("9999/0008", "steg3") not in work("tina")
    contacts = [t for t in tasks.list_tasks(orc, SYSTEM, "all", per_page=200).items if t.business_key == "9999/0008"]
    assert sorted(t.service for t in contacts) == ["helsestasjon", "nav"]
    assert {t.service for t in tasks.list_tasks(orc, SYSTEM, "all", per_page=200).items
            if t.business_key == "9999/0001"} == {"skole"}  # tina's own check: the school's queue
    overview = dashboard.overview(orc, people["mona"])
    assert [i.business_key for i in overview.innkallinger_due_soon] == ["9999/0005"]
    assert [i.business_key for i in overview.innkallinger_overdue] == ["9999/0006"]
    assert [i.business_key for i in overview.failed_notices] == ["9999/0007"]
    assert "feil.invalid" in overview.failed_notices[0].what
    page = queries.list_notices(orc, people["mona"], business_key="9999/0007")
    assert page.counts["sink"] == 2 and page.counts["failed"] == 1  # the others went, to the local folder
    assert {i.status for i in instances.list_instances(orc, SYSTEM, per_page=200).items} == {"running"}


def test_the_demo_never_adds_to_an_installation_with_cases(orc, seeded, clock, tmp_path):
    people = _demo_users(orc, tmp_path)
    instances.start(orc, "oppstart", people["kari"], business_key="2027/1", data={
        "gjelder": "Ola N.", "meldt_av": "Helsestasjonen", "behov": "Flere tjenester trenger å samarbeide."})
    assert demo.seed(orc, if_empty=True) == []
    assert instances.list_instances(orc, SYSTEM).total == 1
    assert len(demo.seed(orc, if_empty=False)) == 8  # asked for by name, it adds them anyway
