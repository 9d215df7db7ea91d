"""What a user watches: TensorBoard curves per arm and the terminal table of the best students.

Each arm writes its own TensorBoard run (``tensorboard/akd``, ``tensorboard/nas``) with the same
tags, so opening the run directory overlays the two arms' curves.
"""

from __future__ import annotations

import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


def top_trials(trials: list[dict], k: int) -> list[dict]:
    """The ``k`` finished trials with the highest reward, best first."""
    ok = [t for t in trials if t["status"] == "ok"]
    return sorted(ok, key=lambda t: (-t["reward"], t["candidate_id"]))[:k]


def trials_table(trials: list[dict], markdown: bool = False) -> str:
    """Reward, accuracy, latency, params, MACs and architecture of ``trials``, one per row."""
    head = ["#", "reward", "val acc", "latency ms", "params k", "MMACs", "step", "architecture"]
    rows = [[str(i + 1), f"{t['reward']:.4f}", f"{t['val_acc']:.4f}", f"{t['latency_ms']:.3f}",
             f"{t['params'] / 1e3:.1f}", f"{t['flops'] / 1e6:.2f}", str(t["step"]), t["arch"]]
            for i, t in enumerate(trials)]
    if markdown:
        lines = [head, ["---"] * len(head)] + [r[:-1] + [f"`{r[-1]}`"] for r in rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head) - 1)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) + "  " + r[-1]
                     for r in [head] + rows)


class ArmBoard:
    """The TensorBoard run of one arm."""

    def __init__(self, directory: Path, purge_step: int | None = None) -> None:
        # purge_step: a resumed run hides what the killed one logged from that step on
        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, step)

    def log_step(self, step: int, batch: list[dict], trials: list[dict],
                 controller_stats: dict[str, float], top_k: int) -> None:
        """Scalars of one controller step: ``batch`` its trials, ``trials`` all so far."""
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
