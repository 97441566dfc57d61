"""E-mail notices of the ansvarsgruppe routine: innkalling with calendar invite, changes,
cancellations and referat, delivered exactly as docs/notices.md promises.

- `handlers`: the outbound message handlers; queue one outbox row per recipient in the step's
  transaction (registered in `services.messages.OUTBOUND`).
- `payload`, `content`, `calendar`, `mime`: check the diagram's data; write the Norwegian text and
  HTML, the iCalendar invite and the MIME message.
- `delivery`, `transport`: the worker pass (registered in `services.worker`): claim with a lease,
  send by SMTP or to the local sink, retry with back-off, escalate a final failure.
- `queries`: the Utsendinger page and the dashboard's failed notices.
- `faults`: fault-injection points for tests (no-ops in production).

Importing this package registers everything; `services/messages.py` imports it at its end.
"""
from __future__ import annotations

from .. import messages as _messages
from . import delivery, faults, handlers, queries
from .constants import FAILED_MESSAGE, KINDS

for _kind, _handler in handlers.HANDLED.items():
    _messages.OUTBOUND[_kind] = _handler


from .. import worker as _worker  # noqa: E402  (worker defines its lists before importing us)

if not any(source.name == "notices" for source in _worker.SOURCES):
    _worker.SOURCES.append(_worker.Source("notices", delivery.next_due, delivery.deliver_pass))

__all__ = ["FAILED_MESSAGE", "KINDS", "delivery", "faults", "handlers", "queries"]
