"""``autopilot send-test-alert``: prove the channels work, end to end, before a real alert needs them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cli.main import deps_for, parse_args
from shared.errors import ExternalError

if TYPE_CHECKING:
    from shared.core.models import Alert
    from shared.core.spec import DevOpsRoute, PipelinesConfig
    from shared.ports import WorkItems


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autopilot send-test-alert",
                                     description="Send one test alert through the configured channels.")
    parser.add_argument("--settings", help="a local.settings.json whose Values are the app settings")
    parser.add_argument("--dataset", default="", help="route as this dataset (its email recipients)")
    parser.add_argument("--channel", choices=("teams", "email", "devops"),
                        help="only this channel (devops: a work item, created then resolved, in the project "
                             "the dataset's alerts.devops names)")
    args = parse_args(parser, argv)
    from shared.core import render
    from shared.core.models import Alert, Severity

    deps = deps_for(args.settings)
    dataset = args.dataset or _default_dataset(deps.config, args.channel)
    route = None
    try:
        ds = deps.config.dataset(dataset)
        recipients: tuple[str, ...] = ds.alerts.email or deps.dispatch.default_email
        route = ds.alerts.devops
    except KeyError:
        recipients = deps.dispatch.default_email
    channels = {c: n for c, n in deps.notifiers.items() if args.channel in (None, c)}
    devops = route is not None and deps.work_items is not None and args.channel in (None, "devops")
    if args.channel == "devops" and not devops:
        print(f"autopilot send-test-alert: dataset {dataset!r} sends no alerts to Azure DevOps: add "
              "alerts.devops {organization, project} to it in pipelines.yaml (or pass --dataset)", file=sys.stderr)
        return 3
    if not channels and not devops:
        print("autopilot send-test-alert: no channel is configured: set TEAMS_WEBHOOK_URL, or "
              "ACS_EMAIL_ENDPOINT + ACS_EMAIL_SENDER, or SMTP_HOST + SMTP_SENDER", file=sys.stderr)
        return 3
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
    if devops:
        assert route is not None and deps.work_items is not None
        failed += _work_item(deps.work_items, route, alert)
    return 2 if failed else 0


def _default_dataset(config: PipelinesConfig, channel: str | None) -> str:
    """The first dataset, or for ``--channel devops`` the first whose alerts go to Azure DevOps."""
    if channel == "devops":
        routed = [ds.name for ds in config.datasets if ds.alerts.devops is not None]
        if routed:
            return routed[0]
    return config.datasets[0].name if config.datasets else "autopilot"


def _work_item(client: WorkItems, route: DevOpsRoute, alert: Alert) -> int:
    """Create a work item for the test alert, then resolve it at once: the project shows the channel
    works without leaving an open item behind. 0 when both steps were taken, 1 otherwise."""
    from shared.core import work_items

    where = f"{route.organization}/{route.project}"
    try:
        item = client.create(route.organization, route.project, route.type,
                             work_items.create_document(alert, route, "autopilot-test"))
    except ExternalError as exc:
        print(f"devops: FAILED to create a {route.type} in {where}: {exc}", file=sys.stderr)
        return 1
    try:
        client.update(route.organization, route.project, item,
                      work_items.resolve_document(alert, route.state_on_resolve))
    except ExternalError as exc:
        print(f"devops: created {route.type} #{item} in {where}, but could not resolve it: {exc}", file=sys.stderr)
        return 1
    print(f"devops: created {route.type} #{item} in {where}, then set it to {route.state_on_resolve}", file=sys.stderr)
    return 0
