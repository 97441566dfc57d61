"""Small builders for form-js JSON, used by tools/draft_routines.py to draft forms/*.form.

The .form files in forms/ are the source once written; edit them in the form-js editor or by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

JA_NEI = [("ja", "Ja"), ("nei", "Nei")]


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_{key}".replace(".", "_")


def info(text: str) -> dict:
    return {"type": "text", "text": text}


def tekst(key, label, required=True, description=None, hide=None, properties=None, **validate) -> dict:
    return _input("textfield", key, label, required, description, hide, properties, validate)


def lang(key, label, required=True, description=None, hide=None, **validate) -> dict:
    return _input("textarea", key, label, required, description, hide, None, validate)


def epost(key, label, required=True) -> dict:
    return _input("textfield", key, label, required, None, None, None, {"validationType": "email"})


def janei(key, label, required=True, description=None, hide=None) -> dict:
    return valg(key, label, JA_NEI, required, description, hide)


def valg(key, label, values, required=True, description=None, hide=None) -> dict:
    field = _input("radio", key, label, required, description, hide, None, {})
    field["values"] = [{"value": v, "label": t} for v, t in values]
    return field


def flervalg(key, label, values, required=True, description=None, hide=None) -> dict:
    field = _input("checklist", key, label, required, description, hide, None, {})
    field["values"] = [{"value": v, "label": t} for v, t in values]
    return field


def bekreft(key, label, required=True, description=None, hide=None) -> dict:
    return _input("checkbox", key, label, required, description, hide, None, {})


def dato(key, label, required=True, description=None, hide=None) -> dict:
    field = _input("datetime", key, label, required, description, hide, None, {})
    field.update({"subtype": "date", "dateLabel": label})
    return field


def tidspunkt(key, label, required=True, description=None, hide=None, properties=None) -> dict:
    field = _input("datetime", key, label, required, description, hide, properties, {})
    field.update({"subtype": "datetime", "dateLabel": label, "timeLabel": "Klokkeslett",
                  "timeSerializingFormat": "utc_offset", "use24h": True})
    return field


def tall(key, label, required=True, minimum=None, maximum=None, default=None, description=None) -> dict:
    validate = {k: v for k, v in (("min", minimum), ("max", maximum)) if v is not None}
    field = _input("number", key, label, required, description, None, None, validate)
    field["decimalDigits"] = 0
    if default is not None:
        field["defaultValue"] = default
    return field


def liste(path, label, components, required=True, description=None, hide=None) -> dict:
    field = {"type": "dynamiclist", "id": _id("List", path), "path": path, "label": label,
             "isRepeating": True, "allowAddRemove": True, "defaultRepetitions": 1, "components": components,
             "validate": {"required": required}}
    if description:
        field["description"] = description
    if hide:
        field["conditional"] = {"hide": hide}
    return field


def gruppe(path, label, components) -> dict:
    return {"type": "group", "id": _id("Group", path), "path": path, "label": label, "components": components}


def deltaker_felter() -> list[dict]:
    """Title, name and correct address: what an innkalling must list for each participant (Lund 11.4)."""
    return [tekst("tittel", "Tittel / tjeneste"), tekst("navn", "Navn"), epost("adresse", "E-postadresse")]


def brukernavn(key, label, description=None, hide=None, rule="maks_fem_planer", required=True) -> dict:
    return tekst(key, label, required, description, hide, properties={"regel": rule})


def _input(kind, key, label, required, description, hide, properties, validate) -> dict:
    field = {"type": kind, "id": _id("Field", key), "key": key, "label": label,
             "validate": {"required": required, **validate}}
    if description:
        field["description"] = description
    if hide:
        field["conditional"] = {"hide": hide}
    if properties:
        field["properties"] = properties
    return field


def write_form(folder: Path, key: str, title: str, components: list[dict]) -> None:
    document = {
        "type": "default", "id": key, "title": title, "schemaVersion": 16,
        "exporter": {"name": "orchestrator draft_routines", "version": "1"},
        "components": components,
    }
    (folder / f"{key}.form").write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
