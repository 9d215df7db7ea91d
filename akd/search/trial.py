"""The trial: one finished candidate of a search, as ``trials.jsonl`` records it.

:class:`Task` is a candidate as the driver hands it to an evaluator; :class:`TrialRecord` is the
line written when it finishes. Its fields are the run-directory contract, spelled here once:
the search writes them, the report and the tests read them by :data:`TRIAL_FIELDS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..formatting import fraction, number


@dataclass(frozen=True)
class Task:
    """One candidate to evaluate, as the driver hands it to an evaluator."""

    arm: str  # the arm that asked for it ("akd", "nas")
    step: int  # controller step that asked for it
    index: int  # position in that step's batch
    candidate_id: int  # the controller's id of the candidate
    decisions: list[int]  # the controller's decisions
    arch: str  # the architecture string they decode to


@dataclass(frozen=True)
class TrialRecord:
    """One line of ``trials.jsonl``."""

    arm: str
    step: int
    index: int
    candidate_id: int
    arch: str  # the block string
    decisions: list[int]
    val_acc: float | None  # validation accuracy after proxy training; None when failed
    latency_ms: float  # NaN (null in JSON) when the student could not even be timed
    reward: float  # MnasNet's reward; the failed reward when failed
    params: int | None
    flops: int | None  # multiply-accumulates at batch 1
    status: str  # "ok", "failed", or "predicted": screened out, its reward from the predictor
    error: str | None
    seconds: float  # wall time of the evaluation in its worker
    predicted_acc: float | None = None  # the screening predictor's accuracy, for every
    # candidate of a screened step (trained or not); None without screening

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


TRIAL_FIELDS = tuple(field.name for field in dataclasses.fields(TrialRecord))
# the fields every trial has had from the first version on (runs before screening lack the rest)
REQUIRED_FIELDS = tuple(field.name for field in dataclasses.fields(TrialRecord)
                        if field.default is dataclasses.MISSING)
PREDICTED = "predicted"  # the status of a screened-out candidate: never trained


def is_trial(record: object) -> bool:
    """Whether a line read from ``trials.jsonl`` has every field of a trial."""
    return isinstance(record, dict) and all(name in record for name in REQUIRED_FIELDS)


def is_trained(trial: dict) -> bool:
    """Whether the trial was trained (ok or failed) rather than screened out."""
    return trial["status"] != PREDICTED


def top_trials(trials: list[dict], k: int) -> list[dict]:
    """The ``k`` finished trials with the highest reward, best first."""
    ok = [t for t in trials if t["status"] == "ok"]
    return sorted(ok, key=lambda t: (-t["reward"], t["candidate_id"]))[:k]


def trials_table(trials: list[dict], markdown: bool = False) -> str:
    """Reward, accuracy, latency, params, MACs and architecture of ``trials``, one per row."""
    head = ["#", "reward", "val acc", "latency ms", "params k", "MMACs", "step", "architecture"]
    rows = [[str(i + 1), fraction(t["reward"]), fraction(t["val_acc"]),
             number(t["latency_ms"], 3), number(t["params"] / 1e3, 1),
             number(t["flops"] / 1e6, 2), str(t["step"]), t["arch"]]
            for i, t in enumerate(trials)]
    if markdown:
        lines = [head, ["---"] * len(head)] + [r[:-1] + [f"`{r[-1]}`"] for r in rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head) - 1)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) + "  " + r[-1]
                     for r in [head] + rows)
