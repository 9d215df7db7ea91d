"""What a user watches in TensorBoard: per-step curves of each arm, its best students, and
every trial in the HParams dashboard.

Each arm writes its own TensorBoard run (``tensorboard/akd``, ``tensorboard/nas``) with the same
tags, so opening the run directory overlays the two arms' curves. Each recorded trial is also a
session of TensorBoard's HParams dashboard (a run of its own, ``tensorboard/<arm>/trials/<id>``):
its decisions by name (``b3.kernel``...), searched KD settings, family, step and status as
hyper-parameters, its accuracy, latency, reward, params and MACs as metrics, so that trials can
be sorted, filtered and scattered as in Optuna's or NNI's dashboards.
"""

from __future__ import annotations

import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from search_spaces import SearchSpace

from .trial import Trial, TrialStatus, top_trials, trials_table

# a trial's field -> the HParams dashboard's metric tag
TRIAL_METRICS = {"val_acc": "trial/val_acc", "latency_ms": "trial/latency_ms",
                 "reward": "trial/reward", "params": "trial/params", "macs": "trial/macs",
                 "predicted_acc": "trial/predicted_acc"}


class ArmBoard:
    """The TensorBoard run of one arm."""

    def __init__(self, directory: Path, purge_step: int | None = None,
                 space: SearchSpace | None = None) -> None:
        # purge_step: a resumed run hides what the killed one logged from that step on
        self.writer = SummaryWriter(str(directory), purge_step=purge_step)
        self.directory, self.space = Path(directory), space

    def log_trial(self, trial: Trial) -> None:
        """``trial`` as an HParams session (its own run under ``trials/``)."""
        values = trial_hparams(trial, self.space)
        measured = {tag: getattr(trial, field) for field, tag in TRIAL_METRICS.items()}
        metrics = {tag: float(value) for tag, value in measured.items()
                   if value is not None and math.isfinite(value)}
        domains = {d.name: list(d.values) for d in self.space.decisions} if self.space else {}
        domains["status"] = [status.value for status in TrialStatus]
        experiment, start, end = hparams(values, {tag: 0.0 for tag in TRIAL_METRICS.values()},
                                         {k: v for k, v in domains.items() if k in values})
        name = f"{trial.candidate_id:05d}"  # a multi-fidelity search: one run per training
        if trial.rung is not None:
            name += f"-rung{trial.rung}-seed{trial.seed}"
        with SummaryWriter(str(self.directory / "trials" / name)) as w:
            for summary in (experiment, start, end):
                w.file_writer.add_summary(summary)
            for tag, value in metrics.items():
                w.add_scalar(tag, value, 0)

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, step)

    def log_step(self, step: int, batch: list[Trial], trials: list[Trial],
                 controller_stats: dict[str, float], top_k: int,
                 screened_out: list[Trial] | None = None) -> None:
        """Scalars of one controller step: ``batch`` its trained trials, ``trials`` all trained
        so far, ``screened_out`` the step's predicted ones when the search screens."""
        ok = [t for t in batch if t.ok]
        rewards = [t.reward for t in batch]
        scalars = {"reward/mean": sum(rewards) / len(rewards), "reward/max": max(rewards),
                   "reward/best_so_far": max(t.reward for t in trials),
                   "candidates/failed": len(batch) - len(ok)}
        if ok:
            scalars.update({
                "accuracy/val_mean": sum(t.val_acc for t in ok) / len(ok),
                "accuracy/val_max": max(t.val_acc for t in ok),
                "latency/mean_ms": sum(t.latency_ms for t in ok) / len(ok)})
        if screened_out is not None:
            scalars["candidates/screened_out"] = len(screened_out)
            pairs = [(t.predicted_acc, t.val_acc) for t in ok
                     if t.predicted_acc is not None]
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


def trial_hparams(trial: Trial, space: SearchSpace | None) -> dict:
    """A trial's hyper-parameters as the HParams dashboard shows them: each decision's value by
    the decision's name (its index when the space is not known), then the searched KD settings,
    autokd's family, the step, a multi-fidelity training's rung and seed, and the status."""
    names = [d.name for d in space.decisions] if space else [
        f"decision{i}" for i in range(len(trial.decisions))]
    values = {}
    for i, (name, index) in enumerate(zip(names, trial.decisions)):
        value = space.decisions[i].values[index] if space else index
        values[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    for key, value in (trial.kd or {}).items():
        values[f"kd.{key}"] = float(value)
    if trial.family is not None:
        values["family"] = int(trial.family["index"])
    values["step"] = int(trial.step)
    if trial.rung is not None:
        values["rung"], values["seed"] = int(trial.rung), int(trial.seed)
    values["status"] = trial.status.value
    return values
