"""``autopilot label ALERT --false-alarm|--expected`` and ``autopilot snooze DATASET [CODE] --for 2h``:
teach the detectors from the command line, as the feedback actions of an alert do."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from cli.main import EXIT_CANNOT_RUN, deps_for, duration_option, parse_args
from shared.errors import ExternalError


def label(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot label", description="Label an alert: a false alarm keeps "
                                     "its file in the baselines; expected learns its level as the new normal.")
    parser.add_argument("alert", help="the alert's fingerprint (autopilot status --json shows it)")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--false-alarm", action="store_true", help="the alert was wrong")
    kind.add_argument("--expected", action="store_true", help="a real change: the new normal")
    parser.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    args = parse_args(parser, argv)
    from shared.core.feedback import Action
    from shared.services import feedback

    try:
        deps = deps_for(args.settings)
        action = Action.EXPECTED if args.expected else Action.FALSE_ALARM
        claims = feedback.label_alert(deps, args.alert, action, datetime.now(UTC))
    except KeyError:
        print(f"autopilot label: no alert with fingerprint {args.alert!r} was ever dispatched", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except ExternalError as exc:
        print(f"autopilot label: state cannot be reached: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    about = f" ({claims.subject})" if claims.subject else ""
    print(f"{claims.dataset}: {claims.code}{about} labelled {action.value}", file=sys.stderr)
    return 0


def snooze(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot snooze", description="Silence an alert kind of a dataset "
                                     "for a while (every code when CODE is left out).")
    parser.add_argument("dataset")
    parser.add_argument("code", nargs="?", default="*", help="an alert code (default: every code)")
    parser.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h (at most 30d)")
    parser.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    args = parse_args(parser, argv)
    from shared.core.codes import ALERT_CODES
    from shared.services import feedback

    duration = duration_option("autopilot snooze", "--for", args.duration)
    if not duration.total_seconds() > 0 or duration > feedback.MAX_SNOOZE:
        print("autopilot snooze: --for must be more than 0 and at most 30d", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.code != "*" and args.code not in ALERT_CODES:
        print(f"autopilot snooze: {args.code!r} is not an alert code (see the README's alert codes)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        deps = deps_for(args.settings)
        deps.config.dataset(args.dataset)
        now = datetime.now(UTC)
        record = feedback.snooze(deps, args.dataset, args.code, now + duration, now)
    except KeyError:
        print(f"autopilot snooze: no dataset {args.dataset!r} in the config", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except ExternalError as exc:
        print(f"autopilot snooze: state cannot be reached: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    what = "every alert" if record.code == "*" else f"{record.code} alerts"
    print(f"{record.dataset}: {what} snoozed until {record.until:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return 0
