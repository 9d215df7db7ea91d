"""Multi-fidelity schedules replayed on the ladder: which way of spending a search's compute picks
the student that is best after a full distillation, with no training at all.

The ladder (:mod:`akd.tables.ladder`) trained the same students at a ladder of budgets (rungs),
each with two seeds. A replayed search asks its controller for students of that pool (one
categorical decision over the pool's members: the pool *is* the space here), "trains" a student
at a rung by drawing one of the ladder's seeds for it there (a second training of the same
student at the same rung draws the other seed first), and pays the rung's training samples. It
judges the student it picks by the top rung's test accuracy, mean of seeds: the truth the
search never sees (it selects on validation accuracy).

Schedules, all at the same compute (training samples):

* ``flat`` at rung r: every candidate trained once at r; the pick is the best mean there.
* ``successive_halving``: brackets of ``n`` candidates at the bottom rung; the best 1 / ``eta``
  of each rung (by mean validation accuracy) go up; the top rung trains each survivor with
  ``top_seeds`` seeds and judges it by their mean. Brackets repeat while the budget lasts.
* ``hyperband``: successive halving's brackets started at every rung in turn (Li et al. 2018:
  bracket s starts ``ceil((s_max + 1) / (s + 1) * eta^s)`` candidates at rung s_max - s),
  scaled down together until one round of them fits the budget.

What the controller learns from (``tell``), when a bracket ends:

* ``raw``: the candidate's mean accuracy at the highest rung it reached (the simplest; a student
  stopped early looks worse only because it trained less, where accuracy grows with budget);
* ``rank``: its rung, plus its percentile among every result at that rung so far, over the
  number of rungs (comparable across rungs: promoted candidates rank above stopped ones, and
  within a rung by how they did there, as BOHB keeps one model per budget).
* ``per_budget`` (TPE only): BOHB's own rule (Falkner et al. 2018), as the live search has it
  (``search.schedule.tell: per_budget``): the ``tpe`` controller is told every candidate's
  result at each rung it reached (``tell_rungs``), keeps them per rung and fits its model on
  the highest rung that has at least ``startup`` results; until one has, TPE draws at random.
  Nothing is compared across rungs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from controllers import get_controller

from akd.search import Bracket, hyperband_brackets
from akd.tables import Ladder


@dataclass(frozen=True)
class Pool:
    """The ladder's students that have every rung, as replay needs them."""

    archs: tuple[str, ...]
    costs: tuple[int, ...]  # training samples of one training at each rung, cheapest first
    val: dict[tuple[int, int], tuple[float, ...]]  # (student, rung) -> its seeds' val accuracy
    truth: tuple[float, ...]  # per student: the top rung's test accuracy, mean of its seeds
    noise: float  # the standard error of a top-rung mean of seeds: within-student SD / sqrt(n)

    @property
    def best(self) -> float:
        return max(self.truth)


def pool_from_ladder(ladder: Ladder, mode: str) -> Pool:
    """The students of ``ladder`` trained in ``mode`` (``cls`` or a teacher) at every rung."""
    rungs = ladder.rungs
    by_student: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in ladder:
        if record["mode"] == mode and record["status"] == "ok":
            by_student[record["arch"]][record["rung"]].append(record)
    archs = tuple(sorted(a for a, runs in by_student.items()
                         if all(runs.get(r.index) for r in rungs)
                         and len(runs[rungs[-1].index]) >= 2))
    if len(archs) < 2:
        raise ValueError(f"the ladder has {len(archs)} student(s) with every rung in mode "
                         f"{mode!r} (and two seeds at the top); replay needs at least 2")
    val, truth, deviations = {}, [], []
    for i, arch in enumerate(archs):
        for j, rung in enumerate(rungs):
            runs = sorted(by_student[arch][rung.index], key=lambda r: r["seed"])
            val[i, j] = tuple(r["val_acc"] for r in runs)
        top = [r["test_acc"] for r in by_student[arch][rungs[-1].index]]
        truth.append(float(np.mean(top)))
        deviations += list(np.asarray(top) - np.mean(top))
        seeds = len(top)
    within = math.sqrt(sum(d * d for d in deviations) / (len(deviations) - len(archs)))
    return Pool(archs, tuple(r.samples for r in rungs), val, tuple(truth),
                within / math.sqrt(seeds))


@dataclass
class Trainer:
    """Replayed trainings: a draw of one of the ladder's seeds, paid in training samples."""

    pool: Pool
    rng: np.random.Generator
    spent: int = 0
    results: dict[tuple[int, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    _order: dict[tuple[int, int], list[float]] = field(default_factory=dict)

    def train(self, student: int, rung: int) -> float:
        """One training of ``student`` at ``rung``: the seeds in a random order, then again."""
        key = (student, rung)
        if not self._order.get(key):
            seeds = list(self.pool.val[key])
            self._order[key] = [seeds[i] for i in self.rng.permutation(len(seeds))]
        accuracy = self._order[key].pop()
        self.spent += self.pool.costs[rung]
        self.results[key].append(accuracy)
        return accuracy

    def mean(self, student: int, rung: int) -> float:
        return float(np.mean(self.results[student, rung]))

    def percentile(self, student: int, rung: int) -> float:
        """The share of this rung's results (per student, their mean) below ``student``'s."""
        others = [self.mean(s, r) for (s, r) in self.results if r == rung]
        mine = self.mean(student, rung)
        return (sum(v < mine for v in others) + 0.5 * (sum(v == mine for v in others) - 1)) / \
            max(1, len(others) - 1)


def fitted_hyperband(costs: tuple[int, ...], eta: int, top_seeds: int, budget: int
                     ) -> list[Bracket]:
    """Hyperband's brackets scaled down (in steps of 1%) until one round of them fits
    ``budget``: on a small pool and budget the textbook sizes (thousands of trainings) can't."""
    for percent in range(100, 0, -1):
        brackets = hyperband_brackets(len(costs), eta, top_seeds, percent / 100)
        if sum(b.cost(costs, continued=False) for b in brackets) <= budget:
            return brackets
    raise ValueError(f"a budget of {budget} samples does not fit one round of Hyperband's "
                     "smallest brackets")


@dataclass(frozen=True)
class Setting:
    controller: str
    schedule: str
    rung: int = 0  # flat: the rung every candidate trains at
    eta: int = 4
    n: int = 32  # successive halving: candidates a bracket starts
    top_seeds: int = 2
    tell: str = "rank"
    batch: int = 8  # flat: candidates asked at a time

    def name(self) -> str:
        if self.schedule == "flat":
            return f"{self.controller} flat@{self.rung}"
        return f"{self.controller} {self.schedule} eta={self.eta} tell={self.tell}"


def replay(pool: Pool, setting: Setting, budget: int, seed: int) -> dict:
    """One replayed search of ``budget`` training samples; the student it picks and its truth."""
    rng = np.random.default_rng(seed)
    trainer = Trainer(pool, rng)
    if setting.tell == "per_budget" and (setting.controller != "tpe"
                                         or setting.schedule == "flat"):
        raise ValueError("tell=per_budget is BOHB's TPE model: controller tpe, a "
                         "multi-fidelity schedule")
    controller = get_controller(setting.controller, [len(pool.archs)], seed=seed)
    top = len(pool.costs) - 1
    if setting.schedule == "flat":
        pick = _flat(trainer, controller, setting, budget)
    else:
        brackets = ([Bracket(0, setting.n, setting.eta, top, setting.top_seeds)]
                    if setting.schedule == "successive_halving"
                    else fitted_hyperband(pool.costs, setting.eta, setting.top_seeds, budget))
        pick = _brackets(trainer, controller, setting, brackets, budget)
    return {"pick": pick, "arch": pool.archs[pick] if pick is not None else None,
            "truth": pool.truth[pick] if pick is not None else None,
            "regret": pool.best - pool.truth[pick] if pick is not None else None,
            "within_noise": pick is not None and pool.best - pool.truth[pick] <= pool.noise,
            "spent": trainer.spent}


def _flat(trainer: Trainer, controller, setting: Setting, budget: int) -> int | None:
    cost = trainer.pool.costs[setting.rung]
    while trainer.spent + cost <= budget:
        asked = controller.ask(min(setting.batch, (budget - trainer.spent) // cost))
        for candidate in asked:
            student = candidate.decisions[0]
            controller.tell(candidate, trainer.train(student, setting.rung))
    trained = [s for (s, r) in trainer.results if r == setting.rung]
    return max(trained, key=lambda s: trainer.mean(s, setting.rung), default=None)


def _brackets(trainer: Trainer, controller, setting: Setting, brackets: list[Bracket],
              budget: int) -> int | None:
    top = len(trainer.pool.costs) - 1
    finished = []  # students that reached the top rung
    index = 0
    while True:
        bracket = brackets[index % len(brackets)]
        if trainer.spent + bracket.cost(trainer.pool.costs, continued=False) > budget:
            break
        asked = controller.ask(bracket.n)
        alive = {c.id: c.decisions[0] for c in asked}
        reached = {}
        for rung, size in zip(range(bracket.start, top + 1), bracket.sizes()):
            ranked = sorted(alive, key=lambda cid: -trainer.mean(alive[cid], rung - 1)
                            if rung > bracket.start else 0)
            alive = {cid: alive[cid] for cid in ranked[:size]}
            for cid, student in alive.items():
                for _ in range(setting.top_seeds if rung == top else 1):
                    trainer.train(student, rung)
                reached[cid] = rung
        finished += list(alive.values())
        for candidate in asked:
            student, rung = candidate.decisions[0], reached[candidate.id]
            if setting.tell == "per_budget":  # the live search's own per-budget TPE
                controller.tell_rungs(candidate, {below: trainer.mean(student, below)
                                                  for below in range(bracket.start, rung + 1)},
                                      trainer.mean(student, rung))
            else:
                controller.tell(candidate, _told(trainer, setting.tell, student, rung, top))
        index += 1
    return max(set(finished), key=lambda s: trainer.mean(s, top), default=None)


def _told(trainer: Trainer, rule: str, student: int, rung: int, top: int) -> float:
    if rule == "raw":
        return trainer.mean(student, rung)
    return (rung + trainer.percentile(student, rung)) / (top + 1)
