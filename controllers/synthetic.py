"""A search problem with a known optimum, for the learning tests and the benchmark.

The reward of a decision list is the fraction of its decisions equal to a hidden target, so the
optimum (1.0) is the target alone and every decision contributes independently, as a stand-in for
accuracy; ``noise`` adds Gaussian noise of that std to each reward, as retraining a student with
another seed would. ``run_search`` drives a controller the way the real search loop does: a fixed
number of evaluators busy at once, each finished candidate told as soon as it is done, in random
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import Controller


class TargetMatch:
    """Reward = fraction of decisions equal to a hidden target drawn from ``seed`` (+ noise)."""

    def __init__(self, choices: Sequence[int], seed: int = 0, noise: float = 0.0) -> None:
        if noise < 0:
            raise ValueError(f"noise = {noise!r} is invalid; allowed: a std >= 0")
        # streams of their own: a controller seeded with ``seed`` must not draw the target itself
        rng = np.random.default_rng([seed, 1])  # not [seed, 0]: that equals seed
        self.target = [int(rng.integers(n)) for n in choices]
        self.noise = noise
        self._noise_rng = np.random.default_rng([seed, 2])

    def score(self, decisions: Sequence[int]) -> float:
        """The noise-free reward: what the search is after."""
        return float(np.mean(np.asarray(decisions) == self.target))

    def reward(self, decisions: Sequence[int]) -> float:
        """What an evaluation reports: the score plus this evaluation's noise."""
        return self.score(decisions) + self.noise * float(self._noise_rng.normal())


@dataclass
class Trace:
    """What a search saw, one entry per told candidate in tell order."""

    scores: list[float]  # noise-free reward
    rewards: list[float]  # reward the controller was told

    def best_found(self, samples: int | None = None) -> float:
        """Score of the candidate the search would pick, the one told the best reward, among
        the first ``samples`` told (all by default)."""
        return self.scores[int(np.argmax(self.rewards[:samples]))]


def run_search(controller: Controller, task: TargetMatch, budget: int, workers: int = 1,
               seed: int = 0) -> Trace:
    """Evaluate ``budget`` candidates with ``workers`` of them in flight at a time."""
    if budget < 1 or workers < 1:
        raise ValueError(f"budget = {budget!r} and workers = {workers!r} must both be >= 1")
    finish_order = np.random.default_rng(seed)
    trace = Trace([], [])
    in_flight = controller.ask(min(workers, budget))
    while in_flight:
        done = in_flight.pop(int(finish_order.integers(len(in_flight))))
        reward = task.reward(done.decisions)
        controller.tell(done, reward)
        trace.scores.append(task.score(done.decisions))
        trace.rewards.append(reward)
        if len(trace.scores) + len(in_flight) < budget:
            in_flight += controller.ask()
    return trace
