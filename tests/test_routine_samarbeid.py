"""The three-step samarbeid check (seed 003, 000/001), samordningsplikt and barnekoordinator."""
from __future__ import annotations

import pytest

from routines import BARNEKOORDINATOR_CONSENT, data, do, instance_of, open_elements, people, seeded  # noqa: F401
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid, NotFound

TJENESTER = [{"tjeneste": "skole", "kontaktperson": "Kontaktlærer"}, {"tjeneste": "ppt"}]
STEG3 = {"kontakt": {"kontakt_dato": "2027-01-06", "kontaktperson": "Kontakt", "samtykke_til_deling": "samtykke"}}


def contacts(people):
    """Who does each service's step 3 contact: a teacher (skole) and someone at PPT."""
    return [people.tor, people.kai]
FAMILY_WANTS_ONE = {"familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT}


@pytest.fixture
def check(orc, seeded, people):
    return instances.start(orc, "samarbeid", people.tina, business_key="SAK-10")


def _through_step3(orc, check, people):
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og PPT er involvert."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    for contact in contacts(people):
        do(orc, check.id, "steg3", contact, STEG3)


CHILD = {"vilkar_barn": "ja", "vilkar_alvorlig": "ja", "vilkar_langvarig": "ja", "vurdering_barnekoordinator": "Vurdert."}
ANSWERED = {"barnekoordinator_svar_dato": "2027-01-12", "informert_om_klage": True}
ADULT_LONG_TERM = {"vilkar_barn": "nei", "vilkar_langvarig": "ja", "vurdering_barnekoordinator": "Voksen."}


def test_no_other_services_ends_with_the_documented_conclusion(orc, check, people):
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "nei",
                                             "konklusjon_steg1": "Ingen andre tjenester er inne."})
    detail = instances.get(orc, check.id, SYSTEM)
    assert detail.status == "completed" and "slutt_ingen_andre" in detail.completed_elements
    assert detail.data["konklusjon_steg1"] == "Ingen andre tjenester er inne."


def test_the_conclusion_of_step_1_is_required(orc, check, people):
    with pytest.raises(Invalid) as refused:
        do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "nei"})
    assert refused.value.fields == {"konklusjon_steg1": ["Feltet må fylles ut."]}


def test_services_are_required_when_others_are_involved(orc, check, people):
    with pytest.raises(Invalid) as refused:
        do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "konklusjon_steg1": "x"})
    assert "tjenester" in refused.value.fields


def test_cooperation_not_needed_ends_with_the_reasoning(orc, check, people):
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "To tjenester."})
    with pytest.raises(Invalid) as refused:
        do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "nei"})
    assert "begrunnelse_steg2" in refused.value.fields
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "nei", "begrunnelse_steg2": "Kortvarig og avklart."})
    detail = instances.get(orc, check.id, SYSTEM)
    assert detail.status == "completed" and "slutt_ikke_behov" in detail.completed_elements


def test_step_3_makes_one_contact_task_per_service(orc, check, people):
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "To tjenester."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    assert open_elements(orc, check.id) == ["steg3", "steg3"]
    for contact in contacts(people):
        do(orc, check.id, "steg3", contact, STEG3)
    assert open_elements(orc, check.id) == ["barnekoordinator_vurdering"]
    assert [t["samtykke_til_deling"] for t in data(orc, check.id)["tjenester"]] == ["samtykke", "samtykke"]


def test_services_that_agree_coordinate_themselves_and_the_check_ends(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, {**ADULT_LONG_TERM, "vilkar_langvarig": "nei"})
    do(orc, check.id, "samordning", people.tina, {"enige": "ja", "samordnende_tjeneste": "Skolen"})
    detail = instances.get(orc, check.id, SYSTEM)
    assert detail.status == "completed" and "samordningsplikt" not in detail.completed_elements
    assert detail.data["samordnende_tjeneste"] == "Skolen"


def test_only_when_services_disagree_the_municipality_decides_who_coordinates(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, {**ADULT_LONG_TERM, "vilkar_langvarig": "nei"})
    do(orc, check.id, "samordning", people.tina, {"enige": "nei"})
    assert open_elements(orc, check.id) == ["samordningsplikt"]
    with pytest.raises(NotFound):  # the municipality's task: to a tjenesteyter as if it did not exist
        do(orc, check.id, "samordningsplikt", people.tina, {"samordnende_tjeneste": "PPT", "begrunnelse_samordningsplikt": "x"})
    do(orc, check.id, "samordningsplikt", people.kim, {"samordnende_tjeneste": "Helsestasjonen",
                                                       "begrunnelse_samordningsplikt": "Mest aktiv tjeneste."})
    assert instances.get(orc, check.id, SYSTEM).data["samordnende_tjeneste"] == "Helsestasjonen"


def test_a_child_with_the_right_to_barnekoordinator_skips_samordning_only_once_one_is_appointed(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, CHILD)
    assert data(orc, check.id)["rett_til_barnekoordinator"] is True
    assert open_elements(orc, check.id) == ["barnekoordinator_svar"]  # entitlement alone skips nothing
    do(orc, check.id, "barnekoordinator_svar", people.kari, ANSWERED | FAMILY_WANTS_ONE)
    do(orc, check.id, "barnekoordinator_oppnevning", people.kari, {"barnekoordinator": "kora",
                                                                   "familien_informert_om_barnekoordinator": True})
    detail = instances.get(orc, check.id, SYSTEM)
    assert "samordning" not in detail.completed_elements and detail.status == "completed"
    oppstart = instance_of(orc, "oppstart", "SAK-10")
    assert (data(orc, oppstart.id)["barnekoordinator"], data(orc, oppstart.id)["gjelder"]) == ("kora", "Emma S.")
    assert open_elements(orc, oppstart.id) == ["onske"]


@pytest.mark.parametrize("conditions,entitled,reason", [
    ({"vilkar_barn": "ja", "vilkar_alvorlig": "ja", "vilkar_langvarig": "ja"}, True, "Alle tre vilkår"),
    ({"vilkar_barn": "nei", "vilkar_langvarig": "ja"}, False, "Vilkår 1"),
    ({"vilkar_barn": "ja", "vilkar_alvorlig": "nei", "vilkar_langvarig": "ja"}, False, "Vilkår 2"),
    ({"vilkar_barn": "ja", "vilkar_alvorlig": "ja", "vilkar_langvarig": "nei"}, False, "Vilkår 3"),
])
def test_barnekoordinator_needs_all_three_statutory_conditions(orc, check, people, conditions, entitled, reason):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, {**conditions, "vurdering_barnekoordinator": "Vurdert."})
    result = data(orc, check.id)
    assert result["rett_til_barnekoordinator"] is entitled
    assert result["barnekoordinator_begrunnelse"].startswith(reason)


def test_long_term_coordinated_needs_report_to_ke_and_start_oppstart_for_the_same_case(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, ADULT_LONG_TERM)
    do(orc, check.id, "samordning", people.tina, {"enige": "ja", "samordnende_tjeneste": "NAV"})
    detail = instances.get(orc, check.id, SYSTEM)
    assert detail.status == "completed" and "melding_til_ke" in detail.completed_elements
    oppstart = instance_of(orc, "oppstart", "SAK-10")
    started = data(orc, oppstart.id)
    assert (started["gjelder"], started["barnekoordinator"], started["rett_til_barnekoordinator"]) == ("Emma S.", None, False)
    assert [t["tjeneste"] for t in started["tjenester"]] == ["skole", "ppt"]


def test_step_3_ends_when_its_last_contact_is_done_in_another_process(orc, check, people, settings):
    """Each service's contact is a task of step 3; the last one may be done in another web process (or
    after a restart) than the one that opened them, which parsed the diagram anew."""
    from orchestrator.services import bootstrap

    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og PPT er involvert."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    do(orc, check.id, "steg3", people.tor, STEG3)
    other = bootstrap.build(settings)
    try:
        do(other, check.id, "steg3", people.kai, STEG3)
        assert open_elements(other, check.id) == ["barnekoordinator_vurdering"]
    finally:
        other.close()


def test_the_check_is_the_assessing_services_and_each_contact_goes_to_that_services_queue(orc, check, people):
    """A school employee can neither see nor complete a samarbeid check the health service started; step 3
    puts one contact task in each involved service's queue, showing it only what the contact needs."""
    from orchestrator.services import tasks
    from helpers import task_named

    assert data(orc, check.id)["vurderende_tjeneste"] == "helsestasjon"  # tina's only service, filled in
    steg1 = task_named(orc, check.id, "steg1")
    assert steg1.service == "helsestasjon"
    for outsider in (people.tor, people.kai):  # skole, PPT
        with pytest.raises(NotFound):
            tasks.get(orc, steg1.id, outsider)
        with pytest.raises(NotFound):
            tasks.complete(orc, steg1.id, {"gjelder": "X", "andre_tjenester": "nei", "konklusjon_steg1": "x"}, outsider)
        with pytest.raises(NotFound):
            instances.get(orc, check.id, outsider)
        assert all(t.instance_id != check.id for t in tasks.list_tasks(orc, outsider, "roles").items)
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og PPT er involvert; lese- og skrivevansker."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})

    queues = {t.service: t for t in tasks.list_tasks(orc, SYSTEM, "all", instance_id=check.id).items}
    assert set(queues) == {"skole", "ppt"}
    [teachers] = [t for t in tasks.list_tasks(orc, people.tor, "roles").items if t.instance_id == check.id]
    assert teachers.id == queues["skole"].id  # tor sees the school's contact, not PPT's
    with pytest.raises(NotFound):
        tasks.get(orc, queues["ppt"].id, people.tor)
    seen = tasks.get(orc, teachers.id, people.tor).data
    assert seen["kontakt"]["tjeneste"] == "skole" and seen["vurderende_tjeneste"] == "helsestasjon"
    assert not {"gjelder", "konklusjon_steg1", "begrunnelse_steg2", "tjenester"} & set(seen)  # not this task's
    case = instances.get(orc, check.id, people.tor)  # through his task: that task, and nothing of the case's data
    assert case.limited and case.data == {} and [t["id"] for t in case.tasks] == [teachers.id]
    assert case.history == [] and case.completed_elements == []
    do(orc, check.id, "steg3", people.tor, STEG3)
    assert [e["action"] for e in instances.get(orc, check.id, people.tor).history] == ["task_completed"]
    assessing = instances.get(orc, check.id, people.tina)  # the assessing service: through its own tasks too
    assert assessing.limited and {e["element_id"] for e in assessing.history if e["action"] == "task_completed"} == {
        "steg1", "steg2"}
    assert instances.get(orc, check.id, people.kari).data["konklusjon_steg1"].startswith("Skole og PPT")


def test_someone_in_several_services_says_which_one_assesses(orc, seeded, people, make_user):
    both = make_user("bente", "tjenesteyter", services=["helsestasjon", "skole"])
    with pytest.raises(Invalid) as refused:
        instances.start(orc, "samarbeid", both, business_key="SAK-20")
    assert "vurderende_tjeneste" in refused.value.fields
    with pytest.raises(Invalid) as refused:
        instances.start(orc, "samarbeid", both, business_key="SAK-20", data={"vurderende_tjeneste": "nav"})
    assert "hører ikke til" in refused.value.fields["vurderende_tjeneste"][0]
    started = instances.start(orc, "samarbeid", both, business_key="SAK-20", data={"vurderende_tjeneste": "skole"})
    from helpers import task_named
    assert task_named(orc, started.id, "steg1").service == "skole"
