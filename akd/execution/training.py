"""Training one student from a seed, for any stage: the outcome comes back, never an exception.

``train_student`` builds an architecture string's model from a seed and trains it as its caller
describes (the search's proxy training with KD or labels, the final stage's from-scratch
training); an exception or a diverging loss becomes a failed :class:`Outcome` with the error, so a
search or a final stage goes on past a bad candidate.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from search_spaces import build_model, count_cost, parse_arch

from ..common.cores import CoreLock
from ..common.io import save_atomic
from ..data import Dataset, Split
from ..distill import CachedTeacher, TrainConfig, evaluate, train


@dataclass(frozen=True)
class Outcome:
    status: str  # "ok" or "failed"
    accuracy: float | None  # on the task's evaluation split (validation, or test in the final
    # stage); None when failed
    params: int | None  # parameters of the student
    macs: int | None  # multiply-accumulates at batch 1 (fvcore)
    error: str | None  # why it failed
    seconds: float  # wall time of the whole evaluation in the worker
    test_accuracy: float | None = None  # on the test split, when the caller asked for it
    curve: dict | None = None  # the learning curve (akd.distill.Curve as a dict), when asked for
    stopping: dict | None = None  # a training with a patience: where it stopped (TrainResult's)


# (dataset, seed, train split, evaluation split, training, teacher signal or None)
Setting = tuple[Dataset, int, Split, Split, TrainConfig, CachedTeacher | None]


@dataclass(frozen=True)
class Part:
    """A training cut into parts (a rung of a multi-fidelity search): stop after ``until``
    epochs of the schedule; continue from the checkpoint file ``resume_from`` (None: from
    scratch); keep a checkpoint in ``save_to`` when it stops before the schedule's end."""

    until: int
    resume_from: Path | None = None
    save_to: Path | None = None


def train_student(arch: str, setting: Callable[[], Setting], lock: CoreLock | None,
                  save_to: str | None = None,
                  test_split: Callable[[], Split] | None = None,
                  curve_every: int = 0,
                  val_split: Callable[[], Split] | None = None,
                  part: Part | None = None) -> Outcome:
    """Build ``arch`` from a seed and train it as ``setting()`` says, called inside the guard so
    that a failure to load counts as the candidate's failure. Never raises. ``save_to``: the
    file that keeps the trained state dict (final trainings); None: not kept. ``test_split``:
    a second split the trained model is also evaluated on (``Outcome.test_accuracy``).
    ``curve_every`` > 0: keep the learning curve (``Outcome.curve``, see :func:`train`).
    ``val_split``: the split a training with a patience stops on. ``part``: train only up to
    an epoch of the schedule, continuing from (and leaving) a checkpoint."""
    start = time.perf_counter()
    try:
        data, seed, train_split, eval_split, training, signal = setting()
        parsed = parse_arch(arch)
        cost = count_cost(parsed, data.input_size, data.num_classes)
        torch.manual_seed(seed)
        model = build_model(parsed, data.num_classes, data.input_size[0])
        resume = None
        if part is not None and part.resume_from is not None:
            if not part.resume_from.exists():
                raise FileNotFoundError(f"the checkpoint {part.resume_from} it continues from "
                                        "is gone")
            saved = torch.load(part.resume_from, weights_only=True)
            model.load_state_dict(saved["model"])
            resume = saved["state"]
        result = train(model, train_split, eval_split, training, teacher=signal, lock=lock,
                       curve_every=curve_every, val_split=val_split() if val_split else None,
                       until=part.until if part else None, resume=resume)
        if part is not None and part.save_to is not None and result.state is not None:
            save_atomic({"model": _on_cpu(model.state_dict()), "state": _on_cpu(result.state)},
                        part.save_to)
        test_accuracy = None
        if test_split is not None and result.status == "ok":
            test_accuracy = evaluate(model, test_split())  # on the device it was trained on
        if save_to and result.status == "ok":  # on the CPU, in the default layout: loads anywhere
            save_atomic(_on_cpu(model.state_dict()), Path(save_to))
    except Exception as error:  # any candidate may fail; the search must not
        return Outcome("failed", None, None, None, describe_error(error),
                       time.perf_counter() - start)
    ok = result.status == "ok"
    return Outcome(result.status, result.accuracy if ok else None, cost.params, cost.macs,
                   result.error, time.perf_counter() - start, test_accuracy,
                   result.curve.to_dict() if result.curve else None, result.stopping)


def _on_cpu(value):
    """``value`` with every tensor in it on the CPU, in the default layout (loads anywhere)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def describe_error(error: Exception) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
