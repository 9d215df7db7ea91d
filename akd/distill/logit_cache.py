"""Teacher outputs computed once and read back: the main speed-up of searching with KD.

Logits are keyed by a content hash of (teacher weights, the split's images, the augmentation
replay seed), so they are computed once per (teacher, split, augmentation seed) and shared by every
candidate of a search, both arms' final stages and later runs. Candidate training then indexes a
tensor instead of running the teacher every batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from tqdm import tqdm

from ..common.io import load_cached, save_cached
from ..data import Split, apply_augment
from .teachers import Teacher
from .trainer import TeacherSignal, TrainConfig, epoch_augment, resolve_device


class CachedTeacher:
    """A :data:`TeacherSignal` that serves cached logits of ``split`` for each epoch."""

    def __init__(self, teacher: Teacher, split: Split, config: TrainConfig, cache_dir: Path,
                 batch_size: int = 1000, progress: bool = True) -> None:
        self.teacher, self.split, self.config = teacher, split, config
        self.directory = Path(cache_dir) / "logits"
        self.batch_size, self.progress = batch_size, progress
        self.split_key = split.fingerprint()
        self._logits: dict[int | None, torch.Tensor] = {}
        self._on_device: dict[tuple, torch.Tensor] = {}

    def __call__(self, epoch: int, indices: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return self._on(epoch, batch.device)[indices.to(batch.device, non_blocking=True)]

    def _on(self, epoch: int, device: torch.device) -> torch.Tensor:
        """The epoch's logits on ``device``, copied there once and kept (a GPU worker reads
        them batch after batch without a copy)."""
        logits = self.epoch_logits(epoch)
        if device == logits.device:
            return logits
        key = (self._seed(epoch), device)
        if key not in self._on_device:
            self._on_device[key] = logits.to(device)
        return self._on_device[key]

    def _seed(self, epoch: int) -> int | None:
        return self.config.augment_seed + epoch if self.config.augment_padding > 0 else None

    def fill(self, epochs: int) -> None:
        """Compute (or load) the logits of epochs 0..epochs-1 now, e.g. before workers read them."""
        for epoch in range(epochs):
            self.epoch_logits(epoch)

    def epoch_logits(self, epoch: int) -> torch.Tensor:
        """Logits for every image of the split as the student sees it in ``epoch``."""
        seed = self._seed(epoch)
        if seed not in self._logits:
            self._logits[seed] = self._load_or_compute(epoch, seed)
        return self._logits[seed]

    def _load_or_compute(self, epoch: int, seed: int | None) -> torch.Tensor:
        key = hashlib.sha256(f"{self.teacher.fingerprint}|{self.split_key}|{seed}|"
                             f"{self.config.augment_padding}".encode()).hexdigest()[:20]
        path = self.directory / f"{key}.pt"
        logits = load_cached(path)
        if logits is not None:
            return logits
        logits = self._compute(epoch)
        save_cached(logits, path)  # a killed run never leaves truncated logits behind
        return logits

    @torch.no_grad()  # not inference_mode: these logits later feed a loss that autograd saves
    def _compute(self, epoch: int) -> torch.Tensor:
        model = self.teacher.model
        device = resolve_device(self.config.device)
        model.to(device)
        augment = epoch_augment(self.config, epoch, len(self.split))
        chunks = []
        starts = range(0, len(self.split), self.batch_size)
        for start in tqdm(starts, desc="teacher logits", disable=not self.progress, leave=False):
            indices = torch.arange(start, min(start + self.batch_size, len(self.split)))
            batch = self.split.images[indices].to(device)
            if augment is not None:
                batch = apply_augment(batch, augment, indices)
            chunks.append(model(batch).float().cpu())
        return torch.cat(chunks)


def online_teacher(teacher: Teacher) -> TeacherSignal:
    """The usual KD loop: run the teacher on every batch (what the cache replaces)."""
    model = teacher.model

    @torch.no_grad()
    def signal(epoch: int, indices: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        model.to(batch.device)
        return model(batch).float()

    return signal
