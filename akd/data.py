"""Datasets as in-memory tensors, with a fixed train / validation split and a proxy subset.

Small-image datasets fit in memory many times over, and indexing one tensor is far faster than a
DataLoader of per-sample PIL transforms on 2 CPU cores; so every source is loaded once through
torchvision's dataset class into normalised float tensors. Random augmentation is replayed from a
seed (see ``augment``), which is what lets teacher logits be cached for an augmented epoch.

The first load also keeps the decoded images (uint8) in ``<cache>/datasets/prepared/``, keyed on
the dataset's settings and the names, sizes and times of its source files; later loads, every
search worker's among them, read that copy instead and never import torchvision (1.3 s each).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .rundir import save_atomic

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte")
DATASETS = ("fashion_mnist", "cifar10", "cifar100", "imagefolder", "synthetic")
_PREPARED_FORMAT = 1  # raise when what the loaders return changes: old prepared copies go unused


@dataclass(frozen=True)
class DataConfig:
    name: str = "fashion_mnist"  # one of DATASETS
    root: str | None = None  # where the files are; None: the Debian folder, then download
    val_size: int = 5000  # training images held out for the search reward
    proxy_size: int = 10000  # training images a candidate is trained on in the search (0: all)
    split_seed: int = 0  # seed of the train / validation split and the proxy subset
    image_size: int = 32  # imagefolder only: images are resized to this square size
    download: bool = True  # let torchvision download when no local copy is found


@dataclass
class Split:
    """Images (N, C, H, W) normalised per channel, and labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

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
    input_size: tuple[int, int, int] = field(init=False)  # (C, H, W)

    def __post_init__(self) -> None:
        self.input_size = tuple(self.train.images.shape[1:])


def load_dataset(config: DataConfig, cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load ``config.name`` and split it; ValueError with a way out when the data is missing."""
    if config.name not in DATASETS:
        raise ValueError(f"unknown dataset {config.name!r}; allowed: {', '.join(DATASETS)}")
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    (train_images, train_labels), (test_images, test_labels), classes = _decoded(config, cache)
    train_images, test_images = _as_float(train_images), _as_float(test_images)
    # in float64: a float32 sum depends on how many threads split it, and every cache key that
    # hashes these images (teachers, logits) must not depend on the thread count
    mean = train_images.double().mean(dim=(0, 2, 3), keepdim=True).float()
    std = train_images.double().std(dim=(0, 2, 3), keepdim=True).float().clamp_min(1e-6)
    full = Split((train_images - mean) / std, train_labels)
    test = Split((test_images - mean) / std, test_labels)
    if not 0 < config.val_size < len(full):
        raise ValueError(f"data.val_size = {config.val_size} must be in 1..{len(full) - 1} for "
                         f"{config.name} ({len(full)} training images)")
    train_indices, val_indices = split_indices(len(full), config.val_size, config.split_seed)
    train, val = full.subset(train_indices), full.subset(val_indices)
    # ``train`` is already in seeded random order, so its head is a seeded random subset.
    proxy_size = min(config.proxy_size or len(train), len(train))
    proxy = Split(train.images[:proxy_size], train.labels[:proxy_size])
    return Dataset(config.name, classes, train, val, test, proxy,
                   tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))


def _decoded(config: DataConfig, cache: Path):
    """The loader's images and labels, from the prepared copy when the source is unchanged."""
    if config.name == "synthetic":  # generated in milliseconds: nothing to keep
        return _LOADERS[config.name](config, cache)
    path = _prepared_path(config, cache)
    if path is not None and path.exists():
        try:
            kept = torch.load(path, map_location="cpu", weights_only=True)
            return ((kept["train_images"], kept["train_labels"]),
                    (kept["test_images"], kept["test_labels"]), kept["classes"])
        except Exception:  # a damaged copy: decode the source again and replace it
            pass
    (train_images, train_labels), (test_images, test_labels), classes = _LOADERS[config.name](
        config, cache)
    path = _prepared_path(config, cache)  # a download has just created the source files
    if path is not None and train_images.dtype == torch.uint8:
        save_atomic({"train_images": train_images, "train_labels": train_labels,
                     "test_images": test_images, "test_labels": test_labels,
                     "classes": classes}, path)
        for stale in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.pt"):
            if stale != path:  # of an older version of the same source
                stale.unlink(missing_ok=True)
    return (train_images, train_labels), (test_images, test_labels), classes


def _prepared_path(config: DataConfig, cache: Path) -> Path | None:
    """``<cache>/datasets/prepared/<name>-<source>-<signature>.pt``: the source folder's hash,
    then one of the settings that shape the images and every source file's name, size and
    modification time; None when there is no source on disk yet."""
    if config.root:
        folder = Path(config.root)
    elif config.name == "fashion_mnist" and DEBIAN_FASHION_MNIST.is_dir():
        folder = DEBIAN_FASHION_MNIST
    else:
        folder = cache / "datasets" / config.name  # where torchvision downloads it
    files = []
    for parent, _, names in os.walk(folder, followlinks=True):
        for name in names:
            stat = (Path(parent) / name).stat()
            files.append((str(Path(parent, name).relative_to(folder)), stat.st_size,
                          stat.st_mtime_ns))
    if not files:
        return None
    source = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    signature = hashlib.sha256(repr((_PREPARED_FORMAT, config.image_size, sorted(files)))
                               .encode()).hexdigest()[:16]
    return cache / "datasets" / "prepared" / f"{config.name}-{source}-{signature}.pt"


def split_indices(num_images: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded disjoint (train, validation) indices; train keeps the permuted order."""
    order = torch.from_numpy(np.random.default_rng(seed).permutation(num_images))
    return order[val_size:], order[:val_size]


def default_cache_dir() -> Path:
    """Where teachers, logits and prepared datasets are kept: $AKD_CACHE or ~/.cache/akd."""
    return Path(os.environ.get("AKD_CACHE", Path.home() / ".cache" / "akd"))


def _fashion_mnist(config: DataConfig, cache: Path):
    from torchvision.datasets import FashionMNIST

    root = cache / "datasets" / "fashion_mnist"
    source = Path(config.root) if config.root else DEBIAN_FASHION_MNIST
    local = _prepare_idx_root(source, root / "FashionMNIST" / "raw")
    if not local and config.root:
        raise ValueError(f"data.root {config.root!r} has no Fashion-MNIST IDX files "
                         f"({', '.join(_IDX_FILES)}, optionally .gz); point it at the folder "
                         "that holds them")
    if not local and not config.download:
        raise ValueError(_missing_fashion_mnist())
    try:
        train = FashionMNIST(root, train=True, download=not local)
        test = FashionMNIST(root, train=False, download=not local)
    except Exception as error:  # torchvision raises RuntimeError offline, AssertionError on junk
        if local:
            raise ValueError(f"the Fashion-MNIST files in {str(source)!r} are unreadable "
                             f"({type(error).__name__}: {error}); replace them") from None
        raise ValueError(f"{_missing_fashion_mnist()} ({error})") from None
    return (train.data.unsqueeze(1), train.targets), (test.data.unsqueeze(1), test.targets), 10


def _missing_fashion_mnist() -> str:
    return ("Fashion-MNIST not found: install the Debian package (apt-get install "
            "dataset-fashion-mnist), set data.root to a folder with its IDX files, or go online "
            "so torchvision can download it")


def _prepare_idx_root(source: Path, raw: Path) -> bool:
    """Give torchvision its ``FashionMNIST/raw`` layout from a folder of (gzipped) IDX files."""
    nested = source / "FashionMNIST" / "raw"
    if all((nested / name).exists() for name in _IDX_FILES):
        source = nested
    found = {}
    for name in _IDX_FILES:
        for candidate in (source / name, source / f"{name}.gz"):
            if candidate.exists():
                found[name] = candidate
    if len(found) < len(_IDX_FILES):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        target = raw / name
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        partial = target.with_suffix(".partial")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.replace(target)  # atomic: a killed copy never looks like a finished file
    return True


def _cifar(config: DataConfig, cache: Path):
    from torchvision.datasets import CIFAR10, CIFAR100

    cls, classes = (CIFAR10, 10) if config.name == "cifar10" else (CIFAR100, 100)
    root = Path(config.root) if config.root else cache / "datasets" / config.name
    try:
        train = cls(root, train=True, download=config.download)
        test = cls(root, train=False, download=config.download)
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{config.name} not found under {root} and could not be downloaded "
                         f"({error}); set data.root to a folder holding torchvision's copy") from None

    def channels_first(data: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()

    return ((channels_first(train.data), torch.tensor(train.targets)),
            (channels_first(test.data), torch.tensor(test.targets)), classes)


def _imagefolder(config: DataConfig, cache: Path):
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    if not config.root:
        raise ValueError("data.root must name a folder with train/ and test/ subfolders of "
                         "class folders for the imagefolder dataset")
    transform = transforms.Compose([transforms.Resize((config.image_size, config.image_size)),
                                    transforms.PILToTensor()])  # uint8, as the others
    splits = []
    for part in ("train", "test"):
        folder = Path(config.root) / part
        if not folder.is_dir():
            raise ValueError(f"imagefolder: {folder} is missing; data.root needs train/ and test/ "
                             "subfolders of class folders")
        data = ImageFolder(folder, transform=transform)
        images = torch.stack([image for image, _ in data])
        splits.append((images, torch.tensor(data.targets)))
    return splits[0], splits[1], len(ImageFolder(Path(config.root) / "train").classes)


def _synthetic(config: DataConfig, cache: Path):
    """Learnable random data for tests: each class is a fixed pattern plus noise."""
    generator = torch.Generator().manual_seed(config.split_seed)
    classes, shape = 10, (1, 16, 16)
    patterns = torch.randn(classes, *shape, generator=generator)

    def make(n: int):
        labels = torch.randint(0, classes, (n,), generator=generator)
        return patterns[labels] + 0.8 * torch.randn(n, *shape, generator=generator), labels

    return make(2400), make(600), classes


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1]: image loaders give uint8 (N, C, H, W); synthetic data is float already."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


_LOADERS = {"fashion_mnist": _fashion_mnist, "cifar10": _cifar, "cifar100": _cifar,
            "imagefolder": _imagefolder, "synthetic": _synthetic}
