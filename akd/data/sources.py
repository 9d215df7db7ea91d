"""The dataset registry: a dataset is one file whose loader is registered by name.

A loader takes the data config and the cache directory and returns the decoded images as uint8
(N, C, H, W) tensors (float for generated data) with their labels and the class names (or their
number, where the data names none);
:mod:`akd.data.datasets` does the rest (the prepared copy, scaling, normalisation, splits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from search_spaces import Registry

from ..common.fields import option
from ..errors import DataError

# (train images, train labels), (test images, test labels), the class names in label order (or
# just their number, for data whose classes have no names)
Decoded = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor],
                tuple[str, ...] | int]


# auto sizes: Fashion-MNIST's and CIFAR's (5,000 and 10,000 images, as before sizes scaled),
# scaled down to a tenth and all of a smaller folder
AUTO_VAL_CAP, AUTO_PROXY_CAP = 5000, 10000


@dataclass(frozen=True)
class DataConfig:
    name: str = option("fashion_mnist", help="a registered dataset: fashion_mnist, cifar10, "
                                             "cifar100, imagefolder or synthetic")
    root: str | None = option(None, help="where the files are; None: the Debian folder, then "
                                         "download")
    val_size: int | float | str = option(
        "auto", help="training images held out for the search reward (and the final stage's "
                     "stopping): a count, a fraction of the training images (0.1), or auto: a "
                     f"tenth of them, at most {AUTO_VAL_CAP:,}")
    proxy_size: int | float | str = option(
        "auto", help="training images a candidate is trained on in the search: a count, a "
                     "fraction of the training images left after validation, 0 for all, or auto: "
                     f"all of them up to {AUTO_PROXY_CAP:,}")
    split_seed: int = option(0, help="seed of the train / validation split and the proxy subset")
    image_size: int | None = option(None, help="imagefolder only: resize images to this square "
                                               "size; null: use them at their own size (all must "
                                               "have the same)")
    channels: int | str = option("auto", help="imagefolder only: 1 (grayscale), 3 (RGB), or auto: "
                                              "1 when every image of the folder is grayscale, else "
                                              "3 (torchvision's own ImageFolder makes every image "
                                              "RGB)")
    download: bool = option(True, help="let torchvision download when no local copy is found")

    def __post_init__(self) -> None:
        if self.channels not in ("auto", 1, 3):
            raise ValueError(f"data.channels = {self.channels!r}; allowed: auto, 1, 3")
        if self.channels != "auto" and self.name != "imagefolder":
            raise ValueError(f"data.channels = {self.channels} is for the imagefolder dataset; "
                             f"{self.name} has its own channels (leave it auto)")
        for key, value, zero in (("val_size", self.val_size, False),
                                 ("proxy_size", self.proxy_size, True)):
            if not _is_size(value, zero):
                raise ValueError(f"data.{key} = {value!r}; allowed: auto, a count >= "
                                 f"{0 if zero else 1}{' (0: all)' if zero else ''}, or a "
                                 "fraction in (0, 1)")
        if self.image_size is not None and not (
                isinstance(self.image_size, int) and self.image_size >= 1):
            raise ValueError(f"data.image_size = {self.image_size!r}; allowed: an integer >= 1, "
                             "or null for the images' own size")

    def sizes(self, images: int) -> tuple[int, int]:
        """(validation, proxy) image counts for a training set of ``images`` (proxy 0: all the
        rest), as ``val_size`` and ``proxy_size`` say; unchecked (the loader checks them)."""
        val = _count(self.val_size, images, min(AUTO_VAL_CAP, max(1, images // 10)))
        rest = images - val
        return val, _count(self.proxy_size, rest, min(AUTO_PROXY_CAP, rest))



def _is_size(value: object, zero_ok: bool) -> bool:
    if value == "auto":
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= (0 if zero_ok else 1)
    return isinstance(value, float) and 0 < value < 1


def _count(value: int | float | str, total: int, auto: int) -> int:
    if value == "auto":
        return auto
    if isinstance(value, float):
        return max(1, round(value * total))
    return value


@dataclass(frozen=True)
class DatasetSource:
    """A registered dataset: how to decode it and where its source files are."""

    name: str
    load: Callable[[DataConfig, Path], Decoded]  # (config, cache directory) -> decoded data
    # the folder whose files the decoded data comes from (config, cache directory); None for
    # generated data, which is not worth keeping a prepared copy of
    folder: Callable[[DataConfig, Path], Path] | None


_DATASETS: Registry[DatasetSource] = Registry("dataset")


def default_folder(config: DataConfig, cache: Path) -> Path:
    """``data.root``, or where torchvision downloads the dataset in the cache."""
    return Path(config.root) if config.root else cache / "datasets" / config.name


def register_dataset(name: str, folder: Callable[[DataConfig, Path], Path] | None = default_folder
                     ) -> Callable:
    """Decorator: make ``load(config, cache) -> Decoded`` the dataset ``data.name: name``."""
    def register(load: Callable[[DataConfig, Path], Decoded]) -> Callable:
        _DATASETS.register(name, DatasetSource(name, load, folder))
        return load
    return register


def available_datasets() -> list[str]:
    """The registered names, in the order they were registered."""
    return list(_DATASETS)


def dataset_source(name: str) -> DatasetSource:
    if name not in _DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(available_datasets())}")
    return _DATASETS[name]
