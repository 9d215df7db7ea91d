"""The prepared copy of a dataset: its decoded images kept in the cache, so that later loads
(every search worker's among them) read one file instead of decoding the source with torchvision
in every process (seconds each; docs/results.md has the measured figure and its machine).

``<cache>/datasets/prepared/<name>-<source>-<signature>.pt`` is keyed on the source folder and on
the names, sizes and modification times of its files, so a changed source is decoded again (and
the old copy removed), and a damaged copy is moved aside, decoded again and replaced.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ..common.io import load_cached, save_cached
from .sources import DataConfig, DatasetSource, Decoded

PREPARED_FORMAT = 2  # raise when what the loaders return changes: old prepared copies go unused
# (2: the class names instead of their number)


def decoded(source: DatasetSource, config: DataConfig, cache: Path) -> Decoded:
    """The loader's images and labels, from the prepared copy when the source is unchanged."""
    if source.folder is None:  # generated in milliseconds: nothing to keep
        return source.load(config, cache)
    path = prepared_path(source, config, cache)
    kept = load_cached(path) if path is not None else None  # a damaged copy: decode again
    if kept is not None:
        return ((kept["train_images"], kept["train_labels"]),
                (kept["test_images"], kept["test_labels"]), kept["classes"])
    (train_images, train_labels), (test_images, test_labels), classes = source.load(config, cache)
    path = prepared_path(source, config, cache)  # a download has just created the source files
    if path is not None and train_images.dtype == torch.uint8:
        save_cached({"train_images": train_images, "train_labels": train_labels,
                     "test_images": test_images, "test_labels": test_labels,
                     "classes": classes}, path)
        for stale in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.pt*"):
            if not stale.name.startswith(path.name):  # of an older version of the same source
                stale.unlink(missing_ok=True)
    return (train_images, train_labels), (test_images, test_labels), classes


def prepared_path(source: DatasetSource, config: DataConfig, cache: Path) -> Path | None:
    """Where the prepared copy of the source's current files is: the source folder's hash, then
    one of the settings that shape the images, every source file's name, size and modification
    time and every subfolder's name; None when there is no source on disk yet."""
    folder = source.folder(config, cache)
    files = []
    for parent, folders, names in os.walk(folder, followlinks=True):
        # the folders too: an added or emptied class folder changes the dataset without a file
        files += [(str(Path(parent, name).relative_to(folder)) + "/", 0, 0) for name in folders]
        for name in names:
            stat = (Path(parent) / name).stat()
            files.append((str(Path(parent, name).relative_to(folder)), stat.st_size,
                          stat.st_mtime_ns))
    if not files:
        return None
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    signature = hashlib.sha256(repr((PREPARED_FORMAT, config.image_size, config.channels,
                                     sorted(files)))
                               .encode()).hexdigest()[:16]
    return cache / "datasets" / "prepared" / f"{config.name}-{digest}-{signature}.pt"
