"""What a predictor sees of a student: its architecture encoded as numbers, in named parts that
can each be switched off (the ablation).

* ``decisions``: one-hot of every decision of the space (which op, kernel, ... each stage took);
* ``blocks``: per searched block its op's expansion and kind, kernel, SE ratio, skip, channels and
  layers as numbers, so that a model can generalise along them (wider, deeper) where one-hot
  cannot;
* ``cost``: log params, log MACs and log latency.

The teacher's embedding and the student's functional embedding (:mod:`akd.predict.probes`) come
on top, from their own functions: they need the teacher and the data, this needs only the space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from search_spaces import Architecture, SearchSpace

ARCH_PARTS = ("decisions", "blocks", "cost")
OP_KINDS = ("cn", "ds", "ir")


def encode_decisions(space: SearchSpace, decisions: Sequence[int]) -> np.ndarray:
    """One-hot of each decision, concatenated in the space's order."""
    if len(decisions) != len(space.choices):
        raise ValueError(f"{len(decisions)} decisions for a space of {len(space.choices)}: the "
                         f"architecture is not of this space")
    out = np.zeros(sum(space.choices))
    offset = 0
    for index, choices in zip(decisions, space.choices):
        if not 0 <= index < choices:
            raise ValueError(f"decision index {index} outside 0..{choices - 1}: the "
                             "architecture is not of this space")
        out[offset + index] = 1.0
        offset += choices
    return out


def encode_blocks(arch: Architecture) -> np.ndarray:
    """Per block: op kind (one-hot), expansion, kernel, SE ratio, skip, log channels, layers."""
    rows = []
    for block in arch.blocks:
        kind = [float(block.op == k) for k in OP_KINDS]
        rows.append(kind + [block.expansion, block.kernel, block.se_ratio, float(block.skip),
                            math.log(block.channels), block.layers])
    return np.array(rows, dtype=float).ravel()


def encode_cost(params: float, macs: float, latency_ms: float | None) -> np.ndarray:
    return np.array([math.log(params), math.log(macs),
                     math.log(latency_ms) if latency_ms else 0.0])


def encode_architecture(space: SearchSpace, arch: str | Architecture, cost: dict,
                        parts: Sequence[str] = ARCH_PARTS) -> np.ndarray:
    """The ``parts`` of ``arch``'s encoding (``cost``: ``params``, ``macs``, ``latency_ms``)."""
    arch = Architecture.parse(arch) if isinstance(arch, str) else arch
    try:
        decisions = space.encode(arch)
    except ValueError as error:
        raise ValueError(f"{arch} is not an architecture of the {space.name} space the "
                         f"predictor was fitted on: {error}") from None
    pieces = {"decisions": lambda: encode_decisions(space, decisions),
              "blocks": lambda: encode_blocks(arch),
              "cost": lambda: encode_cost(cost["params"], cost["macs"], cost.get("latency_ms"))}
    unknown = [p for p in parts if p not in pieces]
    if unknown:
        raise ValueError(f"unknown encoding part {unknown[0]!r}; allowed: {', '.join(pieces)}")
    return np.concatenate([pieces[p]() for p in parts]) if parts else np.zeros(0)
