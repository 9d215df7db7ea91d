"""The arms of a search: what each trains its candidates with, as data rather than name checks.

An arm is one way of scoring a candidate under the same budget. ``akd`` distils every candidate
from the teacher (the proxy's alpha), so its reward uses the accuracy after KD; ``nas`` trains the
same candidates on labels only (alpha 0), plain NAS. Everything that differs between the arms
(whether a teacher is needed, the training's alpha, which arm's student an export prefers) reads
these fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmKind:
    name: str
    distills: bool  # trains candidates with KD from the teacher; False: labels only
    signal: str  # what the reward's accuracy is, in words (logs, report)


ARMS: dict[str, ArmKind] = {
    "akd": ArmKind("akd", True, "validation accuracy after proxy KD from the teacher"),
    "nas": ArmKind("nas", False, "validation accuracy after proxy training on labels only"),
}


def arm_kind(name: str) -> ArmKind:
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}; allowed: {', '.join(ARMS)}")
    return ARMS[name]


def searched_with(distills: bool) -> str:
    """The arm that searches with the teacher (``True``) or with labels only: the two sides of
    the AKD paper's gain metric and 2x2 table."""
    return next(arm.name for arm in ARMS.values() if arm.distills == distills)


def any_distills(names: list[str] | tuple[str, ...]) -> bool:
    """Whether any of these arms needs the teacher."""
    return any(arm_kind(name).distills for name in names)
