"""Checks on what callers hand us before it reaches an instance."""
from __future__ import annotations

import json
import re
from functools import lru_cache

from .errors import Invalid

MAX_DATA_BYTES = 64 * 1024
_BUSINESS_KEY = re.compile(r"^[A-Za-z0-9ÆØÅæøå][A-Za-z0-9ÆØÅæøå._/-]{0,99}$")
_NATIONAL_ID = re.compile(r"\d{11}")


def business_key(value: str | None) -> str | None:
    """A case reference (saksnummer), never a fødselsnummer."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _BUSINESS_KEY.match(value):
        raise Invalid("Ugyldig saksnummer", {"business_key": [
            "Bruk 1–100 tegn: bokstaver, tall og . _ / -"]})
    if _NATIONAL_ID.search(value.replace(".", "").replace(" ", "")):
        raise Invalid("Saksnummeret ser ut som et fødselsnummer", {"business_key": [
            "Bruk sakens referanse, ikke personens fødselsnummer (personvern)."]})
    return value


def new_case_key(settings, value: str | None) -> str:
    """The saksnummer a new case starts with: required, and in the installation's format
    (`ORCHESTRATOR_SAKSNUMMER_PATTERN`, by default the municipality's «2027/1234»)."""
    value = value.strip() if isinstance(value, str) else value
    if not value:
        raise Invalid("Saken må ha et saksnummer", {"business_key": [
            f"Skriv sakens saksnummer fra fagsystemet ({settings.saksnummer_hint})."]})
    if isinstance(value, str) and _NATIONAL_ID.search(value.replace(".", "").replace(" ", "")):
        business_key(value)  # says it looks like a fødselsnummer
    if not isinstance(value, str) or not _pattern(settings.saksnummer_pattern).fullmatch(value):
        raise Invalid("Ugyldig saksnummer", {"business_key": [
            f"«{str(value)[:40]}» har ikke kommunens format for saksnummer: {settings.saksnummer_hint}."]})
    return business_key(value)


@lru_cache(maxsize=8)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text)


def data(value, field: str = "data") -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("Data må være et JSON-objekt", {field: ["Må være et objekt med felt og verdier."]})
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError):
        raise Invalid("Data kan ikke lagres som JSON", {field: ["Bare tekst, tall, lister og objekter."]}) from None
    if len(encoded.encode()) > MAX_DATA_BYTES:
        raise Invalid("Data er for store", {field: [f"Høyst {MAX_DATA_BYTES // 1024} KiB."]})
    return value
