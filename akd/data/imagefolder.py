"""Any image classification dataset on disk: ``data.root`` with ``train/`` and ``test/``
folders of class folders (torchvision's ImageFolder), resized to ``data.image_size``."""

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
    transform = transforms.Compose([transforms.Resize((config.image_size, config.image_size)),
                                    transforms.PILToTensor()])  # uint8, as the others
    splits = []
    for part in ("train", "test"):
        folder = Path(config.root) / part
        if not folder.is_dir():
            raise DataError(f"imagefolder: {folder} is missing; data.root needs train/ and test/ "
                            "subfolders of class folders")
        data = ImageFolder(folder, transform=transform)
        images = torch.stack([image for image, _ in data])
        splits.append((images, torch.tensor(data.targets)))
    return splits[0], splits[1], len(ImageFolder(Path(config.root) / "train").classes)
