"""Everything that touches SpiffWorkflow lives in this package.

Importing it installs the orchestrator clock into SpiffWorkflow's timer module.
"""
from . import timers as _timers  # noqa: F401  (installs the clock)
