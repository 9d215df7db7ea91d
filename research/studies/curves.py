"""What the search benchmarks read from a search: its best-so-far curve, and when it reached a
target."""

from __future__ import annotations

from collections.abc import Sequence

from akd.search import Trial


def best_so_far(trials: Sequence[Trial]) -> list[float]:
    """The best reward after each training, in the order they finished (failed: no reward)."""
    curve, best = [], float("-inf")
    for trial in trials:
        if trial.ok:
            best = max(best, trial.reward)
        curve.append(best)
    return curve


def trainings_to_reach(curve: Sequence[float], target: float) -> int | None:
    """How many trainings ``curve`` took to reach ``target``; None if it never did."""
    return next((i + 1 for i, value in enumerate(curve) if value >= target - 1e-12), None)
