"""Distribution drift between a file's histogram and its history, as the population stability index.

Bands rather than p-values: with millions of rows every difference is "significant", but PSI < 0.1 is
stable, 0.1–0.25 a moderate shift and > 0.25 a major one, whatever the file size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-4   # stands in for empty bins so the logarithm stays finite
MIN_ROWS = 200   # below this, empty bins dominate PSI: its chi-square noise estimate no longer holds


def _normalise(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    if total <= 0:
        return []
    return [max(c / total, EPSILON) for c in counts]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float | None:
    """PSI of ``actual`` against ``expected`` (histogram counts over the same bins); None if unusable."""
    if len(expected) != len(actual) or not expected:
        return None
    e, a = _normalise(expected), _normalise(actual)
    if not e or not a:
        return None
    return sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True))


def hellinger(expected: Sequence[float], actual: Sequence[float]) -> float | None:
    """Hellinger distance in [0, 1]; None if the histograms cannot be compared."""
    if len(expected) != len(actual) or not expected:
        return None
    te, ta = float(sum(expected)), float(sum(actual))
    if te <= 0 or ta <= 0:
        return None
    bc = sum(math.sqrt((x / te) * (y / ta)) for x, y in zip(expected, actual, strict=True))
    return math.sqrt(max(0.0, 1.0 - bc))


def pooled(histograms: Sequence[Sequence[float]]) -> list[float] | None:
    """Sum of comparable histograms (same bin count as the first); None when there are none."""
    usable = [h for h in histograms if h and len(h) == len(histograms[0])]
    if not usable:
        return None
    return [float(sum(col)) for col in zip(*usable, strict=True)]


def noise(expected: Sequence[float], actual: Sequence[float]) -> float:
    """A high (~99.9 %) quantile of the PSI two samples of these sizes show with no shift at all.

    PSI is close to a chi-square statistic with k - 1 degrees of freedom scaled by 1/n + 1/N (k the bins
    the pool uses). Without this, a file of 20 rows shows PSI well above 0.25 by chance alone.
    """
    n, total = float(sum(actual)), float(sum(expected))
    if n <= 0 or total <= 0:
        return math.inf
    df = max(sum(1 for c in expected if c > 0) - 1, 1)
    return (df + 4 * math.sqrt(2 * df)) * (1 / n + 1 / total)
