"""Families of architectures: a low-dimensional, seeded distribution over a space's decisions.

AutoKD (Henha Eyono et al.) searches for a *family* of students rather than one student: the
parameters of a generator, every member of which is a sample. Here a family shares one
distribution per *field* across all the blocks of a space (the part of a decision's name after
the block, ``b3.kernel`` -> ``kernel``), so MnasNet's 42 decisions (7 blocks x op, kernel, se,
skip, channels, layers) become 12 numbers, each in [0, 1]:

* a field of more than two unordered choices (``op``, ``kernel``): one weight per value
  (``op.mbconv6``); a block draws each of its values with probability weight / sum of its values'
  weights (uniformly when they are all 0): the mix of conv ops, the mix of kernels;
* a field of two unordered choices (``se``, ``skip``): the probability of the second (SE on, skip
  on);
* an ordered field (``channels``, ``layers``): the preferred position along the block's choices,
  0 the smallest and 1 the largest; a block draws choice ``i`` of ``n`` with probability
  proportional to ``exp(-((i - p (n - 1)) / SPREAD) ** 2 / 2)``: the width and depth
  multipliers of the family.

A space says how its decisions group into fields (:meth:`SearchSpace.family_spec`): NAGO's
family is its 8 generator parameters, each a position of its own, with the graphs' seed drawn
uniformly, so its members are draws of one generator. A member is
``family.sample(parameters, rng)``; with the same parameters and a generator of the same seed it
is the same decision list, on any machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ORDERED = ("channels", "layers")  # fields whose choices are ordered sizes: a position, not a mix
SPREAD = 0.5  # width (std) of an ordered field's distribution, in choices: ~88% of the members
# take the preferred choice when it is one, the rest mostly a neighbour


@dataclass(frozen=True)
class FamilyParameter:
    name: str  # e.g. "op.mbconv6" (a value's weight), "se" (a probability), "channels"
    field: str  # the decision field it shapes
    kind: str  # "weight", "probability" or "position"
    value: str | None = None  # the value a weight is for


class Family:
    """The family over decisions of ``choices`` whose shared distributions are ``fields`` (one
    field name per decision; :meth:`SearchSpace.family_spec`), ``ordered`` of them positions and
    ``free`` ones drawn uniformly with no parameter (``values``: what each choice stands for, for
    the parameters' names; choice indices without it)."""

    def __init__(self, fields: Sequence[str], choices: Sequence[int],
                 values: Sequence[Sequence] | None = None,
                 ordered: Sequence[str] = ORDERED, free: Sequence[str] = ()) -> None:
        if len(fields) != len(choices) or (values is not None and len(values) != len(choices)):
            raise ValueError(f"a family needs one field (and value list) per decision: "
                             f"{len(fields)} fields, {len(choices)} decisions")
        self.choices = tuple(int(n) for n in choices)
        self.fields = list(fields)
        self.free = set(free)
        self.labels = [[_label(v) for v in vals] for vals in values] if values is not None \
            else [[str(i) for i in range(n)] for n in self.choices]
        parameters: dict[str, FamilyParameter] = {}
        for field, n, labels in zip(self.fields, self.choices, self.labels):
            if n == 1 or field in self.free:
                continue
            if field in ordered:
                parameters.setdefault(field, FamilyParameter(field, field, "position"))
            elif n == 2:
                parameters.setdefault(field, FamilyParameter(field, field, "probability"))
            else:
                for label in labels:
                    name = f"{field}.{label}"
                    parameters.setdefault(name, FamilyParameter(name, field, "weight", label))
        self.parameters = tuple(parameters.values())

    @classmethod
    def of_space(cls, space) -> "Family":
        fields, ordered, free = space.family_spec()
        return cls(fields, space.choices, [d.values for d in space.decisions], ordered, free)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def probabilities(self, parameters: Mapping[str, float]) -> list[np.ndarray]:
        """Per decision, the probability of each of its choices under ``parameters``."""
        missing = [name for name in self.names if name not in parameters]
        bad = [name for name in self.names if name in parameters
               and not 0 <= float(parameters[name]) <= 1]
        if missing or bad:
            raise ValueError(f"family parameters {', '.join(missing or bad)} are "
                             f"{'missing' if missing else 'outside [0, 1]'}")
        kinds = {p.name: p.kind for p in self.parameters}
        result = []
        for field, n, labels in zip(self.fields, self.choices, self.labels):
            if n == 1 or field in self.free:
                probs = np.ones(n)
            elif kinds.get(field) == "position":
                centre = float(parameters[field]) * (n - 1)
                probs = np.exp(-0.5 * ((np.arange(n) - centre) / SPREAD) ** 2)
            elif kinds.get(field) == "probability":
                on = float(parameters[field])
                probs = np.array([1 - on, on])
            else:
                probs = np.array([float(parameters[f"{field}.{label}"]) for label in labels])
                if probs.sum() == 0:
                    probs = np.ones(n)
            result.append(probs / probs.sum())
        return result

    def sample(self, parameters: Mapping[str, float], rng: np.random.Generator) -> list[int]:
        """One member: a decision list drawn from the family."""
        return [int(rng.choice(len(p), p=p)) for p in self.probabilities(parameters)]


def _label(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
