"""Regularized (aging) evolution, Real et al., *Regularized Evolution for Image Classifier
Architecture Search* (AAAI 2019), as in the pseudo-code of their Algorithm 1.

The first ``population`` candidates are drawn at random. After that each candidate is a mutant:
draw ``sample_size`` members of the population uniformly (with replacement, as in the paper's
code), take the one with the highest reward as parent, and change one decision to another choice.
Told candidates join the population and, once it is full, push out its *oldest* member (not its
worst): the aging that gives the method its regularisation.

Asynchrony: "oldest" means first told, which is what a population fed by parallel workers sees.
A candidate asked after the random phase while nothing has been told yet (every worker still busy
with the first ones) is drawn at random too, since there is no parent to mutate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .base import Candidate, check_option, is_int
from .random_search import RandomSearch
from .registry import register_controller


@dataclass
class EvolutionConfig:
    population: int = 100  # P: Real et al. 2019, their main CIFAR-10 search (P=100, S=25)
    sample_size: int = 25  # S: tournament size; larger S is greedier, S=1 is random walk

    def __post_init__(self) -> None:
        check_option(is_int(self.population) and self.population >= 1, "population",
                     self.population, "an integer >= 1")
        check_option(is_int(self.sample_size) and 1 <= self.sample_size <= self.population,
                     "sample_size", self.sample_size, f"an integer in 1..population "
                     f"({self.population})")


@register_controller("evolution")
class RegularizedEvolution(RandomSearch):
    Config = EvolutionConfig

    def __init__(self, choices, seed: int = 0, **options) -> None:
        super().__init__(choices, seed, **options)
        # (id, decisions, reward) of told candidates, oldest first
        self.population: deque[tuple[int, list[int], float]] = deque()

    def _propose(self, n: int) -> list[tuple[list[int], None]]:
        proposals = []
        for i in range(n):
            random_phase = self.num_asked + i < self.config.population
            proposals.append((self._uniform() if random_phase or not self.population
                              else self._mutate(self._tournament()), None))
        return proposals

    def _tournament(self) -> list[int]:
        picks = self.rng.integers(len(self.population), size=self.config.sample_size)
        best = max(picks, key=lambda i: self.population[i][2])  # first of equals wins
        return self.population[best][1]

    def _mutate(self, parent: list[int]) -> list[int]:
        mutable = [i for i, n in enumerate(self.choices) if n > 1]
        child = list(parent)
        if not mutable:  # a space of one architecture: nothing to change
            return child
        position = mutable[int(self.rng.integers(len(mutable)))]
        # draw among the other choices only, so that every mutant differs from its parent
        other = int(self.rng.integers(self.choices[position] - 1))
        child[position] = other + (other >= parent[position])
        return child

    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        self.population.append((candidate.id, candidate.decisions, reward))
        if len(self.population) > self.config.population:
            self.population.popleft()
        return {}

    def _extra_state(self) -> dict:
        return {**super()._extra_state(),
                "population": [[i, list(d), r] for i, d, r in self.population]}

    def _load_extra_state(self, state: dict) -> None:
        population = deque((int(i), list(d), float(r)) for i, d, r in state["population"])
        super()._load_extra_state(state)
        self.population = population
