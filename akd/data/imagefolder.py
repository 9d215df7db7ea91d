"""Any image classification dataset on disk: ``data.root`` with ``train/`` and ``test/``
folders of class folders (torchvision's ImageFolder), used at their own size (which must then be
the same for all) or resized to ``data.image_size``.

torchvision's own loader converts every image to RGB, so a grayscale folder would cost the
students (and the exported model) three input channels and feed a grayscale teacher the wrong
shape; here a folder whose every image is grayscale loads as one channel (``data.channels:
auto``), unless ``data.channels`` says 1 or 3."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DataError
from .sources import DataConfig, Decoded, register_dataset


@register_dataset("imagefolder")
def imagefolder(config: DataConfig, cache: Path) -> Decoded:
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    if not config.root:
        raise DataError("data.root must name a folder with train/ and test/ subfolders of "
                        "class folders for the imagefolder dataset")
    resize = [transforms.Resize((config.image_size, config.image_size))] if config.image_size \
        else []
    transform = transforms.Compose([*resize, transforms.PILToTensor()])  # uint8, as the others
    folders = [Path(config.root) / part for part in ("train", "test")]
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"imagefolder: {folder} is missing; data.root needs train/ and test/ "
                            "subfolders of class folders")
        _check_class_folders(folder)
    mode = "L" if _channels(config, folders) == 1 else "RGB"
    splits, classes = [], {}
    for folder in folders:
        data = ImageFolder(folder, transform=transform, loader=lambda path: _open(path, mode))
        classes[folder.name] = data.classes
        splits.append((_stack(data), torch.tensor(data.targets)))
    (train_images, _), (test_images, _) = splits
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"imagefolder: train/ images are {_size(train_images[0])} but test/ "
                        f"images {_size(test_images[0])}; set data.image_size to resize them all "
                        "to one square size")
    if classes["train"] != classes["test"]:
        raise DataError(f"imagefolder: train/ has the classes {classes['train']} but test/ has "
                        f"{classes['test']}; both need the same class folders")
    return splits[0], splits[1], tuple(classes["train"])


def _check_class_folders(folder: Path) -> None:
    """A one-line error for what torchvision's ImageFolder would fail on with a traceback, or
    accept and train nonsense from: no class folders, one class, an empty class folder."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    found = sorted(p for p in folder.iterdir() if p.is_dir())
    if len(found) < 2:
        raise DataError(f"imagefolder: {folder} has {len(found)} class folder(s); a classifier "
                        "needs at least 2 (one folder of images per class)")
    for class_folder in found:
        if not any(p.suffix.lower() in IMG_EXTENSIONS for p in class_folder.rglob("*")
                   if p.is_file()):
            raise DataError(f"imagefolder: class folder {class_folder} holds no image "
                            f"({', '.join(IMG_EXTENSIONS[:4])}, ...); add its images or remove it")


GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "F")  # PIL's modes of one colour channel


def _channels(config: DataConfig, folders: list[Path]) -> int:
    """``data.channels``, or with ``auto`` 1 when every image is grayscale (PIL reads only the
    headers for this), else 3."""
    if config.channels != "auto":
        return config.channels
    from PIL import Image
    from torchvision.datasets.folder import IMG_EXTENSIONS

    for path in (p for folder in folders for p in sorted(folder.rglob("*"))
                 if p.suffix.lower() in IMG_EXTENSIONS):
        try:
            with Image.open(path) as image:
                if image.mode not in GRAYSCALE_MODES:
                    return 3
        except Exception as error:  # PIL's errors for unreadable files have no common base
            raise DataError(f"imagefolder: cannot read {path}: {error}") from None
    return 1


def _open(path: str, mode: str):
    from PIL import Image

    with open(path, "rb") as handle:
        return Image.open(handle).convert(mode)


def _stack(data) -> torch.Tensor:
    """The images as one tensor; a one-line error naming an image that cannot be read."""
    images = []
    for index, (path, _) in enumerate(data.samples):
        try:
            images.append(data[index][0])
        except Exception as error:  # PIL's errors for unreadable files have no common base
            raise DataError(f"imagefolder: cannot read {path}: {error}") from None
        if images[-1].shape != images[0].shape:
            raise DataError(f"imagefolder: images differ in size: {data.samples[0][0]} is "
                            f"{_size(images[0])}, {path} is {_size(images[-1])}; set "
                            "data.image_size to resize them all to one square size")
    return torch.stack(images)


def _size(image: torch.Tensor) -> str:
    return f"{image.shape[2]}x{image.shape[1]} pixels"
