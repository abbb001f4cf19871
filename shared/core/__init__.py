"""Pure logic: models, decisions, checks and baselines. Standard library only; no I/O, no clock."""
