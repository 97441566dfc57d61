"""The tables. Each concept one model; columns a query filters on are indexed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    text,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import UTCDateTime


class Base(DeclarativeBase):
    pass


class ProcessDefinition(Base):
    """One deployed version of a BPMN process or a DMN decision file."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_definition_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # bpmn | dmn
    name: Mapped[str | None] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))
    called_processes: Mapped[list] = mapped_column(JSON, default=list)
    decisions_used: Mapped[list] = mapped_column(JSON, default=list)
    decisions_provided: Mapped[list] = mapped_column(JSON, default=list)
    message_starts: Mapped[list] = mapped_column(JSON, default=list)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    # where the content came from: file (orchestrator deploy / make run) | upload | browser | api;
    # None: deployed by a release before 0008 and not backfillable. A file deploy does not replace
    # a newer version that came from anywhere else (services/deployment.py, docs/process-owners.md).
    origin: Mapped[str | None] = mapped_column(String(20))


class Draft(Base):
    """A process owner's saved, not deployed, edit of a diagram, table or form: one per key.

    Not a version: nothing starts from it and staff never see it. Deploying it (or any new
    version from the browser) removes it.
    """

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # bpmn | dmn | form
    content: Mapped[bytes] = mapped_column(LargeBinary)
    base_version: Mapped[int | None] = mapped_column(Integer)  # the version it was opened from
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by: Mapped[str | None] = mapped_column(String(100))


class Instance(Base):
    """A running or finished process instance: engine state plus the columns we query."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_key_status", "process_key", "status"),
        Index("ix_instances_business_key", "business_key", "status"),
        Index("ix_instances_next_timer", "next_timer_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    process_version: Mapped[int] = mapped_column(Integer)
    pins: Mapped[dict] = mapped_column(JSON)  # {definition key: version} the instance runs on
    business_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # running | completed | terminated | error (an incident)
    error: Mapped[str | None] = mapped_column(Text)  # why the last timer step failed, or the incident
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[str | None] = mapped_column(String(100))
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timer_lease_owner: Mapped[str | None] = mapped_column(String(100))
    timer_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # claims of its due timers without a successful step since (services/jobs.py); reset when a step saves
    timer_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    state: Mapped[str] = mapped_column(Text)
    # what was walked, kept across compaction: {"elements": [...], "flows": [[source, target], ...]}
    trail: Mapped[dict | None] = mapped_column(JSON)
    # what the indexed tables hold for this instance: {"tasks": [...], "timers": [...], "waits": [...]}
    indexed: Mapped[dict | None] = mapped_column(JSON)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": lock_version}

    tasks: Mapped[list[OpenTask]] = relationship(back_populates="instance", cascade="all, delete-orphan")
    timers: Mapped[list[WaitingTimer]] = relationship(back_populates="instance", cascade="all, delete-orphan")
    message_waits: Mapped[list[MessageWait]] = relationship(
        back_populates="instance", cascade="all, delete-orphan"
    )


class OpenTask(Base):
    """A human task that is ready: who may do it, who has it, and by when."""

    __tablename__ = "tasks"
    __table_args__ = (
        # the lists: one ordered index range per queue (a role's unassigned tasks, a service's, a person's own);
        # partial, so "role = ?" alone fixes the order (PostgreSQL does not order by IS NULL columns)
        Index("ix_tasks_queue", "role", "due_sort", "created_at", "id",
              postgresql_where=text("assignee IS NULL AND service IS NULL"),
              sqlite_where=text("assignee IS NULL AND service IS NULL")),
        Index("ix_tasks_service_queue", "service", "role", "due_sort", "created_at", "id",
              postgresql_where=text("assignee IS NULL AND service IS NOT NULL"),
              sqlite_where=text("assignee IS NULL AND service IS NOT NULL")),
        Index("ix_tasks_mine", "assignee", "due_sort", "created_at", "id"),
        Index("ix_tasks_all", "due_sort", "created_at", "id"),
        Index("ix_tasks_element", "process_key", "element_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the engine's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(50))
    # the service (tjeneste) whose queue it is in: only the role's holders in that service see and do it
    # (services/tilgang.py); None: the role's common queue
    service: Mapped[str | None] = mapped_column(String(50))
    assignee: Mapped[str | None] = mapped_column(String(100))
    form_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # due_at, or far in the future: no due date last (the default: what a previous release inserts)
    due_sort: Mapped[datetime] = mapped_column(UTCDateTime, server_default=text("'9999-12-31 00:00:00'"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the called process (call activity) the task is in, e.g. opprettelse_av_koordinator; None: the instance's own
    called_process: Mapped[str | None] = mapped_column(String(200))

    instance: Mapped[Instance] = relationship(back_populates="tasks")


class WaitingTimer(Base):
    """A timer an instance waits for; `instances.next_timer_at` is the earliest of these."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    instance: Mapped[Instance] = relationship(back_populates="timers")


class MessageWait(Base):
    """A message catch an instance waits at, for correlation by business key."""

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_name_bk", "name", "business_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100))
    element_id: Mapped[str | None] = mapped_column(String(200))

    instance: Mapped[Instance] = relationship(back_populates="message_waits")


class AuditEntry(Base):
    """Who did what, when, to which task, with what data.

    Never updated, but for one thing: once the retention period for audit data has passed, `data` is
    erased (who, what and when stay) and `erased_at` says when (services/retention.py, decision 0024).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_instance_at", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict | None] = mapped_column(JSON)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_oidc_identity", "oidc_issuer", "oidc_subject", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # bumped by every change of roles, services or `active`: a cached Actor is keyed by it, so a
    # change is seen on the next request in every process (services/users.py)
    access_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # who the user is at the OpenID Connect provider (None: a local user)
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(300))

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    services: Mapped[list[UserService]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def service_keys(self) -> set[str]:
        return {s.service for s in self.services}


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(50), index=True)


class UserService(Base):
    """A user's membership of one of the installation's services (tjenester: skole, PPT, NAV …)."""

    __tablename__ = "user_services"
    __table_args__ = (UniqueConstraint("user_id", "service", name="uq_user_service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(50), index=True)


class ApiToken(Base):
    """A bearer token for an API client; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None only for rows a previous release wrote during an upgrade: read as created_at + the default
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A signed-in browser: the cookie carries a random id, the database its SHA-256.

    Logging out, deactivating the user or the timeouts end it for every web process at once.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # password | oidc
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the absolute timeout
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Failed sign-ins and known (user, address) pairs for the login throttle (services/login_throttle.py).

    `key` is an HMAC of what it counts (never the user name or address in clear); rows are
    deleted once `expires_at` has passed.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key", "key", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # failure | known
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Notice(Base):
    """One e-mail notice to one recipient: the transactional outbox (services/notices/).

    Written in the same transaction as the workflow step that threw it; the worker delivers it
    (SMTP, or the local sink) and records the outcome. `next_attempt_at` is set only while the
    notice is queued, so the due-index holds only work. See docs/notices.md.
    """

    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_next_attempt", "next_attempt_at"),
        Index("ix_notices_meeting", "meeting_uid", "sequence"),
        Index("ix_notices_business_key", "business_key", "id"),
        Index("ix_notices_status", "status", "id"),
        UniqueConstraint("message_id", name="uq_notices_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    business_key: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))  # innkalling | innkalling_endret | moete_avlyst | referat
    meeting_id: Mapped[str] = mapped_column(String(200))  # moete_id from the diagram
    meeting_uid: Mapped[str] = mapped_column(String(300))  # iCalendar UID, stable per meeting
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meeting_place: Mapped[str | None] = mapped_column(String(300))
    sequence: Mapped[int | None] = mapped_column(Integer)  # iCalendar SEQUENCE (None: no invite)
    method: Mapped[str | None] = mapped_column(String(10))  # REQUEST | CANCEL | None (no invite)
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(300))
    recipient_service: Mapped[str | None] = mapped_column(String(50))  # the service they represent (consent)
    subject: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)  # the RFC 5322 message exactly as it is sent
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # queued | sent | sink | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when retention erased the body, addresses and place (status, kind, service and times are kept)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Case(Base):
    """Case-level facts shared by a person's processes (the saksregister), keyed by business key.

    Written only by the diagrams' explicit «registreres på saken» message throws
    (services/cases.py); counts (plans per coordinator) join the live instance status.
    """

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_koordinator", "koordinator", "planverktoy"),)

    business_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    gjelder: Mapped[str | None] = mapped_column(String(100))
    koordinator: Mapped[str | None] = mapped_column(String(100))
    koordinator_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    koordinator_accepted_over_limit: Mapped[bool] = mapped_column(Boolean, default=False)
    planverktoy: Mapped[str | None] = mapped_column(String(20))  # ip | referat
    plan_instance_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    """The person's consent for the whole case (samtykke), keyed by business key (decision 0016).

    One row per case: what the consent covers now (`omfatter`: koordinator, individuell_plan,
    ansvarsgruppe, tverrfaglige_samarbeidsmoeter) and with which services information may be
    shared (`deles_med`: keys of the service catalogue). Written only by services/samtykke.py:
    through the diagrams' «Samtykke registreres på saken» throws, or the register's own use cases
    (change, extension, withdrawal). Every change is also a row of `consent_events`.
    """

    __tablename__ = "consents"

    business_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # gitt | trukket
    gitt_dato: Mapped[str | None] = mapped_column(String(10))  # ISO date the person gave it
    gitt_av: Mapped[str | None] = mapped_column(String(20))  # bruker | foresatte | verge
    form: Mapped[str | None] = mapped_column(String(20))  # muntlig | skriftlig
    omfatter: Mapped[list] = mapped_column(JSON, default=list)
    deles_med: Mapped[list] = mapped_column(JSON, default=list)
    registrert_av: Mapped[str] = mapped_column(String(100))
    registrert_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trukket_dato: Mapped[str | None] = mapped_column(String(10))
    informert_om_folger: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentEvent(Base):
    """Append-only history of a case's consent: given, extended, changed, withdrawn (who, when, what)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_case", "business_key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # gitt | utvidet | endret | trukket
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the step that recorded it, if a diagram did
    data: Mapped[dict | None] = mapped_column(JSON)


class LegalHold(Base):
    """A case (business key) the retention job must not touch (slettesperre): why, who, when (decision 0024).

    Placed and lifted by managers and koordinerende enhet; lifting deletes the row (the audit log keeps both).
    """

    __tablename__ = "legal_holds"

    business_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduledJob(Base):
    """A periodic kind of background work (the daily retention run) as one item of the job queue.

    `next_run_at` is when it is next due; the lease columns are services/jobs.py's.
    """

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AccessLogEntry(Base):
    """One read of a case's personal data (tilgangslogg, decision 0023): who, when, which case, what view, from where.

    Append-only: the application has no update or delete of it, and the database refuses both
    (triggers made by migration 0013), except the deletion of rows older than a cutoff the retention
    function has written into `access_log_purge` in the same transaction (services/tilgangslogg.py).
    """

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_case", "business_key", "id"),
        Index("ix_access_log_user", "username", "id"),
        Index("ix_access_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(100))  # the user (an API token's user), or the system's part
    system: Mapped[bool] = mapped_column(Boolean, default=False)  # read by the worker or another system part
    business_key: Mapped[str | None] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    view: Mapped[str] = mapped_column(String(30))  # sak | oppgave | samtykke | utsending | innsyn …
    channel: Mapped[str] = mapped_column(String(20))  # side | api | kommandolinje | system
    address: Mapped[str | None] = mapped_column(String(64))  # the client's IP address
    agent: Mapped[str | None] = mapped_column(String(120))  # its user agent, cut short


class AccessLogPurge(Base):
    """The retention function's permit: while a row is here, access_log rows older than `cutoff` may be deleted.

    Written and removed again inside one transaction by `tilgangslogg.delete_expired`, so it is never
    seen empty-handed by anyone else; the database triggers on access_log read it.
    """

    __tablename__ = "access_log_purge"

    id: Mapped[int] = mapped_column(primary_key=True)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
