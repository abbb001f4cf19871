"""Fixtures of the offline infra checks: the parsed templates, the app's registrations, one checkov run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra import infra_checks
from tests.infra.infra_checks import INFRA, ROOT


def design_functions() -> Any:
    """The registrations the design fixes (names, triggers, settings), for functions the app does not
    register yet: the checks then cover them before their code lands."""
    import azure.functions as func

    app = func.FunctionApp()

    @app.function_name("upstream_watcher")
    @app.timer_trigger(arg_name="timer", schedule="%UPSTREAM_SCHEDULE%", use_monitor=True)
    def upstream_watcher(timer: func.TimerRequest) -> None: ...

    @app.function_name("output_guard")
    @app.blob_trigger(arg_name="blob", path="%OUTPUT_CONTAINER%/{name}", connection="DATA_STORAGE", source="EventGrid")
    def output_guard(blob: func.InputStream) -> None: ...

    @app.function_name("pipeline_events")
    @app.route(route="pipeline-events", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
    def pipeline_events(req: func.HttpRequest) -> func.HttpResponse: ...

    @app.function_name("alert_dispatcher")
    @app.queue_trigger(arg_name="msg", queue_name="alerts", connection="AzureWebJobsStorage")
    def alert_dispatcher(msg: func.QueueMessage) -> None: ...

    @app.function_name("alert_poison")
    @app.queue_trigger(arg_name="msg", queue_name="alerts-poison", connection="AzureWebJobsStorage")
    def alert_poison(msg: func.QueueMessage) -> None: ...

    return app


def registered_bindings() -> list[infra_checks.Binding]:
    """What function_app.app registers, plus the design's functions it does not register yet."""
    registered: list[infra_checks.Binding] = []
    if (ROOT / "function_app.py").exists():
        from function_app import app

        registered = infra_checks.app_bindings(app)
    names = {b.function for b in registered}
    return registered + [b for b in infra_checks.app_bindings(design_functions()) if b.function not in names]


@pytest.fixture(scope="session")
def project() -> infra_checks.Project:
    return infra_checks.Project.load(INFRA)


@pytest.fixture(scope="session")
def bindings() -> list[infra_checks.Binding]:
    return registered_bindings()


@pytest.fixture(scope="session")
def settings() -> tuple[Any, ...]:
    from shared.settings import SETTINGS

    return SETTINGS


@pytest.fixture(scope="session")
def state_tables() -> tuple[str, ...]:
    from shared.services.deps import Tables

    return Tables().all()


def find_checkov() -> Path | None:
    for candidate in (
        os.environ.get("CHECKOV"),
        str(ROOT / ".tools" / "checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def checkov() -> Path:
    exe = find_checkov()
    if exe is None:
        pytest.fail(
            "checkov is not installed: run `make setup` (it installs checkov==3.3.30 into "
            ".tools/checkov), or point CHECKOV at a checkov executable"
        )
    return exe


@pytest.fixture(scope="session")
def checkov_result(checkov: Path) -> infra_checks.CheckovResult:
    """One checkov scan of infra/ per test session (it takes a few seconds)."""
    return infra_checks.run_checkov(checkov, INFRA)


@pytest.fixture()
def infra_copy(tmp_path: Path) -> Path:
    """A scratch copy of infra/ to break on purpose."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    return copy
