"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): 32x32 colour images, through torchvision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .sources import DataConfig, Decoded, register_dataset


@register_dataset("cifar100")  # decorators apply bottom-up: cifar10 is registered first
@register_dataset("cifar10")
def cifar(config: DataConfig, cache: Path) -> Decoded:
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if config.name == "cifar10" else CIFAR100
    root = Path(config.root) if config.root else cache / "datasets" / config.name
    try:
        train = cls(root, train=True, download=config.download)
        test = cls(root, train=False, download=config.download)
    except (RuntimeError, OSError) as error:
        raise DataError(f"{config.name} not found under {root} and could not be downloaded "
                        f"({error}); set data.root to a folder holding torchvision's "
                        "copy") from None

    def channels_first(data: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()

    return ((channels_first(train.data), torch.tensor(train.targets)),
            (channels_first(test.data), torch.tensor(test.targets)), tuple(train.classes))
