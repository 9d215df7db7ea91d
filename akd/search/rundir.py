"""The run directory: the files other tools read, written so that a crash loses nothing.

* ``config.yaml``: the resolved config, written atomically.
* ``trials.jsonl``: one JSON object per finished candidate (:class:`~akd.search.trial.Trial`),
  screened-out ones (status ``predicted``) included,
  appended, flushed and fsynced as each finishes. A line cut short by ``kill -9`` is the only
  damage a crash can do; reading the file cuts it off again so that appends stay well-formed, and
  that candidate is evaluated again.
* ``checkpoints/<arm>.pt``: controller state and step per arm, written to a temporary file and
  renamed, so a checkpoint is always either the old one or the new one, never half of each.
* ``tensorboard/<arm>/``: one TensorBoard run per arm, so the arms' curves overlay.
* ``final_runs.jsonl`` and ``weights/``: each final-stage training's record, and the state dict
  of each that succeeded (written like a checkpoint).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..common import io
from ..errors import CheckpointError, DataError
from .trial import Trial


class RunDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.trials = self.path / "trials.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.chains = self.checkpoints / "rungs"  # a multi-fidelity search's trainings to continue
        self.tensorboard = self.path / "tensorboard"
        self.final_runs = self.path / "final_runs.jsonl"

    def create(self) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.tensorboard.mkdir(parents=True, exist_ok=True)

    def read_trials(self, repair: bool = True, predicted: bool = False) -> list[Trial]:
        """The recorded trials in the order they finished: the trained ones, and with
        ``predicted`` also the candidates screening told a predicted reward. A record that is
        not a trial is damage akd did not do: :class:`DataError` naming it."""
        trials = []
        for number, record in enumerate(self.read_records(repair), start=1):
            try:
                trials.append(Trial.from_json(record))
            except (ValueError, TypeError) as error:
                raise DataError(f"{self.trials} record {number} is {error}; the file is damaged: "
                                "restore it from a copy, or delete that line and --resume to "
                                "redo its work") from None
        return trials if predicted else [t for t in trials if t.trained]

    def read_records(self, repair: bool = True) -> list[dict]:
        """The lines of ``trials.jsonl`` as JSON objects, trials or not (a reader that reports
        on damage rather than refusing it)."""
        return io.read_lines(self.trials, repair)

    def append_trial(self, trial: Trial) -> None:
        io.append_line(self.trials, trial.to_json())

    def save_checkpoint(self, arm: str, state: dict) -> None:
        io.save_atomic(state, self.checkpoints / f"{arm}.pt")

    def load_checkpoint(self, arm: str) -> dict | None:
        path = self.checkpoints / f"{arm}.pt"
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any unreadable file: say which and stop
            raise CheckpointError(f"checkpoint {path} cannot be read ({error}); it was not "
                                  "written by akd or is damaged") from None
