"""Care-coordination routines of Norwegian municipalities as executable BPMN."""

__version__ = "0.1.0"
