"""Random search: every candidate drawn uniformly and independently.

The reference baseline every NAS paper compares to (Li & Talwalkar 2019 show it is a strong one).
With seed ``s`` it proposes exactly what ``space.sample(numpy.random.default_rng(s))`` draws,
call after call. Its numpy generator is also the source of randomness of evolution, which starts
as random search.
"""

from __future__ import annotations

import numpy as np

from .base import Candidate, Controller
from .registry import register_controller


@register_controller("random")
class RandomSearch(Controller):

    def __init__(self, choices, seed: int = 0, **options) -> None:
        super().__init__(choices, seed, **options)
        self.rng = np.random.default_rng(seed)

    def _propose(self, n: int) -> list[tuple[list[int], None]]:
        return [(self._uniform(), None) for _ in range(n)]

    def _uniform(self) -> list[int]:
        return [int(self.rng.integers(n)) for n in self.choices]

    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        return {}

    def _extra_state(self) -> dict:
        # bit_generator.state is a dict of str and int (128-bit ints pickle as plain ints).
        return {"rng": self.rng.bit_generator.state}

    def _load_extra_state(self, state: dict) -> None:
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except ValueError as err:  # another bit generator or a malformed dict
            raise TypeError(f"bad numpy rng state: {err}") from err
        self.rng = rng
