"""ADF Autopilot: the shared code behind the Functions app, the CLI and the sandbox."""
