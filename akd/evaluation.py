"""Evaluating one candidate: proxy training, with KD (akd arm) or labels only (nas arm).

Everything a candidate needs besides its architecture (the dataset, the teacher's cached logits)
is a :class:`Workspace`, loaded once per process and kept: the search driver builds it first
(training the teacher and filling the logit cache when they are missing), so evaluator workers only
ever read caches. ``evaluate`` never raises for a bad candidate: an exception or a diverging loss
comes back as a failed :class:`Outcome` with the error, so the search goes on.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from search_spaces import Architecture, build_model, count_cost

from .config import RunConfig
from .data import Dataset, Split, default_cache_dir, load_dataset
from .latency_lock import CoreLock
from .logit_cache import CachedTeacher
from .rundir import save_atomic
from .teachers import Teacher, load_teacher
from .trainer import TrainConfig, train


@dataclass(frozen=True)
class Task:
    """One candidate to evaluate, as the driver hands it to an evaluator."""

    arm: str  # "akd" or "nas"
    step: int  # controller step that asked for it
    index: int  # position in that step's batch
    candidate_id: int  # the controller's id of the candidate
    decisions: list[int]  # the controller's decisions
    arch: str  # the architecture string they decode to


@dataclass(frozen=True)
class Outcome:
    status: str  # "ok" or "failed"
    accuracy: float | None  # on the task's evaluation split (validation, or test in the final
    # stage); None when failed
    params: int | None  # parameters of the student
    flops: int | None  # multiply-accumulates at batch 1 (fvcore)
    error: str | None  # why it failed
    seconds: float  # wall time of the whole evaluation in the worker


@dataclass
class Workspace:
    config: RunConfig
    dataset: Dataset
    teacher: Teacher | None  # None when nothing distils
    signal: CachedTeacher | None  # the teacher's logits of the proxy split (akd arm)
    final_train: Split | None = None  # the final stage's training images
    final_signal: CachedTeacher | None = None  # the teacher's logits of them (KD runs)

    def training(self, arm: str) -> TrainConfig:
        """Proxy training of ``arm``: the configured KD for akd, labels only for nas."""
        alpha = self.config.proxy.alpha if arm == "akd" else 0.0
        return dataclasses.replace(self.config.proxy, alpha=alpha, seed=self.config.search.seed)


_WORKSPACES: dict[str, Workspace] = {}  # per process, keyed by the config


def cache_dir(config: RunConfig) -> Path:
    return Path(config.cache_dir) if config.cache_dir else default_cache_dir()


def workspace(config: RunConfig) -> Workspace:
    """The dataset and teacher logits of ``config``, loaded on first use in this process."""
    key = json.dumps(config.to_dict(), sort_keys=True)
    if key not in _WORKSPACES:
        _WORKSPACES[key] = _load_workspace(config)
    return _WORKSPACES[key]


def _load_workspace(config: RunConfig) -> Workspace:
    cache = cache_dir(config)
    space = Workspace(config, load_dataset(config.data, cache), None, None)
    if "akd" in config.search.arms:
        space.teacher = load_teacher(config.teacher, space.dataset, cache,
                                     progress=config.progress)
        space.signal = CachedTeacher(space.teacher, space.dataset.proxy, config.proxy, cache,
                                     progress=config.progress)
        space.signal.fill(config.proxy.epochs)  # now, before any worker reads the cache
    return space


def final_workspace(config: RunConfig) -> Workspace:
    """The workspace with the final stage's training images and their teacher logits added
    (only the final stage pays for the logits of the whole training set)."""
    space = workspace(config)
    if space.final_signal is None:
        cache = cache_dir(config)
        if space.teacher is None:
            space.teacher = load_teacher(config.teacher, space.dataset, cache,
                                         progress=config.progress)
        train_split = space.dataset.train
        if config.final.train_images > 0:  # the training split is in seeded random order
            train_split = train_split.subset(
                torch.arange(min(config.final.train_images, len(train_split))))
        space.final_train = train_split
        space.final_signal = CachedTeacher(space.teacher, train_split, config.final.training,
                                           cache, progress=config.progress)
        space.final_signal.fill(config.final.training.epochs)
    return space


def evaluate(task: Task, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student on the proxy split and measure its validation accuracy."""
    def run() -> tuple:
        space = workspace(config)
        training = space.training(task.arm)
        # one seed for every candidate: the same architecture starts equal in both arms
        return (space.dataset, config.search.seed, space.dataset.proxy, space.dataset.val,
                training, space.signal if training.alpha > 0 else None)

    return train_student(task.arch, run, lock)


def train_student(arch: str, setting, lock: CoreLock | None, save_to: str | None = None
                  ) -> Outcome:
    """Build ``arch`` from a seed and train it as ``setting()`` says: a function returning
    (dataset, seed, train split, evaluation split, TrainConfig, teacher signal or None), called
    inside the guard so that a failure to load counts as the candidate's failure. Never raises.
    ``save_to``: the file that keeps the trained state dict (final trainings); None: not kept."""
    start = time.perf_counter()
    try:
        data, seed, train_split, eval_split, training, signal = setting()
        parsed = Architecture.parse(arch)
        cost = count_cost(parsed, data.input_size, data.num_classes)
        torch.manual_seed(seed)
        model = build_model(parsed, data.num_classes, data.input_size[0])
        result = train(model, train_split, eval_split, training, teacher=signal, lock=lock)
        if save_to and result.status == "ok":  # on the CPU, in the default layout: loads anywhere
            save_atomic({name: tensor.detach().cpu().contiguous()
                         for name, tensor in model.state_dict().items()}, Path(save_to))
    except Exception as error:  # any candidate may fail; the search must not
        return Outcome("failed", None, None, None, describe_error(error),
                       time.perf_counter() - start)
    ok = result.status == "ok"
    return Outcome(result.status, result.accuracy if ok else None, cost.params, cost.macs,
                   result.error, time.perf_counter() - start)


def describe_error(error: Exception) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
