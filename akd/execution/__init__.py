"""Where tasks run: the evaluator interface and its backends (serial, process pool, Ray), the
workspace a worker holds, and training one student for any stage."""

from __future__ import annotations

from ..common.cores import CoreLock
from ..config import RunConfig
from .base import MAX_RETRIES, Evaluator, SlotEvaluator, Work, WorkerDied
from .process import ProcessEvaluator
from .serial import SerialEvaluator
from .training import Outcome, Part, describe_error, train_student
from .workspace import Workspace, final_workspace, workspace

__all__ = ["MAX_RETRIES", "Evaluator", "Outcome", "Part", "ProcessEvaluator", "SerialEvaluator",
           "SlotEvaluator", "Work", "WorkerDied", "Workspace", "describe_error", "final_workspace",
           "make_evaluator", "train_student", "workspace"]


def make_evaluator(config: RunConfig, work: Work, lock: CoreLock | None = None) -> Evaluator:
    """The backend ``config.evaluator.backend`` names, running ``work`` on each task: the one
    place that picks a backend."""
    if config.evaluator.backend == "process":
        return ProcessEvaluator(config, work, lock)
    if config.evaluator.backend == "ray":
        from .ray_backend import RayEvaluator  # Ray is an optional dependency
        return RayEvaluator(config, work, lock)
    return SerialEvaluator(config, work, lock)
