"""Use cases: read through ports, decide with the core, write through ports."""
