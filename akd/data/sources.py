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


@dataclass(frozen=True)
class DataConfig:
    name: str = option("fashion_mnist", help="a registered dataset: fashion_mnist, cifar10, "
                                             "cifar100, imagefolder or synthetic")
    root: str | None = option(None, help="where the files are; None: the Debian folder, then "
                                         "download")
    val_size: int = option(5000, help="training images held out for the search reward")
    proxy_size: int = option(10000, help="training images a candidate is trained on in the search "
                                         "(0: all)")
    split_seed: int = option(0, help="seed of the train / validation split and the proxy subset")
    image_size: int = option(32, help="imagefolder only: images are resized to this square size")
    channels: int | str = option("auto", help="imagefolder only: 1 (grayscale), 3 (RGB), or auto: "
                                              "1 when every image of the folder is grayscale, else "
                                              "3 (torchvision's own ImageFolder makes every image "
                                              "RGB)")
    download: bool = option(True, help="let torchvision download when no local copy is found")

    def __post_init__(self) -> None:
        if self.channels not in ("auto", 1, 3):
            raise ValueError(f"data.channels = {self.channels!r}; allowed: auto, 1, 3")


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
