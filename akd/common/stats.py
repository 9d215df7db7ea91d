"""The statistics every stage reports, in one place, on ``scipy.stats`` where it has them.

Each returns None (or a dict of Nones) where the statistic is undefined (too few values, a side
that is all ties) instead of NaN with a warning, so tables and JSON can say "-" honestly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95  # two-sided level of every interval akd reports


def mean(values: Sequence[float]) -> float | None:
    return statistics.mean(values) if len(values) else None


def stdev(values: Sequence[float]) -> float | None:
    """The sample standard deviation; None for fewer than two values."""
    return statistics.stdev(values) if len(values) > 1 else None


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if len(values) else None


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample standard deviation and a two-sided Student t interval of the mean
    (``ci95``: [low, high], None for fewer than two values)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    centre = statistics.mean(values)
    if n == 1:
        return {"n": 1, "mean": centre, "std": None, "ci95": None}
    std = statistics.stdev(values)
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": centre, "std": std, "ci95": [centre - half, centre + half]}


def _defined(x: Sequence[float], y: Sequence[float]) -> bool:
    if len(x) != len(y):
        raise ValueError(f"paired statistics need equal lengths, got {len(x)} and {len(y)}")
    return len(x) >= 2 and len(set(x)) > 1 and len(set(y)) > 1


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (average ranks for ties); None when undefined (fewer than two pairs, or
    one side all tied). The Pearson correlation of ``scipy.stats.rankdata``'s ranks, which is
    what ``scipy.stats.spearmanr`` computes, at a third of its cost: bootstraps call it
    thousands of times."""
    if not _defined(x, y):
        return None
    return float(np.corrcoef(scipy_stats.rankdata(x), scipy_stats.rankdata(y))[0, 1])


def kendall(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (ties corrected); None when undefined."""
    return float(scipy_stats.kendalltau(x, y).statistic) if _defined(x, y) else None


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    """Total-variation distance of two distributions over the same choices: 0 equal, 1 disjoint."""
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))
