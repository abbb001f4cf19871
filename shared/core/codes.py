"""Every alert code the app can raise, with when it fires. The README's table must list them all."""

from __future__ import annotations

ALERT_CODES: dict[str, str] = {
    "upstream_late": "no complete upstream batch for longer than cadence × late_factor",
    "upstream_recovered": "upstream data arrived again after upstream_late",
    "upstream_late_files": "files landed in a batch after its run started",
    "run_start_failed": "ADF refused to start the pipeline",
    "watch_failed": "the watcher could not list upstream data or reach state for a dataset",
    "output_late": "no new output for longer than cadence × late_factor",
    "output_recovered": "outputs arrived again after output_late",
    "output_failed": "an output file failed its contract or its history checks",
    "output_warning": "an output file passed with warnings",
    "config_invalid": "a new version of the live pipelines config is invalid; the last good one stays in use",
    "output_poison": "an output file could not be validated after repeated attempts (poison queue)",
    "pipeline_event_poison": "a pipeline event could not be processed after repeated attempts (poison queue)",
    "alert_undeliverable": "an alert could not be delivered after repeated attempts (alerts-poison queue)",
    "run_failed": "the pipeline run failed (ADF says so, with the failing activity and its error)",
    "run_slow": "the run took much longer than its learned duration baseline",
    "run_stuck": "a run has been in progress far beyond its baseline or max_duration",
    "copy_mismatch": "a Copy activity of the run wrote a different number of rows than it read, or skipped rows",
    "refresh_held": "the Power BI refresh was held: the run failed or its outputs did not pass",
    "refresh_failed": "Power BI refused the refresh, or the refresh ended Failed",
    "refresh_budget_exhausted": "the dataset used its daily refresh budget; the refresh was not requested",
    "test_alert": "sent by `autopilot send-test-alert` to prove a channel works",
}
