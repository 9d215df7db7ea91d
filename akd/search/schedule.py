"""Multi-fidelity schedules: successive halving and Hyperband on a ladder of training budgets.

A rung is a number of epochs over the proxy images; every candidate's learning rate follows the
top rung's schedule, so a candidate promoted from one rung to the next *continues* its training
from the checkpoint the lower rung left (the ladder measured that a training cut short ranks
students at least as well as a separate shorter training: docs/schedules.md). A bracket asks
its controller for ``n`` candidates at once, trains them all at its first rung, keeps the best
``1/eta`` of each rung by reward for the next, and trains the survivors of the top rung with
``top_seeds`` seeds (the first continues the chain, the others train from scratch); the winner
is judged by the mean of those seeds. When the bracket ends the controller is told one value
per candidate (``tell``), in candidate order.

Everything here is arithmetic on recorded trials, so a resumed bracket recomputes what is left
from ``trials.jsonl`` alone: the same promotions, the same trainings, the same values told.

ASHA (Li et al., *A System for Massively Parallel Hyperparameter Tuning*, MLSys 2020) is the same
ladder without brackets, for ``search.asynchronous``: whenever a worker is free, the highest rung
with a candidate in the top ``1/eta`` of its results that has not gone on yet promotes it
(:func:`asha_promotion`); otherwise a new candidate starts at the bottom rung.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import RunConfig, ScheduleConfig
from ..errors import ConfigError
from .reward import FAILED_REWARD
from .trial import Trial


@dataclass(frozen=True)
class Bracket:
    """Successive halving from rung ``start`` with ``n`` candidates."""

    start: int
    n: int
    eta: int
    top: int  # the top rung's index
    top_seeds: int

    def sizes(self) -> list[int]:
        """Candidates trained at each rung from ``start`` up, the last the top rung."""
        sizes = [self.n]
        for _ in range(self.start, self.top):
            sizes.append(max(1, sizes[-1] // self.eta))
        return sizes

    def cost(self, rung_costs: Sequence[int], continued: bool = True) -> int:
        """Training samples of the whole bracket, where ``rung_costs[r]`` is one training's to
        rung r from scratch: promotions pay only the difference when they ``continue`` (the
        live search), the whole rung when they retrain (the ladder's replay)."""
        total = 0
        for size, rung in zip(self.sizes(), range(self.start, self.top + 1)):
            before = rung_costs[rung - 1] if continued and rung > self.start else 0
            total += size * (rung_costs[rung] - before)
        return total + (self.top_seeds - 1) * self.sizes()[-1] * rung_costs[self.top]


def hyperband_brackets(rungs: int, eta: int, top_seeds: int, scale: float = 1.0
                       ) -> list[Bracket]:
    """Li et al.'s brackets, most exploratory first: s = s_max .. 0 starts
    ceil((s_max + 1) / (s + 1) * eta^s) candidates at rung s_max - s, times ``scale`` (at least
    one)."""
    top = rungs - 1
    return [Bracket(top - s, max(1, round(scale * math.ceil((top + 1) / (s + 1) * eta ** s))),
                    eta, top, top_seeds) for s in range(top, -1, -1)]


@dataclass(frozen=True)
class Plan:
    """A run's brackets, in the order they run, and what they cost."""

    brackets: tuple[Bracket, ...]  # one round; bracket of step k: brackets[k % len]
    count: int  # brackets that fit the budget
    epochs: tuple[int, ...]  # each rung's epochs
    images: int  # proxy images each epoch passes over
    budget: int = 0  # training samples per arm

    @property
    def top(self) -> int:
        return len(self.epochs) - 1

    def trainings_of(self, candidate: int, rung: int, start_rung: int = 0) -> list[Training]:
        """The trainings that take ``candidate`` to ``rung``: its chain continued from the rung
        below (from scratch at ``start_rung``), and at the top the further seeds."""
        start = self.epochs[rung - 1] if rung > start_rung else 0
        trainings = [Training(candidate, rung, 0, self.epochs[rung], start)]
        if rung == self.top:
            trainings += [Training(candidate, rung, seed, self.epochs[rung], 0)
                          for seed in range(1, self.brackets[0].top_seeds)]
        return trainings

    def first_training(self, candidate: int, bracket: Bracket) -> Training:
        """A candidate's first training in ``bracket``: its chain, from scratch, to the
        bracket's first rung."""
        return self.trainings_of(candidate, bracket.start, bracket.start)[0]

    def part_cost(self, start: int, epochs: int) -> int:
        """Training samples of a training from epoch ``start`` to ``epochs``."""
        return (epochs - start) * self.images

    def training_cost(self, training: Training) -> int:
        return self.part_cost(training.start, training.epochs)

    def bracket(self, step: int) -> Bracket:
        return self.brackets[step % len(self.brackets)]

    def cost(self, step: int) -> int:
        return self.bracket(step).cost([e * self.images for e in self.epochs])

    def trainings(self) -> int:
        """Trainings per arm when none fails (a failed one is never promoted)."""
        return sum(sum(b.sizes()) + (b.top_seeds - 1) * b.sizes()[-1]
                   for b in (self.bracket(step) for step in range(self.count)))

    def samples(self) -> int:
        return sum(self.cost(step) for step in range(self.count))


def default_budget(config: RunConfig, images: int) -> int:
    """``search.schedule.budget``, or what a flat search of the same config spends: its trials x
    the proxy's ``images`` x ``proxy.epochs``."""
    return config.search.schedule.budget or config.search.trials * images * config.proxy.epochs


def make_plan(schedule: ScheduleConfig, batch_size: int, budget: int, images: int) -> Plan:
    """The brackets of ``schedule`` that fit ``budget`` training samples per arm, on ``images``
    proxy images; ConfigError when not even one fits."""
    top = len(schedule.rungs) - 1
    if schedule.name == "successive_halving":
        brackets = (Bracket(0, batch_size, schedule.eta, top, schedule.top_seeds),)
    else:  # hyperband, its most exploratory bracket search.batch_size candidates
        brackets = tuple(hyperband_brackets(len(schedule.rungs), schedule.eta,
                                            schedule.top_seeds, batch_size / schedule.eta ** top))
    plan = Plan(brackets, 0, tuple(schedule.rungs), images, budget)
    spent, count = 0, 0
    while spent + plan.cost(count) <= budget:
        spent, count = spent + plan.cost(count), count + 1
    if count == 0:
        raise ConfigError(f"search.schedule: a budget of {budget:,} training samples per arm "
                          f"does not fit one {schedule.name} bracket ({plan.cost(0):,} samples: "
                          f"{brackets[0].n} candidates on {images:,} images, rungs "
                          f"{list(schedule.rungs)} epochs); raise search.schedule.budget (or "
                          "search.trials), or lower the rungs or search.batch_size")
    return Plan(brackets, count, tuple(schedule.rungs), images, budget)


@dataclass(frozen=True)
class Training:
    """One training a bracket asks for."""

    candidate_id: int
    rung: int
    seed: int  # 0: the chain promotions continue; 1..: the top rung's further seeds
    epochs: int  # the schedule's epoch it stops at
    start: int  # the epoch it continues from; 0: from scratch

    @property
    def key(self) -> tuple[int, int, int]:
        return self.candidate_id, self.rung, self.seed


def pending_trainings(plan: Plan, bracket: Bracket, candidates: Iterable[int],
                      recorded: Iterable[Trial]) -> list[Training]:
    """The trainings of the bracket's lowest rung that is not complete (empty once the bracket
    is): which candidates reach it is decided by the rewards ``recorded`` at the rung below."""
    done = {(t.candidate_id, t.rung, t.seed): t for t in recorded}
    alive = sorted(candidates)
    for size, rung in zip(bracket.sizes(), range(bracket.start, bracket.top + 1)):
        if rung > bracket.start:  # the best of the rung below, ties by candidate id
            below = [done[c, rung - 1, 0] for c in alive if done[c, rung - 1, 0].ok]
            alive = sorted(t.candidate_id for t in sorted(
                below, key=lambda t: (-t.reward, t.candidate_id))[:size])
        trainings = [t for c in alive for t in plan.trainings_of(c, rung, bracket.start)]
        missing = [t for t in trainings if t.key not in done]
        if missing:
            return missing
    return []


def rung_results(trials: Iterable[Trial]) -> dict[tuple[int, int], float]:
    """(candidate id, rung) -> the mean reward of its successful trainings there (seeds at the
    top rung; the reward is linear in the accuracy, so this is the reward of the mean
    accuracy)."""
    rewards = defaultdict(list)
    for trial in trials:
        if trial.ok and trial.rung is not None:
            rewards[trial.candidate_id, trial.rung].append(trial.reward)
    return {key: sum(values) / len(values) for key, values in rewards.items()}


def told_values(bracket: Bracket, candidates: Iterable[int], arm_trials: Sequence[Trial],
                rule: str) -> dict[int, float]:
    """What the controller learns of each candidate of a finished bracket: ``raw``, the reward
    at the highest rung it reached; ``rank``, that rung plus the percentile of its reward among
    every candidate's at that rung so far (``arm_trials``), over the number of rungs, so that
    promoted candidates rank above stopped ones. A candidate that never trained: the failed
    reward."""
    results = rung_results(arm_trials)
    values = {}
    for candidate in candidates:
        reached = [r for r in range(bracket.top + 1) if (candidate, r) in results]
        if not reached:
            values[candidate] = FAILED_REWARD
            continue
        rung = max(reached)
        mine = results[candidate, rung]
        if rule in ("raw", "per_budget"):  # per_budget: also each rung's, by rung_values
            values[candidate] = mine
            continue
        others = [v for (c, r), v in results.items() if r == rung and c != candidate]
        below = sum(v < mine for v in others) + 0.5 * sum(v == mine for v in others)
        values[candidate] = (rung + below / max(1, len(others))) / (bracket.top + 1)
    return values


def rung_values(arm_trials: Sequence[Trial]) -> dict[int, dict[int, float]]:
    """Candidate id -> (rung -> its reward there, the mean of its seeds at the top): what a
    per-budget model (``tell: per_budget``) keeps of each."""
    by_candidate: dict[int, dict[int, float]] = defaultdict(dict)
    for (candidate, rung), value in rung_results(arm_trials).items():
        by_candidate[candidate][rung] = value
    return dict(by_candidate)


def screened_values(bracket: Bracket, screened: Sequence[Trial], every_screened: Sequence[Trial],
                    rule: str) -> dict[int, float]:
    """What the controller learns of a bracket's candidates that screening kept out (the rung
    below the bracket's lowest, predicted, never trained): ``raw``, the predicted reward;
    ``rank``, that rung plus the percentile of the predicted reward among ``every_screened``
    candidate's so far, over the number of rungs, so that any trained candidate ranks above
    them."""
    values = {}
    for trial in screened:
        if rule in ("raw", "per_budget"):
            values[trial.candidate_id] = trial.reward
            continue
        others = [t.reward for t in every_screened if t.candidate_id != trial.candidate_id]
        below = sum(v < trial.reward for v in others) + 0.5 * sum(v == trial.reward
                                                                  for v in others)
        values[trial.candidate_id] = (bracket.start - 1 + below / max(1, len(others))) \
            / (bracket.top + 1)
    return values


def asha_promotion(plan: Plan, recorded: Iterable[Trial], started: set[tuple[int, int]]
                   ) -> tuple[int, int] | None:
    """ASHA's next promotion, ``(candidate id, rung to reach)``, or None: from the highest rung
    below the top down, the best candidate among the top ``len(results) // eta`` of the rung's
    successful chain results (by reward, ties by id) that has not been ``started`` at the rung
    above."""
    eta = plan.brackets[0].eta
    chains = [t for t in recorded if t.ok and t.seed == 0 and t.rung is not None]
    for rung in range(plan.top - 1, -1, -1):
        results = sorted((t for t in chains if t.rung == rung),
                         key=lambda t: (-t.reward, t.candidate_id))
        for trial in results[:len(results) // eta]:
            if (trial.candidate_id, rung + 1) not in started:
                return trial.candidate_id, rung + 1
    return None
