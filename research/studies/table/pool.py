"""The table's students: a seeded pool that spans the space's cost range.

Uniform samples of a factorized space pile up around its median cost (each stage's choices
average out), so a pool of them says little about the small and the large students a user may
want to ship. The pool is instead chosen from ``draws`` seeded samples so that the logarithm of
its MACs is evenly spread from the cheapest sample to the dearest: target ``k`` of ``n`` sits at
fraction ``k / (n - 1)`` of that range and takes the nearest sample not yet taken. MACs stand in
for latency here because they cost nothing to count; the latency of each chosen student is then
measured (and cached) and recorded with it. The pool is kept in a seeded random order, so a
table cut short (the first students' trainings done, the rest missing) is still an unbiased
subset of it.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from search_spaces import SearchSpace, count_cost

from akd.errors import RunError


def spread_by_cost(costs: list[float], n: int) -> list[int]:
    """Indices of ``n`` of ``costs`` whose logarithms are evenly spread over their range (the
    nearest untaken cost to each evenly spaced target; the lower index on a tie)."""
    if n > len(costs):
        raise ValueError(f"cannot choose {n} of {len(costs)} costs")
    logs = [math.log(c) for c in costs]
    low, high = min(logs), max(logs)
    taken: set[int] = set()
    chosen = []
    for k in range(n):
        target = low + (high - low) * (k / (n - 1) if n > 1 else 0.5)
        best = min((i for i in range(len(logs)) if i not in taken),
                   key=lambda i: (abs(logs[i] - target), i))
        taken.add(best)
        chosen.append(best)
    return chosen


def draw_pool(space: SearchSpace, n: int, draws: int, seed: int,
              input_size: tuple[int, int, int], num_classes: int,
              progress: bool = False) -> list[dict]:
    """``n`` distinct students of ``space`` spread over the cost range of ``draws`` seeded
    samples, in a seeded random order: each ``{"arch", "decisions", "params", "macs"}``."""
    rng = np.random.default_rng(seed)
    sampled: dict[str, list[int]] = {}  # arch string -> decisions, first draw kept
    for _ in range(draws):
        decisions = space.sample(rng)
        sampled.setdefault(str(space.decode(decisions)), decisions)
    if len(sampled) < n:
        raise RunError(f"only {len(sampled)} distinct architectures among {draws} samples of the "
                       f"space; lower --archs or raise --draws")
    archs = list(sampled)
    costs = [count_cost(arch, input_size, num_classes)  # fvcore: about 0.15 s each
             for arch in tqdm(archs, desc="counting MACs", unit="arch", disable=not progress)]
    chosen = spread_by_cost([c.macs for c in costs], n)
    order = rng.permutation(len(chosen))
    return [{"arch": archs[chosen[i]], "decisions": sampled[archs[chosen[i]]],
             "params": costs[chosen[i]].params, "macs": costs[chosen[i]].macs}
            for i in order]
