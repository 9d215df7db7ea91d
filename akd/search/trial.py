"""The trial: one finished candidate of a search, as ``trials.jsonl`` records it.

:class:`Task` is a candidate as the driver hands it to an evaluator; :class:`Trial` is what it
became when it finished, with its :class:`TrialStatus` (Optuna's ``FrozenTrial`` and
``TrialState`` are the model). Its fields are the run-directory contract, spelled here once: the
search writes them, everything else reads them, and old run directories still load.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..common.formatting import fraction, number


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
    # a multi-fidelity schedule's training (search.schedule); all None / 0 for flat:
    rung: int | None = None  # the rung it trains to
    seed: int | None = None  # 0: the chain promotions continue; 1..: the top rung's other seeds
    epochs: int | None = None  # the schedule's epoch it stops at
    start_epoch: int = 0  # the epoch its checkpoint continues from; 0: from scratch
    checkpoints: str | None = None  # the directory of the chains' checkpoints

    def record(self) -> dict:
        """Its fields that a :class:`Trial` records."""
        return {name: value for name, value in dataclasses.asdict(self).items()
                if name in TRIAL_FIELDS}


class TrialStatus(StrEnum):
    """How a trial ended. A ``StrEnum``: it is written to ``trials.jsonl`` as its value."""

    OK = "ok"  # trained; its accuracy and reward are real
    FAILED = "failed"  # its training (or its latency measurement) raised; the failed reward
    PREDICTED = "predicted"  # screened out: never trained, its reward from the predictor


@dataclass(frozen=True)
class Trial:
    """One finished candidate of a search, as a line of ``trials.jsonl`` holds it.

    What the loop writes and what the final stage, the report, export and the research read;
    :meth:`to_json` and :meth:`from_json` are its only way to and from disk."""

    arm: str
    step: int
    index: int
    candidate_id: int
    arch: str  # the block string
    decisions: list[int]
    val_acc: float | None  # validation accuracy after proxy training; None unless ok
    latency_ms: float  # NaN (null in JSON) when the student could not even be timed
    reward: float  # MnasNet's reward; the failed reward when failed
    params: int | None
    macs: int | None  # multiply-accumulates at batch 1 (runs before 0.2 called them "flops")
    status: TrialStatus
    error: str | None
    seconds: float  # wall time of the evaluation in its worker
    kd: dict[str, float] | None = None  # searched KD hyper-parameters it was trained with
    # (search.kd); None: the proxy's own
    family: dict | None = None  # autokd: the family it was drawn from (index, member,
    # parameters); None for other controllers
    predicted_acc: float | None = None  # the screening predictor's accuracy, for every
    # candidate of a screened step (trained or not); None without screening
    rung: int | None = None  # search.schedule: the rung it was trained to; None for flat
    seed: int | None = None  # search.schedule: its seed (0 the chain promotions continue)
    epochs: int | None = None  # search.schedule: the epoch of the top rung's schedule it
    # stopped at (its budget: epochs x the proxy's images)
    samples: int | None = None  # search.schedule: training samples this training cost (a
    # promotion only the epochs it added)

    @property
    def ok(self) -> bool:
        return self.status is TrialStatus.OK

    @property
    def trained(self) -> bool:
        """Trained (ok or failed) rather than screened out."""
        return self.status is not TrialStatus.PREDICTED

    def to_json(self) -> dict:
        """The line of ``trials.jsonl``: the fields by name, the status as its value."""
        record = dataclasses.asdict(self)
        record["status"] = self.status.value
        return record

    @classmethod
    def from_json(cls, record: dict) -> Trial:
        """The trial a line of ``trials.jsonl`` holds, written by this version or an earlier
        one (``flops`` for ``macs``; no ``kd``, ``family`` or ``predicted_acc``);
        :class:`ValueError` naming what is missing or wrong when it is not a trial."""
        values = dict(record)
        if "macs" not in values and "flops" in values:
            values["macs"] = values.pop("flops")
        missing = [name for name in REQUIRED_FIELDS if name not in values]
        if missing:
            raise ValueError(f"not a trial: it lacks {', '.join(missing)}")
        try:
            values["status"] = TrialStatus(values["status"])
        except ValueError:
            raise ValueError(f"not a trial: status {values['status']!r} is none of "
                             f"{', '.join(s.value for s in TrialStatus)}") from None
        return cls(**{name: values[name] for name in TRIAL_FIELDS if name in values})


TRIAL_FIELDS = tuple(field.name for field in dataclasses.fields(Trial))
# the fields every trial has had from the first version on (runs before screening lack the rest)
REQUIRED_FIELDS = tuple(field.name for field in dataclasses.fields(Trial)
                        if field.default is dataclasses.MISSING)
SHORT = {"temperature": "T", "alpha": "alpha"}  # column names of searched KD hyper-parameters


def top_trials(trials: list[Trial], k: int) -> list[Trial]:
    """The ``k`` finished trials with the highest reward, best first; for a multi-fidelity
    search, the ``k`` best candidates of the highest rung reached (:func:`search_results`)."""
    return sorted(search_results(trials), key=lambda t: (-t.reward, t.candidate_id))[:k]


def search_results(trials: Sequence[Trial]) -> list[Trial]:
    """What a search found, one trial per candidate: a flat search's successful trials; a
    multi-fidelity one's candidates at its highest rung reached, each as one trial whose
    accuracy and reward are the mean over its seeds there (the top rung judges a student by
    that mean), its seconds and samples their sum and its seed None."""
    ok = [t for t in trials if t.ok]
    rungs = [t.rung for t in ok if t.rung is not None]
    if not rungs:
        return ok
    top = max(rungs)
    by_candidate: dict[int, list[Trial]] = {}
    for trial in ok:
        if trial.rung == top:
            by_candidate.setdefault(trial.candidate_id, []).append(trial)
    return [dataclasses.replace(
        seeds[0], val_acc=sum(t.val_acc for t in seeds) / len(seeds),
        reward=sum(t.reward for t in seeds) / len(seeds), seed=None,
        seconds=sum(t.seconds for t in seeds), samples=sum(t.samples or 0 for t in seeds))
        for seeds in by_candidate.values()]


def best_so_far(trials: Sequence[Trial]) -> list[float]:
    """The best reward of the successful trials after each of ``trials``, in their order (the
    order they finished, as a run records them); -inf until the first success. The one
    best-so-far curve: the report's per-step curve and the research's per-training curves."""
    curve, best = [], -math.inf
    for trial in trials:
        if trial.ok:
            best = max(best, trial.reward)
        curve.append(best)
    return curve


def trials_table(trials: list[Trial], markdown: bool = False) -> str:
    """Reward, accuracy, latency, params, MACs and architecture of ``trials``, one per row (and
    the searched KD hyper-parameters, when the search chose them)."""
    searched = sorted({k for t in trials for k in (t.kd or {})}, reverse=True)
    head = ["#", "reward", "val acc", "latency ms", "params k", "MMACs", "step",
            *[SHORT.get(k, k) for k in searched], "architecture"]
    rows = [[str(i + 1), fraction(t.reward), fraction(t.val_acc),
             number(t.latency_ms, 3), number(t.params / 1e3, 1),
             number(t.macs / 1e6, 2), str(t.step),
             *[number((t.kd or {}).get(k), 2) for k in searched], t.arch]
            for i, t in enumerate(trials)]
    if markdown:
        lines = [head, ["---"] * len(head)] + [r[:-1] + [f"`{r[-1]}`"] for r in rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head) - 1)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) + "  " + r[-1]
                     for r in [head] + rows)


def family_summary(trials: list[Trial]) -> dict | None:
    """autokd's result: the family with the highest mean reward over its trained members, its
    parameters, its best member, and the spread of its members' accuracies (is every student of
    the right family good?), beside the mean spread within all families; None without families."""
    families: dict[int, list[Trial]] = {}
    for trial in trials:
        if trial.family is not None and trial.ok:
            families.setdefault(trial.family["index"], []).append(trial)
    if not families:
        return None
    index, members = max(families.items(), key=lambda item: (
        sum(t.reward for t in item[1]) / len(item[1]), -item[0]))
    accuracies = [t.val_acc for t in members]
    spreads = [max(t.val_acc for t in group) - min(t.val_acc for t in group)
               for group in families.values() if len(group) > 1]
    return {"index": index, "parameters": members[0].family["parameters"],
            "mean_reward": sum(t.reward for t in members) / len(members),
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
             f"  its best member: {summary['best_member'].arch}"]
    return lines
