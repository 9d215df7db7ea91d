"""Evaluating one search candidate: proxy training with KD or labels only, as its arm says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..common.cores import CoreLock
from ..config import RunConfig
from ..execution import Outcome, Part, train_student, workspace
from .trial import Task


def evaluate_candidate(task: Task, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student on the proxy split and measure its validation accuracy: the
    search's work for the evaluator. A multi-fidelity task (``task.rung`` set) trains to its
    rung's epoch of the top rung's schedule, from its chain's checkpoint where it continues one,
    leaving a checkpoint where a promotion may continue it."""
    seed = config.search.seed + (task.seed or 0)
    part = None
    if task.rung is not None:
        rungs = config.search.schedule.rungs
        directory = Path(task.checkpoints)
        part = Part(task.epochs,
                    chain_checkpoint(directory, task, task.start_epoch) if task.start_epoch
                    else None,
                    chain_checkpoint(directory, task, task.epochs)
                    if task.seed == 0 and task.epochs < rungs[-1] else None)

    def setting() -> tuple:
        space = workspace(config)
        training = dataclasses.replace(space.training(task.arm), **(task.kd or {}))
        if part is not None:  # the top rung's schedule, whichever rung this part stops at
            training = dataclasses.replace(training, epochs=config.search.schedule.rungs[-1],
                                           seed=seed)
        # one seed for every candidate: the same architecture starts equal in both arms
        return (space.dataset, seed, space.dataset.proxy, space.dataset.val,
                training, space.signal if training.alpha > 0 else None)

    return train_student(task.arch, setting, lock, part=part)


def chain_checkpoint(directory: Path, task: Task, epoch: int) -> Path:
    """Where the chain of ``task``'s candidate (seed 0, the one promotions continue) keeps its
    state after ``epoch`` epochs: one file per epoch, so that a rerun after a crash still finds
    the state it started from."""
    return directory / f"{task.arm}-{task.candidate_id}-e{epoch}.pt"


def chain_checkpoints(directory: Path, arm: str, candidate_id: int) -> list[Path]:
    """Every checkpoint a candidate's chain has left in ``directory``."""
    return sorted(directory.glob(f"{arm}-{candidate_id}-e*.pt"))
