"""The words people read for the product's own names: roles, case statuses, what happened in a case.

One table each, used by the pages, the command line, the API's error messages and the notices,
so a status is called the same everywhere (decision 0018). Keys stay in code and data; a person
never reads them.
"""
from __future__ import annotations

from typing import Iterable

# --- roles ---------------------------------------------------------------------------------------
ROLE_NAMES = {
    "tjenesteyter": "Tjenesteyter",
    "koordinerende_enhet": "Koordinerende enhet",
    "koordinator": "Koordinator",
    "leder": "Leder",
    "kommuneledelse": "Kommuneledelse",
    "process_owner": "Prosesseier",
    "manager": "Virksomhetsleder (innsyn)",
}


def role_name(role: str | None) -> str:
    """«Koordinerende enhet» for `koordinerende_enhet`; an unknown role as itself, none as «–»."""
    if not role:
        return "–"
    return ROLE_NAMES.get(role, role)


def roles_text(roles: Iterable[str]) -> str:
    """Several roles, in the table's order: «Koordinator, Tjenesteyter»."""
    order = list(ROLE_NAMES)
    chosen = sorted(set(roles), key=lambda r: (order.index(r) if r in order else len(order), r))
    return ", ".join(role_name(r) for r in chosen) or "–"


# --- case statuses -------------------------------------------------------------------------------
# One word per status, on badges, filters, the command line and in messages:
#   Pågår – the routine runs (tasks, deadlines or messages it waits for);
#   Fullført – the routine reached its end;
#   Avbrutt – it was ended before its end (a withdrawn consent, a process owner);
#   Stoppet på feil – a step failed; it waits for a leader or process owner to start it again.
STATUS_NAMES = {"running": "Pågår", "completed": "Fullført", "terminated": "Avbrutt", "error": "Stoppet på feil"}
STATUS_SENTENCES = {
    "running": "Saken pågår.",
    "completed": "Saken er fullført.",
    "terminated": "Saken er avbrutt.",
    "error": "Saken har stoppet på en feil.",
}


def status_name(status: str | None) -> str:
    return STATUS_NAMES.get(status or "", status or "–")


def status_sentence(status: str | None) -> str:
    """«Saken er fullført.» – what the command line and flash messages say after a step."""
    return STATUS_SENTENCES.get(status or "", f"Saken har status «{status_name(status)}».")


# --- what happened in a case (the history) -------------------------------------------------------
ACTION_NAMES = {
    "started": "Startet",
    "task_opened": "Oppgave åpnet",
    "task_claimed": "Oppgave tatt",
    "task_released": "Oppgave lagt tilbake",
    "task_completed": "Oppgave fullført",
    "message_received": "Melding mottatt",
    "message_sent": "Melding sendt",
    "timer_fired": "Tidsfrist utløst",
    "completed": "Saken er fullført",
    "terminated": "Saken er avbrutt",
    "error": "Saken stoppet på en feil",
    "incident_resolved": "Startet igjen etter feil",
    "deployed": "Rullet ut",
    "migrated": "Flyttet til ny versjon",
    "notice_sent": "Utsending sendt",
    "notice_failed": "Utsending feilet",
    "notice_queued": "Utsending lagt i kø",
    "notice_requeued": "Utsending sendt på nytt",
    "notice_cancelled": "Utsending avbrutt",
    "koordinator_registrert": "Koordinator registrert på saken",
    "planverktoy_registrert": "Planverktøy registrert på saken",
    "samtykke_registrert": "Samtykke registrert på saken",
    "samtykke_trukket": "Samtykket trukket tilbake",
}


def action_name(action: str | None) -> str:
    return ACTION_NAMES.get(action or "", "Hendelse")


# --- what the product itself records in a case's history (not what a form collected) -------------
RECORD_FIELDS = {
    "dato": "Dato", "gitt_av": "Gitt av", "form": "Form", "omfatter": "Omfatter", "deles_med": "Kan deles med",
    "informert_om_folger": "Informert om følgene", "kommentar": "Kommentar", "trukket_dato": "Trukket tilbake",
    "grunn": "Grunn", "feil": "Feil", "mottaker": "Mottaker", "mottakere": "Antall mottakere", "type": "Utsending",
    "forsok": "Forsøk", "dager_foer_moetet": "Dager før møtet", "koordinator": "Koordinator",
    "forrige": "Forrige koordinator", "aktive_planer_for": "Aktive planer fra før",
    "godtatt_over_grense": "Godtatt over grensen på fem planer", "verktoy": "Planverktøy",
    "from_version": "Fra versjon", "to_version": "Til versjon",
}
RECORD_VALUES = {"verktoy": {"ip": "Individuell plan", "referat": "Referat"}}


# --- documents process owners deploy -------------------------------------------------------------
KIND_NAMES = {"bpmn": "Prosess (BPMN)", "dmn": "Beslutningstabell (DMN)", "form": "Skjema"}
