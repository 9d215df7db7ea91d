"""AutoKD (Henha Eyono et al.): Bayesian optimisation over a *family* of students.

Each BO trial is a family (:class:`search_spaces.family.Family`: the mix of ops and kernels, the
SE and skip probabilities, the width and depth positions, each a number in [0, 1]) together with
the decisions that follow the space's own, the KD hyper-parameters of ``search.kd``, which all of
its members share. The controller draws ``members`` students from each family and hands them out
as ordinary candidates (each carries its family in ``Candidate.family``); once every member has
been told, the family is told to the BO as its members' mean reward. So the search loop, its
evaluators and its resume need nothing new, and a family's score asks "is every student of this
family good?", AutoKD's question, rather than "was one lucky?".

Families are proposed as the ``tpe`` and ``gp`` controllers propose candidates
(:mod:`controllers.bayes`): from an in-memory Optuna study rebuilt from the controller's own
record (finished families complete, unfinished ones running), with a sampler seeded from the
controller's seed and the family's index; a member is drawn with a generator seeded from the
controller's seed, the family's index and the member's. So a state loaded with
``weights_only=True`` continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from search_spaces.family import ORDERED, Family

from .base import Candidate, Controller, check_option, is_int
from .bayes import SAMPLERS, import_optuna, make_sampler, optuna_proposal, proposal_seed
from .registry import register_controller


@dataclass
class AutoKDConfig:
    members: int = 2  # students drawn and trained per family; their mean reward is its score
    sampler: str = "tpe"  # the BO over families: tpe (multivariate TPE) or gp
    startup: int = 10  # families drawn at random before the sampler's model is fitted
    # how a family shares distributions across the space's decisions, filled in from the space
    # by the search (SearchSpace.family_spec); empty: every decision a field of its own
    family_fields: list[str] = field(default_factory=list)  # one field per space decision
    family_values: list[list] = field(default_factory=list)  # what each choice stands for, for
    # the parameters' names ("op.mbconv6"); empty: choice indices
    family_ordered: list[str] = field(default_factory=lambda: list(ORDERED))  # position fields
    family_free: list[str] = field(default_factory=list)  # fields drawn uniformly

    def __post_init__(self) -> None:
        check_option(is_int(self.members) and self.members >= 1, "members", self.members,
                     "an integer >= 1")
        check_option(self.sampler in SAMPLERS, "sampler", self.sampler, ", ".join(SAMPLERS))
        check_option(is_int(self.startup) and self.startup >= 1, "startup", self.startup,
                     "an integer >= 1")


@register_controller("autokd")
class AutoKDController(Controller):
    name = "autokd"
    Config = AutoKDConfig

    def __init__(self, choices, seed: int = 0, **options) -> None:
        super().__init__(choices, seed, **options)
        self._optuna = import_optuna(self.name)
        fields = list(self.config.family_fields) or [f"d{i}" for i in range(len(self.choices))]
        check_option(len(fields) <= len(self.choices), "family_fields", len(fields),
                     f"at most one field per decision ({len(self.choices)})")
        shaped = len(fields)  # the decisions a family shapes; the rest it chooses outright
        self.family = Family(fields, self.choices[:shaped], self.config.family_values or None,
                             self.config.family_ordered, self.config.family_free)
        self.seed = seed
        distributions = self._optuna.distributions
        self._distributions = {
            **{name: distributions.FloatDistribution(0.0, 1.0) for name in self.family.names},
            **{f"x{i}": distributions.CategoricalDistribution(range(n))
               for i, n in enumerate(self.choices[shaped:])}}
        self._shaped = shaped
        # per family in proposal order: its BO parameters, the ids of its members so far and the
        # rewards told, as [id, reward] pairs
        self.families: list[dict] = []
        self._family_of: dict[int, int] = {}  # candidate id -> family index

    def _propose(self, n: int) -> list[tuple]:
        proposals = []
        for _ in range(n):
            if not self.families or len(self.families[-1]["ids"]) >= self.config.members:
                self.families.append({"params": self._propose_family(len(self.families)),
                                      "ids": [], "rewards": []})
            index, family = len(self.families) - 1, self.families[-1]
            member = len(family["ids"])
            candidate_id = self.num_asked + len(proposals)
            family["ids"].append(candidate_id)
            self._family_of[candidate_id] = index
            proposals.append((self._member(index, member, family["params"]), None,
                              {"index": index, "member": member,
                               "parameters": dict(family["params"])}))
        return proposals

    def _propose_family(self, index: int) -> dict:
        history = [(f["params"], self._score(f)) for f in self.families]
        sampler = make_sampler(self._optuna, self.config.sampler, proposal_seed(self.seed, index),
                               self.config.startup)
        params = optuna_proposal(self._optuna, sampler, self._distributions, history)
        return {name: float(v) if name in self.family.names else int(v)
                for name, v in params.items()}

    def _member(self, index: int, member: int, params: dict) -> list[int]:
        rng = np.random.default_rng([self.seed, index, member])
        shape = {name: params[name] for name in self.family.names}
        extra = [params[f"x{i}"] for i in range(len(self.choices) - self._shaped)]
        return self.family.sample(shape, rng) + extra

    def _score(self, family: dict) -> float | None:
        """The family's mean member reward once all its members are told; None before."""
        if len(family["rewards"]) < self.config.members:
            return None
        return float(np.mean([r for _, r in family["rewards"]]))

    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        family = self.families[self._family_of[candidate.id]]
        family["rewards"].append([candidate.id, reward])
        score = self._score(family)
        return {} if score is None else {"family_reward": score}

    def _extra_state(self) -> dict:
        return {"seed": self.seed,
                "families": [{"params": dict(f["params"]), "ids": list(f["ids"]),
                              "rewards": [list(r) for r in f["rewards"]]}
                             for f in self.families]}

    def _load_extra_state(self, state: dict) -> None:
        families = [{"params": dict(f["params"]), "ids": [int(i) for i in f["ids"]],
                     "rewards": [[int(i), float(r)] for i, r in f["rewards"]]}
                    for f in state["families"]]
        self.seed = int(state["seed"])
        self.families = families
        self._family_of = {i: k for k, f in enumerate(families) for i in f["ids"]}
