"""The deployed app stands alone: importing it loads nothing of the sandbox, the CLI or the benches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_function_app_loads_no_sandbox_cli_or_bench_module() -> None:
    probe = ("import sys, json, function_app; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('sandbox', 'cli', 'bench'))))")

    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True,
                                       text=True).stdout)

    assert loaded == []


def test_no_module_in_shared_is_over_the_size_rule() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / "shared").rglob("*.py")}

    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}
