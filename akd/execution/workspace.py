"""What every evaluation needs besides its architecture: the dataset and the teacher's logits.

A :class:`Workspace` is loaded once per process and kept: the driver builds it first (training the
teacher and filling the logit cache when they are missing), so evaluator workers only ever read
caches.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import torch

from ..arms import any_distills, arm_kind
from ..config import RunConfig, cache_dir
from ..data import Dataset, Split, load_dataset
from ..distill import CachedTeacher, Teacher, TrainConfig, load_teacher
from ..errors import DataError


@dataclass
class Workspace:
    config: RunConfig
    dataset: Dataset
    teacher: Teacher | None  # None when nothing distils
    signal: CachedTeacher | None  # the teacher's logits of the proxy split (arms that distil)
    final_train: Split | None = None  # the final stage's training images
    final_signal: CachedTeacher | None = None  # the teacher's logits of them (KD runs)
    final_test: Split | None = None  # the final stage's test images

    def training(self, arm: str) -> TrainConfig:
        """Proxy training of ``arm``: the configured KD for an arm that distils, else labels
        only."""
        alpha = self.config.proxy.alpha if arm_kind(arm).distills else 0.0
        return dataclasses.replace(self.config.proxy, alpha=alpha, seed=self.config.search.seed)


_WORKSPACES: dict[str, Workspace] = {}  # per process, keyed by the config


def workspace(config: RunConfig) -> Workspace:
    """The dataset and teacher logits of ``config``, loaded on first use in this process."""
    key = json.dumps(config.to_dict(), sort_keys=True)
    if key not in _WORKSPACES:
        _WORKSPACES[key] = _load_workspace(config)
    return _WORKSPACES[key]


def _load_workspace(config: RunConfig) -> Workspace:
    cache = cache_dir(config)
    space = Workspace(config, load_dataset(config.data, cache), None, None)
    check_final_sizes(config, space.dataset)  # now, not after the whole search
    if any_distills(config.search.arms):
        space.teacher = load_teacher(config.teacher, space.dataset, cache,
                                     progress=config.progress)
        space.signal = CachedTeacher(space.teacher, space.dataset.proxy, config.proxy, cache,
                                     progress=config.progress)
        schedule = config.search.schedule  # a multi-fidelity search trains to its top rung
        space.signal.fill(schedule.rungs[-1] if schedule.multi_fidelity else config.proxy.epochs)
        # now, before any worker reads the cache
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
            train_split = train_split.subset(torch.arange(config.final.train_images))
        space.final_train = train_split
        space.final_test = _test_sample(space.dataset.test, config.final.test_images)
        space.final_signal = CachedTeacher(space.teacher, train_split, config.final.training,
                                           cache, progress=config.progress)
        # now, before any worker reads the cache; a training with a patience may stop long
        # before its cap, so only its first epoch: a later one is computed when first reached
        training = config.final.training
        space.final_signal.fill(1 if training.patience else training.epochs)
    return space


def check_final_sizes(config: RunConfig, dataset: Dataset) -> None:
    """DataError when ``final.train_images`` or ``final.test_images`` asks for more images than
    the split holds (a typo must not silently train on everything)."""
    for key, asked, name, split in (
            ("final.train_images", config.final.train_images, "training", dataset.train),
            ("final.test_images", config.final.test_images, "test", dataset.test)):
        if asked > len(split):
            raise DataError(f"{key} = {asked} is more than the {len(split)} images of "
                            f"{dataset.name}'s {name} split; use at most {len(split)} (0: all)")


def _test_sample(test: Split, images: int) -> Split:
    """``images`` test images drawn once with a fixed seed (the file's order may be sorted by
    class), in their order; the whole split for 0."""
    if images == 0:
        return test
    chosen = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:images]
    return test.subset(chosen.sort().values)
