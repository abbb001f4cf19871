"""The operator CLI (``autopilot``): entry points that share the code the functions run."""
