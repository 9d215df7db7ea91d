"""A learnable random dataset for tests: generated from ``data.split_seed`` in milliseconds."""

from __future__ import annotations

from pathlib import Path

import torch

from .sources import DataConfig, Decoded, register_dataset


@register_dataset("synthetic", folder=None)
def synthetic(config: DataConfig, cache: Path) -> Decoded:
    """Learnable random data for tests: each class is a fixed pattern plus noise."""
    generator = torch.Generator().manual_seed(config.split_seed)
    classes, shape = 10, (1, 16, 16)
    patterns = torch.randn(classes, *shape, generator=generator)

    def make(n: int):
        labels = torch.randint(0, classes, (n,), generator=generator)
        return patterns[labels] + 0.8 * torch.randn(n, *shape, generator=generator), labels

    return make(2400), make(600), classes
