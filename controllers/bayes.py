"""Bayesian optimisation through Optuna's samplers: multivariate TPE (``tpe``) and the
Gaussian-process sampler (``gp``), behind the same ask/tell contract as the other controllers.

Every decision is an Optuna categorical parameter ``d<i>`` over its choice indices, and the reward
is maximised. The controller keeps its own record of what was told (in tell order) and what is
pending, and *rebuilds* an in-memory study from it before each proposal: told candidates as
complete trials, pending ones as running trials, in ask order, with a sampler seeded from the
controller's seed and the new candidate's id. A proposal therefore depends only on that record,
which the state holds as plain lists, so a state loaded with ``weights_only=True`` asks exactly what
the uninterrupted controller would have (Optuna's own sampler state, a numpy generator inside a
pickled object, is never saved).

Parallel asks: the candidates of one ``ask(n)`` are proposed one after another, each seeing the
earlier ones as running trials, so a batch is not ``n`` copies of one point: TPE's constant liar
counts a running trial as a bad result near which it does not sample again, and the GP sampler
conditions its acquisition on the running points (Optuna's batch-aware GP).

Multi-fidelity (BOHB's model, Falkner et al. 2018): a search that trains candidates at several
budgets may tell a candidate its reward at every rung it reached (``tell_rungs``). The results
are then kept per rung, and each proposal fits the model on the highest rung that holds at
least ``startup`` of them (the lowest while none does), so that nothing is compared across
budgets.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .base import Candidate, Controller, check_option, is_int
from .registry import register_controller


@dataclass
class BayesConfig:
    startup: int = 10  # candidates drawn at random (by the sampler's own independent sampler)
    # before the model is fitted: Optuna's default n_startup_trials for both samplers

    def __post_init__(self) -> None:
        check_option(is_int(self.startup) and self.startup >= 1, "startup", self.startup,
                     "an integer >= 1")


class OptunaController(Controller):
    """Proposals of an Optuna sampler (``_sampler``) over categorical decisions."""

    Config = BayesConfig

    def __init__(self, choices, seed: int = 0, **options) -> None:
        super().__init__(choices, seed, **options)
        self._optuna = import_optuna(self.name)
        self.seed = seed
        self.told: list[tuple[int, list[int], float]] = []  # (id, decisions, reward), tell order
        # (id, decisions, rung, reward) for each rung a candidate told by tell_rungs reached
        self.rung_results: list[tuple[int, list[int], int, float]] = []
        self._distributions = {f"d{i}": self._optuna.distributions.CategoricalDistribution(
                                   range(n))
                               for i, n in enumerate(self.choices)}

    def _sampler(self, seed: int):
        """A fresh sampler of this strategy, seeded with ``seed``."""
        raise NotImplementedError

    def _propose(self, n: int) -> list[tuple[list[int], None]]:
        proposals: list[list[int]] = []
        for i in range(n):
            proposals.append(self._propose_one(self.num_asked + i, proposals))
        return [(decisions, None) for decisions in proposals]

    def _propose_one(self, candidate_id: int, batch: list[list[int]]) -> list[int]:
        sampler = self._sampler(proposal_seed(self.seed, candidate_id))
        params = optuna_proposal(self._optuna, sampler, self._distributions, self._history(batch))
        return [int(params[f"d{i}"]) for i in range(len(self.choices))]

    def tell_rungs(self, candidate: Candidate, results: dict[int, float],
                   reward: float) -> dict[str, float]:
        """Tell ``candidate`` as a multi-fidelity search does: ``results`` maps each rung it
        reached to its reward there (empty for one that never trained), kept per rung for the
        model; ``reward`` is what ``tell`` records for it."""
        if not all(math.isfinite(value) for value in results.values()):
            raise ValueError(f"rung results {results!r} for candidate {candidate.id} are "
                             "invalid; allowed: finite numbers")
        stats = self.tell(candidate, reward)  # checks the candidate is pending, as asked
        self.rung_results += [(candidate.id, list(candidate.decisions), int(rung), float(value))
                              for rung, value in sorted(results.items())]
        return stats

    def model_rung(self) -> int | None:
        """The rung the next proposal's model is fitted on (None: no rung results, the model
        uses every told reward)."""
        counts: dict[int, int] = {}
        for _, _, rung, _ in self.rung_results:
            counts[rung] = counts.get(rung, 0) + 1
        if not counts:
            return None
        enough = [rung for rung, n in counts.items() if n >= self.config.startup]
        return max(enough) if enough else min(counts)

    def _history(self, batch: list[list[int]]) -> list[tuple[dict, float | None]]:
        """Every candidate asked so far (and the ones proposed earlier in this ask) in ask order,
        as (parameters, reward), the reward None while it is pending; with rung results, those
        of the model's rung and the pending candidates."""
        rung = self.model_rung()
        done = self.told if rung is None else [(i, d, r) for i, d, at, r in self.rung_results
                                               if at == rung]
        rewards = {i: r for i, _, r in done}
        asked = sorted([(i, d) for i, d, _ in done] + [(c.id, c.decisions) for c in self.pending])
        asked += [(self.num_asked + k, d) for k, d in enumerate(batch)]
        return [({f"d{k}": choice for k, choice in enumerate(decisions)}, rewards.get(i))
                for i, decisions in asked]

    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        self.told.append((candidate.id, list(candidate.decisions), reward))
        return {}

    def _extra_state(self) -> dict:
        return {"seed": self.seed, "told": [[i, list(d), r] for i, d, r in self.told],
                "rung_results": [[i, list(d), g, r] for i, d, g, r in self.rung_results]}

    def _load_extra_state(self, state: dict) -> None:
        told = [(int(i), [int(c) for c in d], float(r)) for i, d, r in state["told"]]
        rung_results = [(int(i), [int(c) for c in d], int(g), float(r))
                        for i, d, g, r in state.get("rung_results", [])]  # absent before BOHB
        self.seed = int(state["seed"])
        self.told, self.rung_results = told, rung_results


@register_controller("tpe")
class TPEController(OptunaController):
    """Multivariate TPE (the joint density Falkner et al. 2018 use, as Optuna builds it) with
    the constant liar for parallel asks."""

    name = "tpe"

    def _sampler(self, seed: int):
        return make_sampler(self._optuna, "tpe", seed, self.config.startup)


@register_controller("gp")
class GPController(OptunaController):
    """Optuna's Gaussian-process sampler (log expected improvement, batch-aware over running
    trials)."""

    name = "gp"

    def _sampler(self, seed: int):
        return make_sampler(self._optuna, "gp", seed, self.config.startup)


SAMPLERS = ("tpe", "gp")


def make_sampler(optuna, name: str, seed: int, startup: int):
    """A fresh Optuna sampler: multivariate TPE with the constant liar, or the GP sampler."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                          n_startup_trials=startup)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


def optuna_proposal(optuna, sampler, distributions: dict,
                    history: list[tuple[dict, float | None]]) -> dict:
    """The parameters ``sampler`` proposes next in a fresh in-memory study (maximising) that holds
    ``history``: (parameters, reward) in order, a reward of None for a trial still running."""
    create, states = optuna.trial.create_trial, optuna.trial.TrialState
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for params, reward in history:
            if reward is None:
                study.add_trial(create(state=states.RUNNING, params=params,
                                       distributions=distributions))
            else:
                study.add_trial(create(state=states.COMPLETE, value=reward, params=params,
                                       distributions=distributions))
        return study.ask(distributions).params


def proposal_seed(seed: int, candidate_id: int) -> int:
    """The sampler seed of candidate ``candidate_id``: fixed by the controller's seed and the id,
    so a rebuilt controller draws what the original would have."""
    return int(np.random.SeedSequence([seed, candidate_id]).generate_state(1)[0])


def import_optuna(controller: str):
    try:
        import optuna
    except ImportError:
        raise ImportError(f"controller {controller!r} needs Optuna: pip install -c "
                          "constraints.txt optuna") from None
    # a study is rebuilt for every proposal: without this, each logs "A new study created"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
