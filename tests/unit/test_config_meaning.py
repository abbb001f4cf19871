"""Config mistakes that change what the config means are config errors with file, line and field
(issue 11): a drift or freshness column the contract does not declare, a duration without a unit, two
datasets whose output prefixes overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import config
from shared.errors import ConfigError


def problems_of(yaml_text: str, tmp_path: Path, *, contract: bool = False) -> list[str]:
    path = tmp_path / ("contract.yaml" if contract else "pipelines.yaml")
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        (config.load_contract if contract else config.load_pipelines)(path)
    return list(info.value.problems)


OUTPUT = """\
datasets:
  - name: scores
    output:
      container: outputs
      prefix: scores
      contract:
        columns:
          score: {type: float}
          ts: {type: timestamp}
"""


def test_a_typo_in_drift_columns_is_an_error_naming_file_line_and_item(tmp_path: Path) -> None:
    problems = problems_of(OUTPUT + "        drift:\n          columns: [score, scroe]\n", tmp_path)
    source = tmp_path / "pipelines.yaml"
    assert problems == [f"{source}:11: datasets[0].output.contract.drift.columns[1]: drift column 'scroe' is not "
                        "declared under columns (declared: score, ts); a typo here switches drift off"]


def test_a_typo_in_the_freshness_column_of_a_contract_file_is_an_error(tmp_path: Path) -> None:
    text = "columns: {ts: {type: timestamp}}\nfreshness:\n  column: tss\n  max_age: 7d\n"
    problems = problems_of(text, tmp_path, contract=True)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'contract.yaml'}:3: freshness.column: "
                                                         "freshness column 'tss' is not declared")


@pytest.mark.parametrize("value", ["24", "'24'", "1.5"])
def test_a_duration_without_a_unit_is_an_error_that_suggests_the_units(tmp_path: Path, value: str) -> None:
    problems = problems_of(OUTPUT.replace("      prefix: scores\n", f"      prefix: scores\n      staleness: "
                                          f"{{cadence: {value}}}\n"), tmp_path)
    shown = value.strip("'")
    assert problems == [f"{tmp_path / 'pipelines.yaml'}:6: datasets[0].output.staleness.cadence: the duration "
                        f"{shown} has no unit; write {shown}s, {shown}m, {shown}h or {shown}d"]


def test_a_zero_duration_needs_no_unit(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text("datasets:\n  - name: s\n    upstream: {container: up, batch: {quiet_period: 0}}\n")
    ds = config.load_pipelines(path).datasets[0]
    assert ds.upstream is not None and ds.upstream.batch.effective_quiet_period.total_seconds() == 0


def test_output_prefixes_of_two_datasets_that_nest_are_an_error(tmp_path: Path) -> None:
    text = OUTPUT + "  - name: scores_eu\n    output:\n      container: outputs\n      prefix: scores/eu/\n"
    problems = problems_of(text, tmp_path)
    assert problems == [f"{tmp_path / 'pipelines.yaml'}:13: datasets[1].output.prefix: output prefix 'scores/eu/' "
                        "overlaps the output prefix 'scores' of dataset 'scores' in container 'outputs'; a file "
                        "there would belong to both: give each dataset its own folder"]


def test_sibling_prefixes_that_share_letters_and_other_containers_do_not_overlap(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text(OUTPUT + "  - name: scores2\n    output: {container: outputs, prefix: scores2}\n"
                             "  - name: copy\n    output: {container: archive, prefix: scores}\n")
    assert [ds.name for ds in config.load_pipelines(path).datasets] == ["scores", "scores2", "copy"]
