"""NAGO's space (Ru et al., *Neural Architecture Generator Optimization*, NeurIPS 2020): networks
drawn from a hierarchical random-graph generator with 8 parameters.

Three levels of graphs, each drawn once per network with networkx from the network's seed and
shared by every unit of its level (NAGO's hierarchical generator):

* top: a Watts-Strogatz graph of ``top.nodes`` cells (``top.k`` neighbours, rewiring ``top.p``);
* middle: each cell an Erdos-Renyi graph of ``mid.nodes`` nodes (edge probability ``mid.p``);
* bottom: each node a Watts-Strogatz graph of ``bottom.nodes`` operations, ReLU-conv3x3-BN.

A graph is made a DAG as RandWire and NAGO do, every edge pointing from the lower node index to
the higher: a node sums its predecessors' outputs (or takes the graph's input when it has none),
and the graph's output is the sum of the nodes without successors. The network is a stem conv,
then three stages of the top graph at widths ``c``, ``2c``, ``4c``, each after the first entered
by a strided 1x1 conv that halves the resolution, then global pooling and a linear classifier.
``c`` is the largest width (at least MIN_CHANNELS) whose graph body fits the space's parameter
budget, so networks of every size compete at about the same parameter count.

A network's string names everything it is built from, so it rebuilds exactly for any input size
and class count: ``nago:top=8,4,0.5:mid=5,0.6:bottom=6,3,0.4:seed=3:c=16``.
"""


import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import List

import networkx as nx
import numpy as np
import torch
from torch import nn

from .base import Decision, SearchSpace
from .registry import register_space

# the ranges of the NAGO code: nodes 3-10, K 2-5, P 0.1-1.0 (the middle level's P 0.2-1.0)
NODES = tuple(range(3, 11))
NEIGHBOURS = tuple(range(2, 6))
TOP_P = tuple(round(0.1 * i, 1) for i in range(1, 11))
MID_P = tuple(round(0.1 * i, 1) for i in range(2, 11))
STAGES = 3  # resolution stages, widths c, 2c, 4c
MIN_CHANNELS = 4
PREFIX = "nago:"
_PATTERN = re.compile(r"nago:top=(\d+),(\d+),([\d.]+):mid=(\d+),([\d.]+):"
                      r"bottom=(\d+),(\d+),([\d.]+):seed=(\d+):c=(\d+)$")


@dataclass(frozen=True)
class NagoArch:
    """One network of NAGO's space: the generator's 8 parameters, its seed and its width."""

    top: tuple[int, int, float]  # nodes, K, P of the Watts-Strogatz graph of cells
    mid: tuple[int, float]  # nodes, P of the Erdos-Renyi graph of a cell's nodes
    bottom: tuple[int, int, float]  # nodes, K, P of the Watts-Strogatz graph of a node's ops
    seed: int  # draws the three graphs
    channels: int  # c: the first stage's width

    def __str__(self) -> str:
        (tn, tk, tp), (mn, mp), (bn, bk, bp) = self.top, self.mid, self.bottom
        return (f"{PREFIX}top={tn},{tk},{tp:g}:mid={mn},{mp:g}:bottom={bn},{bk},{bp:g}:"
                f"seed={self.seed}:c={self.channels}")

    @classmethod
    def parse(cls, text: str) -> "NagoArch":
        match = _PATTERN.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a NAGO network; expected e.g. "
                             "'nago:top=8,4,0.5:mid=5,0.6:bottom=6,3,0.4:seed=3:c=16'")
        tn, tk, tp, mn, mp, bn, bk, bp, seed, c = match.groups()
        arch = cls((int(tn), int(tk), float(tp)), (int(mn), float(mp)),
                   (int(bn), int(bk), float(bp)), int(seed), int(c))
        arch.check()
        return arch

    def check(self) -> None:
        for name, nodes in (("top", self.top[0]), ("mid", self.mid[0]),
                            ("bottom", self.bottom[0])):
            if nodes < 2:
                raise ValueError(f"NAGO {name} graph needs >= 2 nodes, got {nodes}")
        for name, p in (("top", self.top[2]), ("mid", self.mid[1]), ("bottom", self.bottom[2])):
            if not 0 <= p <= 1:
                raise ValueError(f"NAGO {name} P = {p} is not a probability")
        if self.channels < 1 or self.top[1] < 1 or self.bottom[1] < 1:
            raise ValueError(f"NAGO network {self}: K and c must be >= 1")

    def graphs(self) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
        """The predecessors of every node of the top, middle and bottom DAGs."""
        seeds = np.random.SeedSequence(self.seed).generate_state(3)
        top = _watts_strogatz(*self.top, int(seeds[0]))
        mid = nx.erdos_renyi_graph(self.mid[0], self.mid[1], seed=int(seeds[1]))
        bottom = _watts_strogatz(*self.bottom, int(seeds[2]))
        return _predecessors(top), _predecessors(mid), _predecessors(bottom)

    @property
    def operations(self) -> int:
        """conv3x3 operations of one stage: cells x nodes x ops."""
        return self.top[0] * self.mid[0] * self.bottom[0]


def is_nago(arch: object) -> bool:
    return isinstance(arch, NagoArch) or (isinstance(arch, str) and arch.startswith(PREFIX))


def width_for_budget(top: int, mid: int, bottom: int, budget: int) -> int:
    """The largest first-stage width c (at least MIN_CHANNELS) whose graph body, every stage's
    conv3x3 operations and the strided transitions, holds at most ``budget`` parameters."""
    def body(c: int) -> int:
        ops = top * mid * bottom
        convs = sum(ops * (9 * (c << s) ** 2 + 2 * (c << s)) for s in range(STAGES))
        transitions = sum((c << (s - 1)) * (c << s) + 2 * (c << s) for s in range(1, STAGES))
        return convs + transitions

    c = MIN_CHANNELS
    while body(c + 1) <= budget:
        c += 1
    return c


class _Operation(nn.Sequential):
    def __init__(self, channels: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(channels))


class GraphModule(nn.Module):
    """Units wired as a DAG: a unit sums its predecessors' outputs (the input when it has none),
    and the module's output is the sum of the units without successors. Written so that
    TorchScript compiles it (the export writes a scripted model)."""

    predecessors: List[List[int]]  # typing's List: TorchScript reads these annotations
    sinks: List[int]

    def __init__(self, predecessors: list[list[int]], unit: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.predecessors = predecessors
        has_successor = {p for preds in predecessors for p in preds}
        self.sinks = [i for i in range(len(predecessors)) if i not in has_successor]
        self.units = nn.ModuleList(unit() for _ in predecessors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: List[torch.Tensor] = []
        for i, unit in enumerate(self.units):
            preds = self.predecessors[i]
            inputs = x if len(preds) == 0 else outputs[preds[0]]
            for p in preds[1:]:
                inputs = inputs + outputs[p]
            outputs.append(unit(inputs))
        result = outputs[self.sinks[0]]
        for s in self.sinks[1:]:
            result = result + outputs[s]
        return result


class NagoNet(nn.Module):
    """A network of NAGO's space (module docstring) for any input channels and class count."""

    def __init__(self, arch: NagoArch, num_classes: int, in_channels: int,
                 dropout: float = 0.2) -> None:
        super().__init__()
        top, mid, bottom = arch.graphs()
        c = arch.channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(c)]
        for stage in range(STAGES):
            width = c << stage
            if stage:
                layers += [nn.ReLU(), nn.Conv2d(width // 2, width, 1, stride=2, bias=False),
                           nn.BatchNorm2d(width)]
            layers.append(GraphModule(top, lambda w=width: GraphModule(
                mid, lambda: GraphModule(bottom, lambda: _Operation(w)))))
        self.features = nn.Sequential(*layers, nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c << (STAGES - 1), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x).mean((2, 3))))


@register_space("nago")
class NagoSpace(SearchSpace):
    """NAGO's 8 generator parameters and the graphs' seed as categorical decisions; a network's
    width is set by ``budget`` (parameters of the graph body; a graph of many operations stays
    above it at the smallest width). ``max_nodes`` caps the node counts (NAGO's code: 10), for
    spaces a 2-core CPU can train: a stage of the largest graphs holds 1,000 convolutions."""

    name = "nago"

    def __init__(self, budget: int = 200_000, seeds: int = 8, max_nodes: int = NODES[-1]) -> None:
        for name, value, low in (("budget", budget, 1), ("seeds", seeds, 1),
                                 ("max_nodes", max_nodes, NODES[0])):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"nago space: {name} must be an integer >= {low}, got "
                                 f"{value!r}")
        self.budget = budget
        nodes = tuple(n for n in NODES if n <= max_nodes)  # a cap below NAGO's 10 for CPU runs
        super().__init__([
            Decision("top.nodes", nodes), Decision("top.k", NEIGHBOURS), Decision("top.p", TOP_P),
            Decision("mid.nodes", nodes), Decision("mid.p", MID_P),
            Decision("bottom.nodes", nodes), Decision("bottom.k", NEIGHBOURS),
            Decision("bottom.p", TOP_P), Decision("graph.seed", tuple(range(seeds)))])

    def family_spec(self) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
        """A family is NAGO's generator: each of its 8 parameters a position of its own, the
        graphs' seed drawn uniformly, so a family's members are draws of one generator."""
        names = list(self.decision_names)
        return names, tuple(names[:-1]), ("graph.seed",)

    def parse(self, text: str) -> NagoArch:
        return NagoArch.parse(text)

    def _assemble(self, values: list) -> NagoArch:
        tn, tk, tp, mn, mp, bn, bk, bp, seed = values
        return NagoArch((tn, tk, tp), (mn, mp), (bn, bk, bp), seed,
                        width_for_budget(tn, mn, bn, self.budget))

    def _disassemble(self, arch: NagoArch) -> list:
        (tn, tk, tp), (mn, mp), (bn, bk, bp) = arch.top, arch.mid, arch.bottom
        return [tn, tk, tp, mn, mp, bn, bk, bp, arch.seed]


def _watts_strogatz(nodes: int, k: int, p: float, seed: int) -> nx.Graph:
    """A connected Watts-Strogatz graph; K is clamped below the node count, as a ring of n nodes
    has at most n - 1 neighbours."""
    return nx.connected_watts_strogatz_graph(nodes, min(k, nodes - 1), p, tries=100, seed=seed)


def _predecessors(graph: nx.Graph) -> list[list[int]]:
    """Each node's lower-indexed neighbours: the DAG with every edge from low index to high."""
    return [sorted(n for n in graph.neighbors(node) if n < node) for node in range(len(graph))]
