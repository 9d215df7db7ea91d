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
    decisions: list[int]  # the controller's decisions of the architecture
    arch: str  # the architecture string they decode to
    kd: dict[str, float] | None = None  # the KD hyper-parameters the controller chose with it
    # (search.kd: "temperature", "alpha"); None: the proxy's
    family: dict | None = None  # autokd: the family it was drawn from ("index", "member",
    # "parameters"); None for other controllers


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
    kd: dict[str, float] | None = None  # searched KD hyper-parameters it was trained with
    # (search.kd); None: the proxy's own
    family: dict | None = None  # autokd: the family it was drawn from (index, member,
    # parameters); None for other controllers
    predicted_acc: float | None = None  # the screening predictor's accuracy, for every
    # candidate of a screened step (trained or not); None without screening

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


TRIAL_FIELDS = tuple(field.name for field in dataclasses.fields(TrialRecord))
# the fields every trial has had from the first version on (runs before screening lack the rest)
REQUIRED_FIELDS = tuple(field.name for field in dataclasses.fields(TrialRecord)
                        if field.default is dataclasses.MISSING)
PREDICTED = "predicted"  # the status of a screened-out candidate: never trained
SHORT = {"temperature": "T", "alpha": "alpha"}  # column names of searched KD hyper-parameters


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
    """Reward, accuracy, latency, params, MACs and architecture of ``trials``, one per row (and
    the searched KD hyper-parameters, when the search chose them)."""
    searched = sorted({k for t in trials for k in (t.get("kd") or {})}, reverse=True)
    head = ["#", "reward", "val acc", "latency ms", "params k", "MMACs", "step",
            *[SHORT.get(k, k) for k in searched], "architecture"]
    rows = [[str(i + 1), fraction(t["reward"]), fraction(t["val_acc"]),
             number(t["latency_ms"], 3), number(t["params"] / 1e3, 1),
             number(t["flops"] / 1e6, 2), str(t["step"]),
             *[number((t.get("kd") or {}).get(k), 2) for k in searched], t["arch"]]
            for i, t in enumerate(trials)]
    if markdown:
        lines = [head, ["---"] * len(head)] + [r[:-1] + [f"`{r[-1]}`"] for r in rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head) - 1)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) + "  " + r[-1]
                     for r in [head] + rows)


def family_summary(trials: list[dict]) -> dict | None:
    """autokd's result: the family with the highest mean reward over its trained members, its
    parameters, its best member, and the spread of its members' accuracies (is every student of
    the right family good?), beside the mean spread within all families; None without families."""
    families: dict[int, list[dict]] = {}
    for trial in trials:
        if trial.get("family") is not None and trial["status"] == "ok":
            families.setdefault(trial["family"]["index"], []).append(trial)
    if not families:
        return None
    index, members = max(families.items(), key=lambda item: (
        sum(t["reward"] for t in item[1]) / len(item[1]), -item[0]))
    accuracies = [t["val_acc"] for t in members]
    spreads = [max(t["val_acc"] for t in group) - min(t["val_acc"] for t in group)
               for group in families.values() if len(group) > 1]
    return {"index": index, "parameters": members[0]["family"]["parameters"],
            "mean_reward": sum(t["reward"] for t in members) / len(members),
            "members": len(members), "accuracies": accuracies,
            "accuracy_range": max(accuracies) - min(accuracies),
            "best_member": top_trials(members, 1)[0],
            "families": len(families),
            "mean_accuracy_range": sum(spreads) / len(spreads) if spreads else None}


def family_lines(summary: dict) -> list[str]:
    """The family summary in words, for the run's log and the report."""
    params = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in summary["parameters"].items())
    lines = [f"best family #{summary['index']} of {summary['families']} (mean reward "
             f"{summary['mean_reward']:.4f} over {summary['members']} members): {params}",
             f"  its members' accuracies {', '.join(fraction(a) for a in summary['accuracies'])}"
             f" (range {summary['accuracy_range']:.4f}"
             + (f"; within all families {summary['mean_accuracy_range']:.4f} on average)"
                if summary["mean_accuracy_range"] is not None else ")"),
             f"  its best member: {summary['best_member']['arch']}"]
    return lines
