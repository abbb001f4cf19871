"""The operator CLI, ``autopilot``."""
