"""The reward's target latency T when ``reward.target_ms: auto``: set from this machine's speed.

A fixed T is a figure of one machine (1 ms put every demo student over the target on a slower
host). ``auto`` samples ``reward.target_samples`` students from the space with the search's seed,
measures them through the run's latency source (and its cache), and takes the
``reward.target_quantile`` of their latencies. The value and what it came from are written to
``reward_target.json`` in the run directory before the first trial, and a resumed run reads it
back instead of measuring again, so every trial of a run is scored against the same T.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from search_spaces import SearchSpace

from ..common.io import read_json, write_json
from ..config import RewardConfig, RunConfig

TARGET_FILE = "reward_target.json"


def resolve_target(config: RunConfig, space: SearchSpace, latency: Callable[[str], float],
                   run_path: Path) -> RewardConfig:
    """``config.reward`` with a number for T: as given, read back from the run, or measured now
    (and recorded)."""
    recorded = recorded_target(config, run_path)
    if recorded is not None:
        return recorded
    reward = config.reward
    archs = target_sample(config, space)
    latencies = [latency(arch) for arch in archs]
    target = float(np.quantile(latencies, reward.target_quantile))
    write_json(run_path / TARGET_FILE, {
        "target_ms": target, "quantile": reward.target_quantile, "samples": len(archs),
        "seed": config.search.seed, "latency_method": config.latency.method,
        "latencies_ms": latencies, "archs": archs})
    return dataclasses.replace(reward, target_ms=target)


def target_sample(config: RunConfig, space: SearchSpace) -> list[str]:
    """The ``reward.target_samples`` students the target is measured on, drawn with the
    search's seed."""
    rng = np.random.default_rng(config.search.seed)
    return [str(space.decode(space.sample(rng))) for _ in range(config.reward.target_samples)]


def recorded_target(config: RunConfig, run_path: Path) -> RewardConfig | None:
    """``config.reward`` with its number for T when it has one: given in the config, or recorded
    in the run directory; None for ``auto`` before the run has measured it."""
    if config.reward.target_ms != "auto":
        return config.reward
    path = Path(run_path) / TARGET_FILE
    if not path.exists():
        return None
    return dataclasses.replace(config.reward, target_ms=read_json(path, ("target_ms",))["target_ms"])
