"""What the search benchmarks read from a search's best-so-far curve (akd.search.best_so_far):
when it reached a target."""

from __future__ import annotations

from collections.abc import Sequence


def trainings_to_reach(curve: Sequence[float], target: float) -> int | None:
    """How many trainings ``curve`` took to reach ``target``; None if it never did."""
    return next((i + 1 for i, value in enumerate(curve) if value >= target - 1e-12), None)
