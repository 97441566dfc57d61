"""Names shared by the notice modules: kinds, statuses, the back-off schedule, the worker's actor."""
from __future__ import annotations

from ..access import ALL_ROLES, Actor

# The BPMN message names the ansvarsgruppe diagram throws (the contract with processes/).
INNKALLING = "innkalling"
INNKALLING_ENDRET = "innkalling_endret"
MOETE_AVLYST = "moete_avlyst"
REFERAT = "referat"
KINDS = (INNKALLING, INNKALLING_ENDRET, MOETE_AVLYST, REFERAT)
KIND_LABELS = {
    INNKALLING: "Innkalling",
    INNKALLING_ENDRET: "Endret innkalling",
    MOETE_AVLYST: "Avlysning",
    REFERAT: "Referat",
}

# The message delivered to the instance when a notice has finally failed.
FAILED_MESSAGE = "utsending_feilet"

# Statuses of a notice row. "Being attempted right now" is `queued` with a live lease.
QUEUED = "queued"  # waiting for its first attempt or a retry (next_attempt_at says when)
SENT = "sent"      # accepted by the SMTP server (or refused there as a duplicate of an accepted copy)
SINK = "sink"      # no SMTP server configured: written to the local sink (var/utsendinger/)
FAILED = "failed"  # given up: permanent refusal, or notice_max_attempts attempts failed
CANCELLED = "cancelled"  # never left: the consent it depended on was withdrawn (last_error says why)
STATUSES = (QUEUED, SENT, SINK, FAILED, CANCELLED)
STATUS_LABELS = {
    QUEUED: "I kø",
    SENT: "Sendt",
    SINK: "Lagt i lokal utsendingsmappe (ingen e-postserver)",
    FAILED: "Feilet",
    CANCELLED: "Avbrutt",
}

# iCalendar methods (RFC 5546).
REQUEST = "REQUEST"
CANCEL = "CANCEL"

# How many notices a worker leases at a time. The lease covers the whole batch, so it is
# notice_lease_seconds plus two SMTP timeouts per notice (see delivery.queue).
BATCH_SIZE = 10

# The worker delivers as this system actor (audit log, and the message to the instance).
WORKER = Actor("utsender", frozenset(ALL_ROLES), system=True)

