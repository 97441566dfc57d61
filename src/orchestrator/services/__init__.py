"""Use cases: deploy, start, complete a task, fire timers, deliver messages, send notices.

Each module is one concept; all of them take an `Orchestrator` (services/context.py) and an
`Actor` (services/access.py), open one unit of work and call down into engine/ and store/.
"""
