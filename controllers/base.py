"""The interface every search strategy offers: ask for candidates, tell their rewards.

In the spirit of Optuna's ``BaseSampler``: a controller knows a search space only through the
number of choices of each decision, and the search loop talks to it through four calls.

* ``ask(n)`` proposes ``n`` candidates. Each carries a unique ``id`` (its ask order), its
  ``decisions`` and whatever the strategy needs to learn from it later (the LSTM's log-probability).
* ``tell(candidate, reward)`` reports one finished candidate. Candidates may be told in any order
  and in partial batches, since parallel evaluators finish out of order; each exactly once. A
  failed candidate is told the loop's worst reward, never NaN. ``tell`` returns the scalar
  statistics of the learning step it triggered (empty when it triggered none), for logging.
* ``state_dict()`` / ``load_state_dict()`` save and restore the complete state: learned parameters,
  optimizer, baseline, RNG, population, told results not yet learned from, and the *pending*
  candidates (asked, not told). Keeping the pending ones lets a resumed search re-evaluate exactly
  the candidates that were in flight when it stopped (``pending``) and then continue as the
  uninterrupted run would have. The state holds only tensors, numbers, strings, lists and dicts,
  so ``torch.load(..., weights_only=True)`` reads it back.
* Seeding: the constructor's ``seed`` fixes every random draw, so the same calls give the same
  candidates on CPU.

Subclasses set ``name`` and ``Config`` and fill in the hooks ``_propose``, ``_learn``,
``_extra_state`` and ``_load_extra_state``.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

STATE_FORMAT = 1  # bumped when the layout of state_dict changes


@dataclass
class Candidate:
    """One proposed architecture, as the controller hands it out and wants it back."""

    id: int  # unique within a controller, in ask order; tell() matches candidates on it
    decisions: list[int]  # one choice index per decision of the space
    log_prob: float | None = None  # log-probability under the policy that proposed it (LSTM only)
    family: dict | None = None  # the family it was drawn from (autokd): its index, the member's
    # index and the family's parameters; plain data, recorded with the trial


@dataclass
class NoOptions:
    """Config of a controller that takes no options."""


@dataclass
class PolicyReadout:
    """What the learned policy believes, for logs and the report."""

    marginals: list[list[float]]  # per decision, P(choice) averaged over sampled prefixes
    greedy: list[int]  # argmax at every step, each fed back: the usual stand-in for the mode
    greedy_prob: float  # probability of the greedy architecture under the policy
    entropy: float  # expected sequence entropy in nats (Monte Carlo)
    max_entropy: float  # entropy of the uniform policy, sum of log(choices), for scale


class Controller(ABC):
    """A search strategy over a fixed list of categorical decisions."""

    name: str = "controller"  # the registry name; state_dict records it
    Config: type = NoOptions  # the dataclass of the controller's keyword options

    def __init__(self, choices: Sequence[int], seed: int = 0, **options: Any) -> None:
        self.choices = _checked_choices(choices)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed = {seed!r} is invalid; allowed: an integer >= 0")
        self.config = self._make_config(options)
        self._next_id = 0
        self._pending: dict[int, Candidate] = {}

    # ---- the public calls ---------------------------------------------------------------------

    def ask(self, n: int = 1) -> list[Candidate]:
        """``n`` new candidates; they stay pending until told."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"ask(n): n = {n!r} is invalid; allowed: an integer >= 1")
        batch = []
        for decisions, log_prob, *family in self._propose(n):
            candidate = Candidate(self._next_id, list(decisions), log_prob, *family)
            # keep a copy, so that editing the handed-out candidate cannot change what is learned
            self._pending[candidate.id] = Candidate(**asdict(candidate))
            self._next_id += 1
            batch.append(candidate)
        return batch

    def tell(self, candidate: Candidate, reward: float) -> dict[str, float]:
        """Report the reward of a pending candidate; returns statistics of any update it caused."""
        if isinstance(reward, bool) or not isinstance(reward, numbers.Real) \
                or not math.isfinite(reward):
            raise ValueError(f"reward = {reward!r} for candidate {candidate.id} is invalid; "
                             "allowed: a finite number (tell a failed candidate the worst reward)")
        asked = self._pending.get(candidate.id)
        if asked is None:
            state = "was already told" if 0 <= candidate.id < self._next_id else "was never asked"
            raise ValueError(f"candidate {candidate.id} {state}; tell each asked candidate once")
        if list(candidate.decisions) != asked.decisions:
            raise ValueError(f"candidate {candidate.id} has decisions {list(candidate.decisions)} "
                             f"but was asked with {asked.decisions}; tell the candidate as asked")
        del self._pending[candidate.id]
        return self._learn(asked, float(reward))

    @property
    def pending(self) -> list[Candidate]:
        """Candidates asked and not yet told, oldest first (copies)."""
        return [Candidate(**asdict(c)) for c in sorted(self._pending.values(), key=_by_id)]

    @property
    def num_asked(self) -> int:
        return self._next_id

    def state_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "controller": self.name,
            "choices": list(self.choices),
            "config": asdict(self.config),
            "next_id": self._next_id,
            "pending": [asdict(c) for c in sorted(self._pending.values(), key=_by_id)],
            **self._extra_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state saved by a controller of the same name, space and options."""
        if not isinstance(state, dict):
            raise ValueError(f"controller state must be a dict from state_dict(), got "
                             f"{type(state).__name__}")
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"controller state has format {state.get('format')!r}; this version "
                             f"of akd reads format {STATE_FORMAT}")
        expected = {"controller": self.name, "choices": list(self.choices),
                    "config": asdict(self.config)}
        for key, value in expected.items():
            if state.get(key) != value:
                raise ValueError(f"controller state does not match this controller: its {key} is "
                                 f"{state.get(key)!r}, this controller's is {value!r}; build the "
                                 "controller as the saved one was built")
        try:
            pending = [Candidate(**c) for c in state["pending"]]
            next_id = int(state["next_id"])
            self._load_extra_state(state)
        except (KeyError, TypeError) as err:
            raise ValueError(f"controller state is incomplete or corrupt ({err!r}); pass the "
                             "unchanged dict that state_dict() returned") from err
        self._next_id = next_id
        self._pending = {c.id: c for c in pending}

    # ---- optional capabilities: each strategy that has one overrides its default --------------

    def readout(self) -> PolicyReadout | None:
        """What the strategy's learned policy believes (marginals, greedy choice, entropy), for
        logs and the report; None for strategies without a policy (random, evolution)."""
        return None

    @classmethod
    def accepts_option(cls, option: str) -> bool:
        """Whether ``option`` is one of this strategy's keyword options."""
        return option in {f.name for f in fields(cls.Config)}

    # ---- hooks for strategies -----------------------------------------------------------------

    @abstractmethod
    def _propose(self, n: int) -> list[tuple]:
        """``n`` pairs of (decisions, log-probability or None), or triples with the family the
        candidate was drawn from."""

    @abstractmethod
    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        """Take in one finished candidate (already checked and removed from pending)."""

    @abstractmethod
    def _extra_state(self) -> dict:
        """The strategy's own state, as weights_only-loadable values."""

    @abstractmethod
    def _load_extra_state(self, state: dict) -> None:
        """Restore what ``_extra_state`` saved (KeyError / TypeError mean a corrupt state)."""

    @classmethod
    def _make_config(cls, options: dict[str, Any]):
        valid = [f.name for f in fields(cls.Config)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)} for controller {cls.name!r}; "
                             f"valid options: {', '.join(valid) or 'none'}")
        return cls.Config(**options)


def check_option(ok: bool, field: str, value: object, allowed: str) -> None:
    """The one-line ValueError of a bad controller option, naming what is allowed."""
    if not ok:
        raise ValueError(f"controller option {field} = {value!r} is invalid; allowed: {allowed}")


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_choices(choices: Sequence[int]) -> tuple[int, ...]:
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
        raise ValueError(f"choices = {choices!r} is invalid; allowed: a non-empty sequence of "
                         "integers >= 1 (space.choices)")
    for i, n in enumerate(choices):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"choices[{i}] = {n!r} is invalid; allowed: an integer >= 1")
    return tuple(int(n) for n in choices)


def _by_id(candidate: Candidate) -> int:
    return candidate.id
