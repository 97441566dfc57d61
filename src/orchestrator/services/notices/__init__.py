"""E-mail notices of the ansvarsgruppe routine: innkalling with calendar invite, changes,
cancellations and referat, delivered exactly as docs/notices.md promises.

- `handlers`: the outbound message handlers; queue one outbox row per recipient in the step's
  transaction.
- `payload`, `content`, `calendar`, `mime`: check the diagram's data; write the Norwegian text and
  HTML, the iCalendar invite and the MIME message.
- `delivery`: notices as a kind of background work (services/jobs.py): send by SMTP or to the local
  sink (`transport`), retry with back-off, escalate a final failure.
- `queries`: the Utsendinger page.
- `faults`: fault-injection points for tests (no-ops in production).

Nothing here registers itself: services/bootstrap.py wires the handlers and the delivery queue.
"""
