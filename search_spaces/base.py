"""The interface every search space offers a controller: a fixed list of categorical decisions.

A space is a table of decisions, each with the tuple of values its choices stand for. A list of
integers (one index per decision) decodes to an :class:`Architecture`, and an architecture of the
space encodes back to the same list, so the two are in bijection. Subclasses only say how values
become blocks (``_assemble``) and how blocks give their values back (``_disassemble``).
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .architecture import Architecture
from .family import ORDERED


@dataclass(frozen=True)
class Decision:
    name: str  # "<block>.<field>", e.g. "b3.kernel": what a log or report calls it
    values: tuple  # the option each choice index stands for, in index order


class SearchSpace(ABC):
    """A categorical search space over architectures."""

    name: str = "space"

    def __init__(self, decisions: Sequence[Decision]) -> None:
        self.decisions = tuple(decisions)
        for decision in self.decisions:
            if len(set(decision.values)) != len(decision.values) or not decision.values:
                raise ValueError(f"decision {decision.name}: options {decision.values} must be "
                                 "non-empty and distinct")

    @property
    def choices(self) -> tuple[int, ...]:
        """Number of choices of each decision, in order: all a controller needs to know."""
        return tuple(len(d.values) for d in self.decisions)

    @property
    def decision_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.decisions)

    @property
    def size(self) -> int:
        """Number of distinct architectures in the space (an exact int; it may exceed 2**63)."""
        return math.prod(self.choices)

    def sample(self, rng: np.random.Generator | int | None = None) -> list[int]:
        """One decision list drawn uniformly from the space."""
        rng = np.random.default_rng(rng)
        return [int(rng.integers(n)) for n in self.choices]

    def __iter__(self) -> Iterator[list[int]]:
        """Every decision list of the space, in lexicographic order (for small spaces)."""
        return (list(d) for d in itertools.product(*(range(n) for n in self.choices)))

    def hand_designed(self, width: float = 1.0) -> Architecture | None:
        """The space's hand-designed reference network at ``width`` times its base channels, the
        student a search has to beat; None for spaces that have none (the default)."""
        return None

    def decode(self, decisions: Sequence[int]) -> Architecture:
        if len(decisions) != len(self.decisions):
            raise ValueError(f"{self.name} space expects {len(self.decisions)} decisions, got "
                             f"{len(decisions)}")
        values = []
        for decision, index in zip(self.decisions, decisions):
            if not isinstance(index, (int, np.integer)) or not 0 <= index < len(decision.values):
                raise ValueError(f"decision {decision.name} = {index!r} is out of range; allowed: "
                                 f"0..{len(decision.values) - 1} for {decision.values}")
            values.append(decision.values[int(index)])
        return self._assemble(values)

    def encode(self, arch: Architecture | str) -> list[int]:
        if isinstance(arch, str):
            arch = self.parse(arch)
        values = self._disassemble(arch)
        decisions = []
        for decision, value in zip(self.decisions, values, strict=True):
            if value not in decision.values:
                raise ValueError(f"architecture is outside the {self.name} space: "
                                 f"{decision.name} = {value!r}; allowed: {decision.values}")
            decisions.append(decision.values.index(value))
        return decisions

    def family_spec(self) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
        """How a family (:mod:`search_spaces.family`) shares distributions across this space's
        decisions: one field name per decision (by default the part after the block,
        ``b3.kernel`` -> ``kernel``), the fields that are ordered sizes (a position, not a mix),
        and the fields drawn uniformly with no parameter."""
        return ([name.rsplit(".", 1)[-1] for name in self.decision_names],
                ORDERED, ())

    def parse(self, text: str):
        """The architecture a string of this space names (block strings by default)."""
        return Architecture.parse(text)

    def summary(self) -> str:
        lines = [f"{self.name} space: {len(self.decisions)} decisions, {self.size:.3e} "
                 "architectures"]
        lines += [f"  {d.name:<14} {', '.join(map(str, d.values))}" for d in self.decisions]
        return "\n".join(lines)

    @abstractmethod
    def _assemble(self, values: list) -> Architecture:
        """Architecture for one value per decision (already validated)."""

    @abstractmethod
    def _disassemble(self, arch: Architecture) -> list:
        """One value per decision read off ``arch``; ValueError if its shape is not the space's."""
