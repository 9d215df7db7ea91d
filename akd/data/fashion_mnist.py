"""Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 kinds of clothing.

Read from a folder of IDX files (gzipped or not): ``data.root``, else Debian's
``dataset-fashion-mnist`` package, else torchvision downloads it into the cache.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from ..common.io import write_atomic
from ..errors import DataError
from .sources import DataConfig, Decoded, default_folder, register_dataset

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte")


def _source_folder(config: DataConfig, cache: Path) -> Path:
    if not config.root and DEBIAN_FASHION_MNIST.is_dir():
        return DEBIAN_FASHION_MNIST
    return default_folder(config, cache)


@register_dataset("fashion_mnist", folder=_source_folder)
def fashion_mnist(config: DataConfig, cache: Path) -> Decoded:
    from torchvision.datasets import FashionMNIST

    root = cache / "datasets" / "fashion_mnist"
    source = Path(config.root) if config.root else DEBIAN_FASHION_MNIST
    local = _prepare_idx_root(source, root / "FashionMNIST" / "raw")
    if not local and config.root:
        raise DataError(f"data.root {config.root!r} has no Fashion-MNIST IDX files "
                        f"({', '.join(_IDX_FILES)}, optionally .gz); point it at the folder "
                        "that holds them")
    if not local and not config.download:
        raise DataError(_missing_fashion_mnist())
    try:
        train = FashionMNIST(root, train=True, download=not local)
        test = FashionMNIST(root, train=False, download=not local)
    except Exception as error:  # torchvision raises RuntimeError offline, AssertionError on junk
        if local:
            raise DataError(f"the Fashion-MNIST files in {str(source)!r} are unreadable "
                            f"({type(error).__name__}: {error}); replace them") from None
        raise DataError(f"{_missing_fashion_mnist()} ({error})") from None
    return ((train.data.unsqueeze(1), train.targets), (test.data.unsqueeze(1), test.targets),
            tuple(FashionMNIST.classes))


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
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src:  # atomic: a killed copy never looks like a finished file
            write_atomic(target, lambda dst: shutil.copyfileobj(src, dst))
    return True
