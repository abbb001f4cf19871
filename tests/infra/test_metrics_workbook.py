"""The workbook and the drift alert rule query what the app records: every metric name and dimension they
use is one ``shared/core/metrics.py`` declares, every instrument has a chart, and the drift rule fires at
the guard's own major-shift band."""

from __future__ import annotations

import re

from shared.core import metrics
from shared.core.spec import DriftSpec
from tests.infra import infra_checks

MODULE = "modules/metrics-workbook.bicep"
# Dimensions the app's records carry: the metric points', and the "alert sent" log's (traces).
METRIC_DIMENSIONS = {"dataset", "stage", "column", "status", "outcome", "decision", "pipeline"}
ALERT_LOG_DIMENSIONS = {"dataset", "code", "fingerprint"}


def _queries(project: infra_checks.Project) -> list[str]:
    bicep = project.file(MODULE)
    charts = [chart["query"] for chart in bicep.variables["charts"]["value"]]
    rule = infra_checks.body(bicep.resources["driftAlert"])["properties"]
    per_dataset = bicep.variables["perDataset"]["value"]
    return [q.replace("${perDataset}", per_dataset) for q in charts] + [
        c["query"] for c in rule["criteria"]["allOf"]]


def test_every_metric_and_dimension_queried_is_one_the_app_records(project: infra_checks.Project) -> None:
    queries = _queries(project)
    for query in queries:
        names = set(re.findall(r'name == "([^"]+)"', query))
        dimensions = set(re.findall(r"customDimensions\.(\w+)", query))
        if query.startswith("customMetrics"):
            assert names and names <= set(metrics.INSTRUMENTS), query
            assert dimensions <= METRIC_DIMENSIONS, query
        else:
            assert query.startswith('traces | where message == "alert sent"'), query
            assert dimensions <= ALERT_LOG_DIMENSIONS, query


def test_every_instrument_has_a_chart_in_the_workbook(project: infra_checks.Project) -> None:
    charted = {name for q in _queries(project)[:-1] for name in re.findall(r'name == "([^"]+)"', q)}
    assert charted == set(metrics.INSTRUMENTS)


def test_the_drift_rule_fires_per_dataset_and_column_at_the_guards_major_shift_band(
        project: infra_checks.Project) -> None:
    bicep = project.file(MODULE)
    rule = infra_checks.body(bicep.resources["driftAlert"])["properties"]
    [criterion] = rule["criteria"]["allOf"]
    assert 'name == "autopilot.output.drift"' in criterion["query"]
    assert {d["name"] for d in criterion["dimensions"]} == {"dataset", "column"}
    assert (criterion["operator"], criterion["metricMeasureColumn"]) == ("GreaterThanOrEqual", "psi")
    assert float(bicep.parameters["driftThreshold"]["default"]) == DriftSpec().fail
    assert rule["scopes"] == ["appInsightsId"] and rule["autoMitigate"] is True


def test_main_deploys_the_workbook_against_application_insights(project: infra_checks.Project) -> None:
    module = infra_checks.body(project.file("main.bicep").modules["metricsWorkbook"])
    assert infra_checks.render(module["params"]["appInsightsId"]) == "monitoring.outputs.appInsightsId"
    workbook = infra_checks.body(project.file(MODULE).resources["workbook"])
    assert (workbook["kind"], workbook["properties"]["category"]) == ("shared", "workbook")
