"""Datasets as in-memory tensors, with a fixed train / validation split and a proxy subset.

Small-image datasets fit in memory many times over, and indexing one tensor is far faster than a
DataLoader of per-sample PIL transforms on 2 CPU cores; so every source is loaded once through
torchvision's dataset class into normalised float tensors. Random augmentation is replayed from a
seed (see ``augment``), which is what lets teacher logits be cached for an augmented epoch.

The first load also keeps the decoded images (uint8) in ``<cache>/datasets/prepared/`` (see
:mod:`akd.data.prepared`), so later loads, every search worker's among them, never import
torchvision. Each dataset is registered in its own file (:mod:`akd.data.sources`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .prepared import decoded
from .sources import DataConfig, dataset_source


@dataclass
class Split:
    """Images (N, C, H, W) normalised per channel, and labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    # copies on other devices, made once and kept: a worker training many students on a GPU
    # moves its splits there once, not once per training or per batch
    _copies: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.labels)

    def on(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) on ``device``: the tensors themselves where they are, else a copy
        kept for the next call."""
        device = torch.device(device)
        if device == self.images.device:
            return self.images, self.labels
        if device not in self._copies:
            self._copies[device] = (self.images.to(device), self.labels.to(device))
        return self._copies[device]

    def subset(self, indices: torch.Tensor) -> "Split":
        return Split(self.images[indices], self.labels[indices])

    def fingerprint(self) -> str:
        """Content hash, so caches keyed on it can never serve logits of other images."""
        digest = hashlib.sha256()
        digest.update(self.images.numpy().tobytes())
        digest.update(self.labels.numpy().tobytes())
        return digest.hexdigest()[:16]


@dataclass
class Dataset:
    name: str
    num_classes: int
    train: Split  # training split (validation images removed)
    val: Split  # held-out part of the training set: the search reward
    test: Split  # the official test set: only the final stage touches it
    proxy: Split  # seeded subset of ``train`` for candidate evaluation
    # per-channel statistics of the raw training images (pixels scaled to [0, 1] for the image
    # datasets) that every split was normalised with: what a deployment must apply too
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()  # label i is class_names[i] (a folder's name, a dataset's
    # own class name, or the number as text where the data names none)
    input_size: tuple[int, int, int] = field(init=False)  # (C, H, W)

    def __post_init__(self) -> None:
        self.input_size = tuple(self.train.images.shape[1:])


def load_dataset(config: DataConfig, cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load ``config.name`` and split it; a DataError with a way out when the data is missing."""
    source = dataset_source(config.name)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    (train_images, train_labels), (test_images, test_labels), classes = decoded(
        source, config, cache)
    names = tuple(str(i) for i in range(classes)) if isinstance(classes, int) else tuple(classes)
    train_images, test_images = _as_float(train_images), _as_float(test_images)
    # in float64: a float32 sum depends on how many threads split it, and every cache key that
    # hashes these images (teachers, logits) must not depend on the thread count
    mean = train_images.double().mean(dim=(0, 2, 3), keepdim=True).float()
    std = train_images.double().std(dim=(0, 2, 3), keepdim=True).float().clamp_min(1e-6)
    full = Split((train_images - mean) / std, train_labels)
    test = Split((test_images - mean) / std, test_labels)
    val_size, proxy_size = config.sizes(len(full))
    if not 0 < val_size < len(full):
        raise DataError(f"data.val_size = {config.val_size} gives {val_size} validation images; "
                        f"it must give 1..{len(full) - 1} for {config.name} ({len(full)} "
                        "training images)")
    train_indices, val_indices = split_indices(len(full), val_size, config.split_seed)
    train, val = full.subset(train_indices), full.subset(val_indices)
    if proxy_size > len(train):
        raise DataError(f"data.proxy_size = {config.proxy_size} is more than the {len(train)} "
                        f"training images of {config.name} (after {val_size} are held out for "
                        f"validation); use at most {len(train)}, a fraction, or 0 for all")
    # ``train`` is already in seeded random order, so its head is a seeded random subset.
    proxy_size = proxy_size or len(train)
    proxy = Split(train.images[:proxy_size], train.labels[:proxy_size])
    return Dataset(config.name, len(names), train, val, test, proxy,
                   tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()), names)


def split_indices(num_images: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded disjoint (train, validation) indices; train keeps the permuted order."""
    order = torch.from_numpy(np.random.default_rng(seed).permutation(num_images))
    return order[val_size:], order[:val_size]


def default_cache_dir() -> Path:
    """Where teachers, logits and prepared datasets are kept: $AKD_CACHE or ~/.cache/akd."""
    return Path(os.environ.get("AKD_CACHE", Path.home() / ".cache" / "akd"))


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1]: image loaders give uint8 (N, C, H, W); synthetic data is float already."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images
