"""Settings from the environment, with defaults that make `make run` work on a fresh clone."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "ja", "on"}


def _days(name: str, default: int | None) -> int | None:
    """A retention period in days; «aldri» (or never) keeps that kind of data for ever."""
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"aldri", "never"}:
        return None
    days = int(value)
    if days < 1:
        raise ValueError(f"{name} må være et antall dager (minst 1) eller «aldri»")
    return days


@dataclass
class SandboxLimits:
    """What one run of a diagram's code may use (docs/expressions.md, decisions/0012)."""

    processes: int = 2  # sandbox processes per server or worker process
    cpu_seconds: int = 2  # CPU time of one script or expression
    wall_seconds: float = 10.0  # wall time of one run, waiting for the machine included
    memory_mb: int = 512  # address space of a sandbox process
    max_data_bytes: int = 1_000_000  # what one script may write, or one expression return
    max_state_bytes: int = 8_000_000  # an instance's stored state after a step

    @classmethod
    def from_env(cls) -> "SandboxLimits":
        def number(name: str, default, kind):
            value = os.environ.get(f"ORCHESTRATOR_SANDBOX_{name}")
            return kind(value) if value else default

        return cls(
            processes=max(1, number("PROCESSES", cls.processes, int)),
            cpu_seconds=max(1, number("CPU_SECONDS", cls.cpu_seconds, int)),
            wall_seconds=number("WALL_SECONDS", cls.wall_seconds, float),
            memory_mb=number("MEMORY_MB", cls.memory_mb, int),
            max_data_bytes=number("MAX_DATA_BYTES", cls.max_data_bytes, int),
            max_state_bytes=number("MAX_STATE_BYTES", cls.max_state_bytes, int),
        )


# The municipality's case numbers (ePhorte, Elements, Public 360): year, slash, serial number, e.g. 2027/1234.
SAKSNUMMER_PATTERN = r"^\d{4}/\d{1,6}$"
SAKSNUMMER_HINT = "årstall, skråstrek og løpenummer, for eksempel 2027/1234"


@dataclass
class Settings:
    home: Path
    database_url: str
    secret_key: str
    secure_cookies: bool = True
    timer_lease_seconds: int = 60
    timer_batch_size: int = 50
    timer_max_attempts: int = 3  # a failing timer step is tried this often, then the case is an incident
    notice_lease_seconds: int = 60  # plus two SMTP timeouts per notice in the batch
    worker_max_sleep_seconds: float = 30.0
    instance_cache_size: int = 500
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | tls
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 20.0
    smtp_ca_file: str | None = None
    mail_from: str = "Koordinerende enhet <ke@kommune.invalid>"
    notice_max_attempts: int = 6
    public_url: str = "http://127.0.0.1:5000"
    # sign-in (docs/identity.md)
    session_idle_minutes: int = 30
    session_hours: int = 8
    token_days: int = 90
    local_login: bool = True
    services_file: Path | None = None  # the catalogue of services (tjenester); None: <home>/tjenester.json
    # a case is started with a saksnummer of this form (a Python regular expression), told to people as `hint`
    saksnummer_pattern: str = SAKSNUMMER_PATTERN
    saksnummer_hint: str = SAKSNUMMER_HINT
    oidc: "OidcSettings | None" = None
    # retention (docs/privacy.md, decision 0024): days each kind of data is kept; None keeps it for ever
    retention_case_days: int | None = 3 * 365  # ended cases, from the end of their last process
    retention_notice_days: int | None = 183  # bodies and addresses of sent and cancelled e-mails
    retention_audit_days: int | None = 3 * 365  # what was entered, in the audit trail (who/what/when stay)
    retention_access_log_days: int | None = 5 * 365  # the read-access log
    retention_daily: bool = True  # the worker runs the retention job every night
    extra: dict = field(default_factory=dict)

    @property
    def var_dir(self) -> Path:
        return self.home / "var"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        home = Path(os.environ.get("ORCHESTRATOR_HOME", os.getcwd())).resolve()
        database_url = os.environ.get("ORCHESTRATOR_DATABASE_URL") or f"sqlite:///{home / 'var' / 'orchestrator.db'}"
        settings = cls(
            home=home,
            database_url=database_url,
            secret_key=os.environ.get("ORCHESTRATOR_SECRET_KEY") or _local_secret(home),
            secure_cookies=_bool("ORCHESTRATOR_SECURE_COOKIES", True),
            timer_lease_seconds=int(os.environ.get("ORCHESTRATOR_TIMER_LEASE_SECONDS", 60)),
            timer_max_attempts=int(os.environ.get("ORCHESTRATOR_TIMER_MAX_ATTEMPTS", 3)),
            notice_lease_seconds=int(os.environ.get("ORCHESTRATOR_NOTICE_LEASE_SECONDS", 60)),
            instance_cache_size=int(os.environ.get("ORCHESTRATOR_INSTANCE_CACHE", 500)),
            smtp_host=os.environ.get("ORCHESTRATOR_SMTP_HOST") or None,
            smtp_port=int(os.environ.get("ORCHESTRATOR_SMTP_PORT", 25)),
            smtp_security=os.environ.get("ORCHESTRATOR_SMTP_SECURITY", "none"),
            smtp_username=os.environ.get("ORCHESTRATOR_SMTP_USERNAME") or None,
            smtp_password=os.environ.get("ORCHESTRATOR_SMTP_PASSWORD") or None,
            mail_from=os.environ.get("ORCHESTRATOR_MAIL_FROM", cls.mail_from),
            smtp_timeout_seconds=float(os.environ.get("ORCHESTRATOR_SMTP_TIMEOUT_SECONDS", 20)),
            smtp_ca_file=os.environ.get("ORCHESTRATOR_SMTP_CA_FILE") or None,
            notice_max_attempts=int(os.environ.get("ORCHESTRATOR_NOTICE_MAX_ATTEMPTS", 6)),
            public_url=os.environ.get("ORCHESTRATOR_PUBLIC_URL", cls.public_url),
            session_idle_minutes=int(os.environ.get("ORCHESTRATOR_SESSION_IDLE_MINUTES", 30)),
            session_hours=int(os.environ.get("ORCHESTRATOR_SESSION_HOURS", 8)),
            token_days=int(os.environ.get("ORCHESTRATOR_TOKEN_DAYS", 90)),
            local_login=_bool("ORCHESTRATOR_LOCAL_LOGIN", True),
            services_file=Path(os.environ["ORCHESTRATOR_SERVICES_FILE"]) if os.environ.get("ORCHESTRATOR_SERVICES_FILE") else None,
            saksnummer_pattern=os.environ.get("ORCHESTRATOR_SAKSNUMMER_PATTERN") or SAKSNUMMER_PATTERN,
            saksnummer_hint=os.environ.get("ORCHESTRATOR_SAKSNUMMER_HINT") or (
                SAKSNUMMER_HINT if not os.environ.get("ORCHESTRATOR_SAKSNUMMER_PATTERN") else
                f"kommunens format ({os.environ['ORCHESTRATOR_SAKSNUMMER_PATTERN']})"),
            oidc=OidcSettings.from_env(),
            retention_case_days=_days("ORCHESTRATOR_RETENTION_CASE_DAYS", cls.retention_case_days),
            retention_notice_days=_days("ORCHESTRATOR_RETENTION_NOTICE_DAYS", cls.retention_notice_days),
            retention_audit_days=_days("ORCHESTRATOR_RETENTION_AUDIT_DAYS", cls.retention_audit_days),
            retention_access_log_days=_days("ORCHESTRATOR_RETENTION_ACCESS_LOG_DAYS", cls.retention_access_log_days),
            retention_daily=_bool("ORCHESTRATOR_RETENTION_DAILY", True),
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings


@dataclass
class OidcSettings:
    """Sign-in through the municipality's OpenID Connect provider (docs/identity.md)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = "openid profile email"
    provider_name: str = "kommunens innlogging"
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    mapping: dict = field(default_factory=dict)  # {"groups": {value: {"roles": [...], "services": [...]}}}

    @classmethod
    def from_env(cls) -> "OidcSettings | None":
        issuer = (os.environ.get("ORCHESTRATOR_OIDC_ISSUER") or "").strip()
        if not issuer:
            return None
        mapping_text = os.environ.get("ORCHESTRATOR_OIDC_MAPPING")
        mapping_file = os.environ.get("ORCHESTRATOR_OIDC_MAPPING_FILE")
        if not mapping_text and mapping_file:
            mapping_text = Path(mapping_file).read_text(encoding="utf-8")
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=os.environ.get("ORCHESTRATOR_OIDC_CLIENT_ID", ""),
            client_secret=os.environ.get("ORCHESTRATOR_OIDC_CLIENT_SECRET") or None,
            scopes=os.environ.get("ORCHESTRATOR_OIDC_SCOPES", cls.scopes),
            provider_name=os.environ.get("ORCHESTRATOR_OIDC_PROVIDER_NAME", cls.provider_name),
            username_claim=os.environ.get("ORCHESTRATOR_OIDC_USERNAME_CLAIM", cls.username_claim),
            groups_claim=os.environ.get("ORCHESTRATOR_OIDC_GROUPS_CLAIM", cls.groups_claim),
            mapping=json.loads(mapping_text) if mapping_text else {},
        )


def _local_secret(home: Path) -> str:
    """A per-installation secret kept in var/ (git-ignored), made on first start."""
    path = home / "var" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
