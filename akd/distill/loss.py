"""The knowledge-distillation loss of Hinton et al. (2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor | None,
            targets: torch.Tensor, temperature: float = 4.0, alpha: float = 0.9) -> torch.Tensor:
    """``(1 - alpha) * CE(y, s) + alpha * T^2 * KL(softmax(t / T) || softmax(s / T))``, batch mean.

    The T^2 factor keeps the soft term's gradients on the scale of the hard term's as T grows.
    ``alpha = 0`` is plain cross-entropy and needs no teacher logits.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    hard = F.cross_entropy(student_logits, targets)
    if alpha == 0.0:
        return hard
    if teacher_logits is None:
        raise ValueError(f"alpha = {alpha} needs teacher logits; pass alpha = 0 to train on labels")
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.log_softmax(teacher_logits / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1.0 - alpha) * hard + alpha * temperature ** 2 * soft
