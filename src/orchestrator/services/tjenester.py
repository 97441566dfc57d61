"""The installation's catalogue of services (tjenester) a user can belong to: skole, PPT, NAV …

Each municipality organises its welfare services its own way, so the list is configuration: a
JSON object {key: Norwegian display name} in `ORCHESTRATOR_SERVICES_FILE`, or in
`<ORCHESTRATOR_HOME>/tjenester.json`; without either, DEFAULT below (the services the 14 welfare
laws of the samarbeid duty cover, seed 003 section 3.3). Keys are what is stored on users and
what OIDC group mappings name; display names are what people read. docs/identity.md.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .errors import Invalid

DEFAULT: dict[str, str] = {
    "barnehage": "Barnehage",
    "skole": "Skole",
    "ppt": "PPT (pedagogisk-psykologisk tjeneste)",
    "helsestasjon": "Helsestasjon og skolehelsetjeneste",
    "fastlege": "Fastlege",
    "helse_omsorg": "Helse- og omsorgstjenester",
    "psykisk_helse_rus": "Psykisk helse og rus",
    "habilitering": "Habilitering og rehabilitering",
    "barnevern": "Barnevern",
    "nav": "NAV",
    "tannhelse": "Tannhelsetjenesten",
    "familievern": "Familievernet",
    "krisesenter": "Krisesenter",
    "flyktningtjeneste": "Flyktningtjenesten (integrering)",
    "spesialisthelsetjeneste": "Spesialisthelsetjenesten (BUP, sykehus)",
}
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
FILE_NAME = "tjenester.json"


@dataclass(frozen=True)
class Catalogue:
    names: dict[str, str]  # key -> display name, in the configured order
    source: str  # where it came from (shown by `orchestrator services list`)

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def check(self, keys) -> list[str]:
        """The keys, sorted, or Invalid naming the ones this installation does not have."""
        keys = sorted(set(keys))
        unknown = [k for k in keys if k not in self.names]
        if unknown:
            raise Invalid("Ukjente tjenester", {"services": [
                f"Ukjent: {', '.join(unknown)}. Bruk en eller flere av {', '.join(self.names)}."]})
        return keys


_loaded: dict[tuple, Catalogue] = {}


def catalogue(settings: Settings) -> Catalogue:
    """The catalogue this installation uses (read once per file version)."""
    path = settings.services_file or settings.home / FILE_NAME
    if not path.exists():
        if settings.services_file is not None:
            raise Invalid(f"Finner ikke tjenestelisten {path}")
        return Catalogue(dict(DEFAULT), "standardlisten")
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _loaded:
        _loaded[key] = Catalogue(_read(path), str(path))
    return _loaded[key]


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Invalid(f"Tjenestelisten {path} kan ikke leses: {error}") from None
    if not isinstance(data, dict) or not data:
        raise Invalid(f"Tjenestelisten {path} må være et JSON-objekt {{nøkkel: navn}} med minst én tjeneste")
    bad = [k for k, v in data.items() if not KEY.match(str(k)) or not isinstance(v, str) or not v.strip()]
    if bad:
        raise Invalid(f"Tjenestelisten {path}: ugyldige oppføringer {', '.join(map(str, bad))} "
                      "(nøkkel: små bokstaver, tall, _ og -; navn: tekst)")
    return {str(k): v.strip() for k, v in data.items()}
