"""Random crop and horizontal flip, replayed exactly from a seed.

Parameters are drawn per image index from a seed, not per batch, so the same seed gives the same
augmented image whatever the batch order: that is what lets teacher logits be computed once for
an augmented epoch and read back while a student trains on that epoch in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentParams:
    offsets: torch.Tensor  # (N, 2) crop offsets (dy, dx) into the padded image, in [0, 2 * pad]
    flips: torch.Tensor  # (N,) bool: mirror horizontally
    padding: int  # zero padding on each side before cropping back to the original size


def augment_params(num_images: int, seed: int, padding: int) -> AugmentParams:
    rng = np.random.default_rng(seed)
    offsets = torch.from_numpy(rng.integers(0, 2 * padding + 1, size=(num_images, 2)))
    flips = torch.from_numpy(rng.random(num_images) < 0.5)
    return AugmentParams(offsets, flips, padding)


def apply_augment(images: torch.Tensor, params: AugmentParams,
                  indices: torch.Tensor) -> torch.Tensor:
    """Augment a batch ``images`` whose rows are the split's images ``indices``."""
    pad, (height, width) = params.padding, images.shape[-2:]
    offsets = params.offsets[indices].to(images.device)
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(height, device=images.device)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(width, device=images.device)  # (B, W)
    cols = torch.where(params.flips[indices].to(images.device)[:, None], cols.flip(1), cols)
    batch = torch.arange(len(images), device=images.device)[:, None, None]
    # advanced indexing puts the indexed dims first: (B, H, W, C) -> (B, C, H, W)
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
