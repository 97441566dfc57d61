"""The three-step samarbeid check (seed 003, 000/001), samordningsplikt and barnekoordinator."""
from __future__ import annotations

import pytest

from routines import BARNEKOORDINATOR_CONSENT, data, do, instance_of, open_elements, people, seeded  # noqa: F401
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid

TJENESTER = [{"navn": "Skole"}, {"navn": "Barnevern"}]
STEG3 = {"tjeneste": {"kontakt_dato": "2027-01-06", "kontaktperson": "Kontakt", "samtykke_til_deling": "samtykke"}}
FAMILY_WANTS_ONE = {"familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT}


@pytest.fixture
def check(orc, seeded, people):
    return instances.start(orc, "samarbeid", people.tina, business_key="SAK-10")


def _through_step3(orc, check, people):
    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og barnevern er involvert."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    for _ in TJENESTER:
        do(orc, check.id, "steg3", people.tina, STEG3)


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
    for _ in TJENESTER:
        do(orc, check.id, "steg3", people.tina, STEG3)
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
    with pytest.raises(Forbidden):
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
    assert [t["navn"] for t in started["tjenester"]] == ["Skole", "Barnevern"]


def test_step_3_ends_when_its_last_contact_is_done_in_another_process(orc, check, people, settings):
    """Each service's contact is a task of step 3; the last one may be done in another web process (or
    after a restart) than the one that opened them, which parsed the diagram anew."""
    from orchestrator.services import bootstrap

    do(orc, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                             "konklusjon_steg1": "Skole og barnevern er involvert."})
    do(orc, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    do(orc, check.id, "steg3", people.tina, STEG3)
    other = bootstrap.build(settings)
    try:
        do(other, check.id, "steg3", people.tina, STEG3)
        assert open_elements(other, check.id) == ["barnekoordinator_vurdering"]
    finally:
        other.close()
