"""MnasNet's latency-aware reward: ``ACC(m) * (LAT(m) / T) ** w``.

``w = alpha`` when the latency is within the target T and ``w = beta`` above it (Tan et al. 2019,
section 3). The soft constraint (alpha = beta = -0.07) trades about 5% of accuracy for each halving
of latency everywhere; the hard one (alpha = 0, beta = -1) ignores latency below T and divides the
accuracy by the overshoot above it.
"""

from __future__ import annotations

import math

from ..config import RewardConfig

EXPONENTS = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}  # (alpha, beta) from the paper
FAILED_REWARD = 0.0  # the worst reward: accuracy 0; what a failed candidate is told


def mnas_reward(accuracy: float, latency_ms: float, config: RewardConfig) -> float:
    """The reward of a candidate with validation ``accuracy`` (0..1) and ``latency_ms``."""
    if not (math.isfinite(accuracy) and math.isfinite(latency_ms) and latency_ms > 0):
        return FAILED_REWARD
    alpha, beta = EXPONENTS[config.constraint]
    weight = alpha if latency_ms <= config.target_ms else beta
    return accuracy * (latency_ms / config.target_ms) ** weight
