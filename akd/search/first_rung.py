"""Latency where it decides: the lookup table for a bracket's first rung, measured for the rest.

Measuring a student (interleaved with a reference, in the driver, while no candidate trains) costs
about a second and a half on 2 cores; most candidates of a multi-fidelity search are stopped at
the first rung, where their reward only ranks them against each other. With
``search.schedule.first_rung_latency: table`` those are priced by the per-layer lookup table
(:class:`akd.latency.LatencyTable`, Spearman 0.97 with measured latency on the shipped table's
students) and only the candidates promoted past it are measured.

The table's sum leaves out the overhead of the network around its layers, so it sits below a
measurement; it is scaled by the median ratio of measured to predicted latency over the reward
target's sample of students (the same students ``reward.target_ms: auto`` measures, so their
measurements come from the cache). The scale and what it came from are written to the run
directory before the first trial and read back on resume, like the target.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from search_spaces import SearchSpace

from ..common.io import read_json, write_json
from ..config import RewardConfig, RunConfig
from .reward import mnas_reward
from .target import target_sample

CALIBRATION_FILE = "latency_table.json"


def calibrated_table(config: RunConfig, space: SearchSpace, measure: Callable[[str], float],
                     predict: Callable[[str], float], run_path: Path) -> Callable[[str], float]:
    """``arch -> ms``: the lookup table's ``predict`` times the run's recorded scale, or the
    scale measured now on the reward target's sample and recorded."""
    path = Path(run_path) / CALIBRATION_FILE
    if path.exists():
        scale = read_json(path, ("scale",))["scale"]
    else:
        archs = target_sample(config, space)  # measured for the target already: cached
        measured = [measure(arch) for arch in archs]
        predicted = [predict(arch) for arch in archs]
        scale = float(np.median(np.asarray(measured) / np.asarray(predicted)))
        write_json(path, {"scale": scale, "archs": archs, "measured_ms": measured,
                          "table_ms": predicted})
    return lambda arch: scale * predict(arch)


def table_error(pairs: list[tuple[float, float]], reward: RewardConfig) -> dict | None:
    """How far the scaled table was from the measurement for the candidates that have both
    (``(table ms, measured ms)``: the promoted ones): the median and largest relative error of
    the latency, and of the reward it gives (the accuracy cancels); None without pairs."""
    if not pairs:
        return None
    table, measured = np.asarray(pairs).T
    latency = np.abs(table / measured - 1)
    reward = np.abs(np.array([mnas_reward(1.0, t, reward) / mnas_reward(1.0, m, reward)
                              for t, m in pairs]) - 1)
    return {"candidates": len(pairs), "latency_median_error": float(np.median(latency)),
            "latency_max_error": float(latency.max()),
            "reward_median_error": float(np.median(reward)),
            "reward_max_error": float(reward.max())}
