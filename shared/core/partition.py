"""Partition patterns: where a dataset's batches live, and which prefixes a tick must list.

A pattern is a path under the upstream prefix made of literal text and tokens:
``{yyyy}`` ``{MM}`` ``{dd}`` ``{HH}`` (UTC date parts) and ``{*}`` (any one folder name, e.g. a batch
folder). ``{yyyy}/{MM}/{dd}`` puts one batch in each day folder; ``year={yyyy}/month={MM}/{*}`` puts
one batch in each folder inside a month. Files below the batch folder (any depth, e.g. ``region=eu/``
sub-partitions) belong to the batch.

Listing is partition-aware: a tick lists one prefix per day (or month, or year) of its look-back
window, so its cost follows new data, not history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.core.typed import Invalid

_TOKEN = re.compile(r"\{([^{}]*)\}")
_REGEX = {"yyyy": r"\d{4}", "MM": r"\d{2}", "dd": r"\d{2}", "HH": r"\d{2}", "*": r"[^/]+"}
_DATE_ORDER = ("yyyy", "MM", "dd", "HH")


@dataclass(frozen=True)
class PartitionPattern:
    text: str
    regex: re.Pattern[str]
    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, value: object) -> PartitionPattern:
        if not isinstance(value, str) or not value.strip("/"):
            raise Invalid(f"expected a partition pattern such as '{{yyyy}}/{{MM}}/{{dd}}', got {value!r}")
        text = value.strip("/")
        tokens = tuple(_TOKEN.findall(text))
        unknown = [t for t in tokens if t not in _REGEX]
        if unknown:
            raise Invalid(f"unknown token(s) {', '.join('{' + t + '}' for t in unknown)} in partition "
                          "pattern; use {yyyy} {MM} {dd} {HH} or {*}")
        dates = [t for t in tokens if t != "*"]
        if len(set(dates)) != len(dates):
            raise Invalid(f"partition pattern {text!r} repeats a date token")
        if dates and dates != list(_DATE_ORDER[: len(dates)]):
            raise Invalid(f"partition pattern {text!r}: date tokens must run {{yyyy}} then {{MM}} then "
                          "{dd} then {HH}, without gaps")
        if "{" in _TOKEN.sub("", text) or "}" in _TOKEN.sub("", text):
            raise Invalid(f"partition pattern {text!r} has an unbalanced brace")
        regex = re.compile("".join(
            _REGEX[part[1:-1]] if _TOKEN.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[^{}]*\})", text) if part))
        return cls(text, regex, tokens)

    @property
    def unit(self) -> str | None:
        """The finest date part a listing prefix can pin down: ``dd``, ``MM``, ``yyyy`` or None."""
        unit = None
        for token in self.tokens:
            if token in ("yyyy", "MM", "dd"):
                unit = token
            else:
                break
        return unit

    def _render_until_free(self, when: datetime) -> str:
        """The pattern's text rendered for ``when`` up to the first token a date cannot fill."""
        dates = {"yyyy": f"{when.year:04d}", "MM": f"{when.month:02d}", "dd": f"{when.day:02d}"}
        out = []
        for part in re.split(r"(\{[^{}]*\})", self.text):
            if not _TOKEN.fullmatch(part):
                out.append(part)
            elif part[1:-1] in dates:
                out.append(dates[part[1:-1]])
            else:
                return "".join(out)
        return "".join(out) + "/"  # the whole pattern is pinned: list exactly that folder

    def listing_prefixes(self, start: datetime, end: datetime) -> list[str]:
        """Prefixes (relative to the upstream prefix) that cover every batch dated in [start, end]."""
        if self.unit is None:
            return [self._render_until_free(start)] if not self.tokens else [""]
        seen: dict[str, None] = {}
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day <= end:
            seen.setdefault(self._render_until_free(day))
            day += timedelta(days=1)
        seen.setdefault(self._render_until_free(end))
        return list(seen)

    def split(self, relative_name: str) -> tuple[str, str] | None:
        """``2026/11/21/region=eu/part-0.csv`` → (``2026/11/21``, ``region=eu/part-0.csv``)."""
        m = self.regex.match(relative_name)
        if m is None or relative_name[m.end():m.end() + 1] != "/" or m.end() + 1 >= len(relative_name):
            return None
        return relative_name[: m.end()], relative_name[m.end() + 1:]

    def date(self, key: str) -> datetime | None:
        """The UTC time a batch key such as ``2026/11/21`` names (its start); None when it names no date."""
        named = "".join(
            f"(?P<{part[1:-1]}>{_REGEX[part[1:-1]]})" if _TOKEN.fullmatch(part) and part != "{*}"
            else _REGEX["*"] if part == "{*}" else re.escape(part)
            for part in re.split(r"(\{[^{}]*\})", self.text) if part)
        m = re.fullmatch(named, key)
        if m is None or "yyyy" not in m.groupdict():
            return None
        g = m.groupdict()
        try:
            return datetime(int(g["yyyy"]), int(g.get("MM") or 1), int(g.get("dd") or 1), int(g.get("HH") or 0),
                            tzinfo=UTC)
        except ValueError:
            return None
