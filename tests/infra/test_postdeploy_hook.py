"""The azd postdeploy hook, run for real against a stand-in `az` that records every call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.infra_checks import INFRA, ROOT

HOOK = INFRA / "scripts" / "postdeploy.sh"
BLOBS_KEY = "blobs-extension-key-for-tests"
FUNCTION_KEY = "pipeline-events-key-for-tests"

# Answers like the real CLI's for the queries the hook makes; records argv and --file contents.
FAKE_AZ = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
record = {{"args": args}}
if "--file" in args:
    record["file"] = open(args[args.index("--file") + 1], encoding="utf-8").read()
with open(os.environ["AZ_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(record) + "\\n")
joined = " ".join(args)
if joined.startswith("functionapp keys list"):
    print(os.environ.get("FAKE_BLOBS_KEY", ""))
elif joined.startswith("functionapp function keys list"):
    print("{FUNCTION_KEY}")
elif joined.startswith("keyvault show"):
    print("/subscriptions/s/resourceGroups/rg-test/providers/Microsoft.KeyVault/vaults/kv-test")
elif joined.startswith("role assignment list"):
    print(os.environ.get("FAKE_EXISTING_ROLES", "0"))
"""


def run_hook(tmp_path: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(FAKE_AZ, encoding="utf-8")
    az.chmod(0o755)
    log = tmp_path / "az.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AZ_LOG": str(log),
        "TMPDIR": str(tmp_path),
        "AUTOPILOT_PYTHON": sys.executable,
        "AUTOPILOT_KEY_PAUSE": "0",
        "AUTOPILOT_KEY_ATTEMPTS": "3",
        "FAKE_BLOBS_KEY": BLOBS_KEY,
        "AZURE_RESOURCE_GROUP": "rg-test",
        "AZURE_FUNCTION_APP_NAME": "func-test",
        "AZURE_FUNCTION_APP_HOSTNAME": "func-test.azurewebsites.net",
        "AZURE_KEY_VAULT_NAME": "kv-test",
        "DATA_RESOURCE_GROUP": "rg-data",
        "EVENT_GRID_SYSTEM_TOPIC": "evgt-test",
        "OUTPUT_CONTAINER": "outputs",
        "ADF_PRINCIPAL_ID": "00000000-0000-0000-0000-00000000adf0",
        "WEBHOOK_KEY_SECRET_NAME": "pipeline-events-function-key",
        **extra,
    }
    proc = subprocess.run(["sh", str(HOOK)], capture_output=True, text=True, env=env, timeout=60, check=False, cwd=ROOT)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return proc, calls


def call(calls: list[dict[str, object]], *prefix: str) -> list[str]:
    [found] = [c["args"] for c in calls if c["args"][: len(prefix)] == list(prefix)]  # type: ignore[index]
    return found  # type: ignore[return-value]


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_hook_subscribes_the_output_guard_to_the_output_locations_only(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path)
    assert proc.returncode == 0, proc.stderr
    args = call(calls, "eventgrid", "system-topic", "event-subscription", "create")
    assert option(args, "--endpoint") == (
        "https://func-test.azurewebsites.net/runtime/webhooks/blobs"
        f"?functionName=Host.Functions.output_guard&code={BLOBS_KEY}"
    )
    assert option(args, "--system-topic-name") == "evgt-test"
    assert option(args, "--resource-group") == "rg-data"
    assert option(args, "--included-event-types") == "Microsoft.Storage.BlobCreated"
    assert option(args, "--subject-begins-with") == "/blobServices/default/containers/outputs/blobs/"
    text = " ".join(args)
    assert "--advanced-filter subject StringBeginsWith /blobServices/default/containers/outputs/blobs/scores/" in text
    assert "StringNotBeginsWith /blobServices/default/containers/outputs/blobs/_reports/" in text


def test_the_hook_stores_the_webhook_key_in_key_vault_without_a_command_line_and_grants_the_factory(
    tmp_path: Path,
) -> None:
    proc, calls = run_hook(tmp_path)
    assert proc.returncode == 0, proc.stderr
    [secret] = [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]  # type: ignore[index]
    assert secret["file"] == FUNCTION_KEY
    assert all(FUNCTION_KEY not in " ".join(c["args"]) for c in calls)  # type: ignore[arg-type]
    assert not list(tmp_path.glob("tmp*")), "the key file is left behind"
    grant = call(calls, "role", "assignment", "create")
    assert option(grant, "--scope") == (
        "/subscriptions/s/resourceGroups/rg-test/providers/Microsoft.KeyVault"
        "/vaults/kv-test/secrets/pipeline-events-function-key"
    )
    assert option(grant, "--role") == "Key Vault Secrets User"
    assert option(grant, "--assignee-object-id") == "00000000-0000-0000-0000-00000000adf0"


def test_a_second_run_does_not_grant_the_factory_twice(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path, FAKE_EXISTING_ROLES="1")
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c["args"][:3] == ["role", "assignment", "create"]]  # type: ignore[index]


def test_the_hook_gives_up_clearly_when_the_host_never_registers_its_key(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path, FAKE_BLOBS_KEY="")
    assert proc.returncode != 0
    assert "gave up waiting for the blobs_extension key" in proc.stderr
    assert not [c for c in calls if c["args"][:1] == ["eventgrid"]]  # type: ignore[index]


@pytest.mark.parametrize("missing", ["AZURE_RESOURCE_GROUP", "EVENT_GRID_SYSTEM_TOPIC"])
def test_the_hook_refuses_to_run_outside_azd(tmp_path: Path, missing: str) -> None:
    proc, calls = run_hook(tmp_path, **{missing: ""})
    assert proc.returncode != 0 and missing in proc.stderr
    assert calls == []


def test_output_filters_refuse_a_dataset_writing_outside_the_watched_container(tmp_path: Path) -> None:
    config = tmp_path / "pipelines.yaml"
    config.write_text(
        (ROOT / "pipelines.yaml").read_text(encoding="utf-8").replace("container: outputs", "container: elsewhere"),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(INFRA / "scripts" / "output_filters.py"),
            "--config",
            str(config),
            "--container",
            "outputs",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "datasets ['scores'] write outputs outside container 'outputs'" in proc.stderr
    assert "Traceback" not in proc.stderr
