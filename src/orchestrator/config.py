"""Settings from the environment, with defaults that make `make run` work on a fresh clone."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "ja", "on"}


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
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings


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
