"""``autopilot validate TABLE_FOLDER``: one version of a local Delta table, read as the output guard reads
it (the commit's statistics first, Parquet data only for checks that need it)."""

from __future__ import annotations

from pathlib import Path

from shared.core.delta_log import AddedFile
from shared.core.profile import Profile
from shared.core.spec import Contract


def latest_version(table: Path) -> int | None:
    from shared.core.delta_log import commit_version

    versions = [v for p in (table / "_delta_log").glob("*.json")
                if (v := commit_version(f"_delta_log/{p.name}")) is not None]
    return max(versions) if versions else None


def profile_table(table: Path, contract: Contract, version: int | None) -> tuple[Profile, Path]:
    """The version's profile and the commit file it came from. ValueError: no such version."""
    from shared.adapters.profilers import profile_file, unreadable
    from shared.core.delta_log import commit_name
    from shared.core.delta_profile import read_version

    if version is None:
        version = latest_version(table)
        if version is None:
            raise ValueError(f"{table}: _delta_log/ holds no commit")
    commit = table / commit_name(version)
    if not commit.is_file():
        raise ValueError(f"{table}: version {version} does not exist (no {commit_name(version)})")

    def read(name: str) -> bytes | None:
        try:
            return (table / name).read_bytes()
        except FileNotFoundError:
            return None

    def profile_one(add: AddedFile, parquet: Contract) -> Profile:
        path = table / add.path
        try:
            return profile_file(path, parquet, fmt="parquet")
        except OSError as exc:
            return unreadable("parquet", add.size, f"data file {add.path} cannot be read: {exc.strerror or exc}")

    profile, _, _ = read_version(read, "", version, contract, profile_one)
    return profile, commit
