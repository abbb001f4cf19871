"""The status page on the sandbox, loaded in headless Chromium (Debian's ``chromium``, installed by
``make test``): it loads, shows the demo's dataset and its charts, and a screenshot is kept."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from sandbox.stack import ROOT, Stack
from tests import status_world

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / ".sandbox" / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("stack")) as running:
        # Thirty days as the functions would have left them: the demo's dataset, its last batch failing.
        status_world.seed(running.deps, "scores", datetime.now(UTC), days=30)
        yield running


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    profile.mkdir()
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_page_loads_in_chromium_with_the_dataset_and_its_charts(stack: Stack, tmp_path: Path) -> None:
    url = f"{stack.host.url}/status?code={stack.host.default_key}"

    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "ADF Autopilot status" in html and '<section id="ds-scores">' in html
    assert html.count('<svg class="chart"') >= 4 and html.count('class="point"') >= 4 * 25
    assert "Refused to" not in dom.stderr        # the CSP blocked nothing the page needs

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    taken = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert taken.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"status page screenshot: {shot}")


def test_the_page_needs_the_function_key_and_sends_a_strict_policy(stack: Stack) -> None:
    assert requests.get(f"{stack.host.url}/status", timeout=30).status_code == 401
    page = requests.get(f"{stack.host.url}/status", headers={"x-functions-key": stack.host.default_key}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'none'" in policy and "unsafe-inline" not in policy
    assert "<script" not in page.text
