"""``autopilot send-test-alert``: prove the channels work, end to end, before a real alert needs them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from shared.errors import ConfigError, ExternalError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot send-test-alert",
                                     description="Send one test alert through the configured channels.")
    parser.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    parser.add_argument("--dataset", default="", help="route as this dataset (its email recipients)")
    parser.add_argument("--channel", choices=("teams", "email"), help="only this channel")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 3 if exc.code else 0
    from cli.main import deps_for
    from shared.core import render
    from shared.core.models import Alert, Severity

    try:
        deps = deps_for(args.settings)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 3
    channels = {c: n for c, n in deps.notifiers.items() if args.channel in (None, c)}
    if not channels:
        print("autopilot send-test-alert: no channel is configured: set TEAMS_WEBHOOK_URL, or "
              "ACS_EMAIL_ENDPOINT + ACS_EMAIL_SENDER, or SMTP_HOST + SMTP_SENDER", file=sys.stderr)
        return 3
    dataset = args.dataset or (deps.config.datasets[0].name if deps.config.datasets else "autopilot")
    recipients: tuple[str, ...] = deps.dispatch.default_email
    try:
        recipients = deps.config.dataset(dataset).alerts.email or recipients
    except KeyError:
        pass
    alert = Alert(dataset, "test_alert", Severity.INFO,
                  "This is a test alert from ADF Autopilot: if you can read it, this channel works.",
                  datetime.now(UTC), facts={"sent by": "autopilot send-test-alert"})
    failed = 0
    for channel, notifier in channels.items():
        if channel == "email" and not recipients:
            print(f"{channel}: skipped (no recipients: set ALERT_EMAIL_TO or the dataset's alerts.email)",
                  file=sys.stderr)
            failed += 1
            continue
        message = render.teams_message([alert]) if channel == "teams" else render.email([alert], recipients)
        try:
            notifier.send(message)
            print(f"{channel}: accepted" + (f" (to {', '.join(recipients)})" if channel == "email" else ""),
                  file=sys.stderr)
        except ExternalError as exc:
            failed += 1
            print(f"{channel}: FAILED: {exc}", file=sys.stderr)
    return 2 if failed else 0
