"""What the search benchmarks share: a resumable search of one arm, and its best-so-far curve."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from akd.config import RunConfig
from akd.search import RunDir, Trial, run_search

log = logging.getLogger(__name__)


def search_arm(config: RunConfig, path: Path, arm: str = "akd") -> list[Trial]:
    """``arm``'s trained trials of the search ``config`` into ``path``: searched now, resumed
    after a kill, or read back when finished."""
    resume = RunDir(path).config.exists()
    log.info(f"{'resuming' if resume else 'searching'} {path}")
    return run_search(config, path, resume=resume)[arm]


def run_seconds(path: Path) -> float | None:
    """The search's wall time (its last session's, for a resumed one) from ``timing.json``."""
    timing = path / "timing.json"
    return json.loads(timing.read_text())["total_seconds"] if timing.exists() else None


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
