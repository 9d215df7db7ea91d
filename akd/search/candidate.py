"""Evaluating one search candidate: proxy training with KD or labels only, as its arm says."""

from __future__ import annotations

import dataclasses

from ..common.cores import CoreLock
from ..config import RunConfig
from ..execution import Outcome, train_student, workspace
from .trial import Task


def evaluate_candidate(task: Task, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student on the proxy split and measure its validation accuracy: the
    search's work for the evaluator."""
    def setting() -> tuple:
        space = workspace(config)
        training = dataclasses.replace(space.training(task.arm), **(task.kd or {}))
        # one seed for every candidate: the same architecture starts equal in both arms
        return (space.dataset, config.search.seed, space.dataset.proxy, space.dataset.val,
                training, space.signal if training.alpha > 0 else None)

    return train_student(task.arch, setting, lock)
