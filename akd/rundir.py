"""The run directory: the files other tools read, written so that a crash loses nothing.

* ``config.yaml``: the resolved config, written atomically.
* ``trials.jsonl``: one JSON object per finished candidate, appended, flushed and fsynced as each
  finishes. A line cut short by ``kill -9`` is the only damage a crash can do; reading the file
  cuts it off again so that appends stay well-formed, and that candidate is evaluated again.
* ``checkpoints/<arm>.pt``: controller state and step per arm, written to a temporary file and
  renamed, so a checkpoint is always either the old one or the new one, never half of each.
* ``tensorboard/<arm>/``: one TensorBoard run per arm, so the arms' curves overlay.
* ``final_runs.jsonl`` and ``weights/``: each final-stage training's record, and the state dict
  of each that succeeded (written like a checkpoint).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import torch


class RunDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.trials = self.path / "trials.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.tensorboard = self.path / "tensorboard"
        self.final_runs = self.path / "final_runs.jsonl"

    def create(self) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.tensorboard.mkdir(parents=True, exist_ok=True)

    def read_trials(self) -> list[dict]:
        return self.read_lines(self.trials)

    def append_trial(self, record: dict) -> None:
        self.append_line(self.trials, record)

    @staticmethod
    def read_lines(path: Path, repair: bool = True) -> list[dict]:
        """Every complete line of a JSON Lines file; a torn last line is cut off the file
        (``repair=False``, for readers such as the report: ignored, the file left as it is)."""
        if not path.exists():
            return []
        data = path.read_bytes()
        complete = data[:data.rfind(b"\n") + 1]
        if len(complete) < len(data) and repair:
            warnings.warn(f"{path}: dropping a line cut short by a crash; that work is done "
                          "again", stacklevel=2)
            with open(path, "r+b") as handle:
                handle.truncate(len(complete))
        return [json.loads(line) for line in complete.decode().splitlines() if line.strip()]

    @staticmethod
    def append_line(path: Path, record: dict) -> None:
        """Append one JSON line, flushed and fsynced before returning."""
        line = json.dumps(_json_safe(record)) + "\n"
        with open(path, "a") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def write_lines(path: Path, records: list[dict]) -> None:
        """Replace a JSON Lines file with ``records``, atomically."""
        _write_text(path, "".join(json.dumps(_json_safe(r)) + "\n" for r in records))

    @staticmethod
    def write_json(path: Path, value: dict) -> None:
        """Write ``value`` atomically (temporary file, then rename)."""
        _write_text(path, json.dumps(_json_safe(value), indent=1) + "\n")

    def save_checkpoint(self, arm: str, state: dict) -> None:
        save_atomic(state, self.checkpoints / f"{arm}.pt")

    def load_checkpoint(self, arm: str) -> dict | None:
        path = self.checkpoints / f"{arm}.pt"
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any unreadable file: say which and stop
            raise ValueError(f"checkpoint {path} cannot be read ({error}); it was not written by "
                             "akd or is damaged") from None


def save_atomic(value, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: the file is whole, old or new (and two
    processes writing the same file at once never write into each other's partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(value, partial)
    os.replace(partial, path)


def _write_text(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _json_safe(value):
    # JSON has no NaN: a missing number is null
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
