"""The strategies' sample efficiency on the benchmark table: thousands of searches for the price
of none, because a "training" is a lookup.

The table's students are the whole world here: a candidate a controller asks is scored as the
table student nearest it (fewest differing decisions; the first of equals), with the accuracy of
one of that student's seeds drawn at random (a real training is that noisy), and the student's
measured latency, through MnasNet's reward with the target at the pool's median latency. The
noise-free score is the student's mean over seeds. Strategies are driven as the search loop
drives them (:func:`controllers.synthetic.run_search`: a few candidates in flight, told as they
finish), and compared as in :mod:`research.studies.efficiency_bench`: the best noise-free score among
the students looked up so far, and the lookups each needs to reach the reference strategy's best
after the budget. Since the
pool is only a few hundred students, an exhaustive strategy eventually finds the pool's best: the
question is how fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controllers.synthetic import run_search
from search_spaces import SearchSpace

from akd.common import mean_ci
from akd.components import build_controller
from akd.config import RewardConfig, RunConfig
from akd.errors import ConfigError
from akd.search import mnas_reward
from akd.tables import Table

from .curves import trainings_to_reach
from .runner import STRATEGIES, strategy_config


class TablePool:
    """The table's students as a search task: nearest-student lookups (module docstring)."""

    def __init__(self, table: Table, mode: str, seed: int = 0) -> None:
        rows = [r for r in table.records if r["mode"] == mode and r["status"] == "ok"]
        if not rows:
            raise ConfigError(f"the table has no successful trainings of mode {mode!r}; it has "
                             f"{', '.join(table.modes)}")
        by_arch: dict[str, list[dict]] = {}
        for row in rows:
            by_arch.setdefault(row["arch"], []).append(row)
        self.archs = sorted(by_arch)
        self.decisions = np.array([by_arch[a][0]["decisions"] for a in self.archs])
        latency = np.array([by_arch[a][0]["latency_ms"] for a in self.archs])
        self.reward_config = RewardConfig(target_ms=float(np.median(latency)))
        self.seed_rewards = [[mnas_reward(r["val_acc"], lat, self.reward_config)
                              for r in by_arch[a]]
                             for a, lat in zip(self.archs, latency)]
        self.mean_rewards = np.array([np.mean(r) for r in self.seed_rewards])
        self._noise = np.random.default_rng([seed, 3])

    def nearest(self, decisions) -> int:
        return int(np.argmin((self.decisions != np.asarray(decisions)).sum(axis=1)))

    def score(self, decisions) -> float:
        """The noise-free reward: the nearest student's mean over its seeds."""
        return float(self.mean_rewards[self.nearest(decisions)])

    def reward(self, decisions) -> float:
        """What a lookup reports: one of the nearest student's seeds, drawn at random."""
        rewards = self.seed_rewards[self.nearest(decisions)]
        return float(rewards[int(self._noise.integers(len(rewards)))])


@dataclass(frozen=True)
class Options:
    strategies: tuple[str, ...] = ("autokd", "tpe", "lstm_ppo", "random")
    seeds: int = 10
    budget: int = 100  # lookups per search
    workers: int = 4  # candidates in flight
    mode: str = "vgg"  # the table's mode whose accuracy is the reward: cls or a teacher
    reference: str = "lstm_ppo"

    def __post_init__(self) -> None:
        elsewhere = [s for s in self.strategies if s not in STRATEGIES or STRATEGIES[s].space]
        if elsewhere:
            raise ConfigError(f"strategy {', '.join(elsewhere)} cannot search the table: "
                              "allowed: " + ", ".join(s for s, v in STRATEGIES.items()
                                                      if v.space is None))
        if self.reference not in self.strategies or self.seeds < 1 or self.budget < 1:
            raise ConfigError(f"the table comparison needs the reference {self.reference!r} "
                              "among the strategies, seeds >= 1 and a budget >= 1")


def run_on_table(table: Table, base: RunConfig, space: SearchSpace, options: Options) -> dict:
    """Every strategy x seed searched on the table; curves of the noise-free best score and
    the lookups to reach the reference's best (same seed)."""
    curves = {}
    for strategy in options.strategies:
        for seed in range(options.seeds):
            pool = TablePool(table, options.mode, seed)
            controller = build_controller(strategy_config(base, strategy, seed), space, "akd")
            trace = run_search(controller, pool, options.budget, options.workers, seed)
            # the best student it has trained so far, by its noise-free mean: monotone, so
            # "reaching" a reward means the same as in the real benchmark's best-so-far curves
            curves[f"{strategy}-seed{seed}"] = np.maximum.accumulate(trace.scores).tolist()
    pool = TablePool(table, options.mode)
    result = {"budget": options.budget, "seeds": options.seeds, "mode": options.mode,
              "pool": len(pool.archs), "pool_best": float(pool.mean_rewards.max()),
              "reference": options.reference, "strategies": {}}
    for strategy in options.strategies:
        reached = [trainings_to_reach(curves[f"{strategy}-seed{s}"],
                                      curves[f"{options.reference}-seed{s}"][-1])
                   for s in range(options.seeds)]
        hits = [r for r in reached if r is not None]
        finals = [curves[f"{strategy}-seed{s}"][-1] for s in range(options.seeds)]
        result["strategies"][strategy] = {
            "mean_curve": np.mean([curves[f"{strategy}-seed{s}"]
                                   for s in range(options.seeds)], axis=0).tolist(),
            "best": mean_ci(finals), "reached": len(hits),
            "found_pool_best": sum(f >= result["pool_best"] - 1e-12 for f in finals),
            "mean_lookups_to_reach": float(np.mean(hits)) if hits else None,
            "speedup": options.budget / float(np.mean(hits)) if hits else None}
    return result
