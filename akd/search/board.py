"""What a user watches in TensorBoard: per-step curves of each arm and its best students.

Each arm writes its own TensorBoard run (``tensorboard/akd``, ``tensorboard/nas``) with the same
tags, so opening the run directory overlays the two arms' curves.
"""

from __future__ import annotations

import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from .trial import top_trials, trials_table


class ArmBoard:
    """The TensorBoard run of one arm."""

    def __init__(self, directory: Path, purge_step: int | None = None) -> None:
        # purge_step: a resumed run hides what the killed one logged from that step on
        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, step)

    def log_step(self, step: int, batch: list[dict], trials: list[dict],
                 controller_stats: dict[str, float], top_k: int,
                 screened_out: list[dict] | None = None) -> None:
        """Scalars of one controller step: ``batch`` its trained trials, ``trials`` all trained
        so far, ``screened_out`` the step's predicted ones when the search screens."""
        ok = [t for t in batch if t["status"] == "ok"]
        rewards = [t["reward"] for t in batch]
        scalars = {"reward/mean": sum(rewards) / len(rewards), "reward/max": max(rewards),
                   "reward/best_so_far": max(t["reward"] for t in trials),
                   "candidates/failed": len(batch) - len(ok)}
        if ok:
            scalars.update({
                "accuracy/val_mean": sum(t["val_acc"] for t in ok) / len(ok),
                "accuracy/val_max": max(t["val_acc"] for t in ok),
                "latency/mean_ms": sum(t["latency_ms"] for t in ok) / len(ok)})
        if screened_out is not None:
            scalars["candidates/screened_out"] = len(screened_out)
            pairs = [(t["predicted_acc"], t["val_acc"]) for t in ok
                     if t.get("predicted_acc") is not None]
            if pairs:  # how far the predictor was off on the step's trained candidates
                scalars["screening/abs_error"] = sum(abs(p - a) for p, a in pairs) / len(pairs)
        scalars.update({f"controller/{k}": v for k, v in controller_stats.items()})
        for tag, value in scalars.items():
            if math.isfinite(value):
                self.writer.add_scalar(tag, value, step)
        best = top_trials(trials, top_k)
        if best:
            self.writer.add_text("top_architectures", trials_table(best, markdown=True), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
