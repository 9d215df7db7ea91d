"""A lookup-table latency predictor: a student's latency is the sum of its layers' latencies.

MnasNet measures every candidate on the phone; a search that cannot afford that (large inputs,
many candidates, a device busy training) predicts instead. Each layer of a student is one
``search_spaces.builder.Layer`` and is named by its *signature*: the layer's own block string (op,
kernel, stride, expansion, output channels, squeeze-excite, and ``noskip`` unless it really adds a
residual) and its input shape, e.g. ``ir_r1_k5_s2_e6_c16_se0.25_noskip`` at ``(12, 14, 14)``. The
global pooling and classifier count as one more entry. The same signature recurs across many
candidates (every stage after the first sees one of few input widths, at a resolution the skeleton
fixes), so the table stops growing early in a search.

The table is filled lazily: a signature is measured, exactly as that layer is built in a real
student, the first time a prediction needs it, and kept in a :class:`LatencyCache` (on disk if the
cache has a path), so it is measured once per device. Lazy filling needs nothing from the search
space and covers any architecture (the published MnasNets too); ``fill(archs)`` measures what a
batch of candidates needs in one go, with a progress bar. The sum leaves out the per-call overhead
of the network around its layers, so predictions rank candidates well and sit within some percent
of a measurement; ``research/bench_latency.py`` prints both the rank correlation and the ratio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from functools import partial

import torch
from torch import nn

from search_spaces import Architecture
from search_spaces.builder import Layer

from ..common.cores import CoreLock
from .cache import LatencyCache, LatencyJob
from .measure import LatencyConfig


class Classifier(nn.Module):
    """The tail of a student: global average pooling and the linear classifier (as in eval)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3)))


class LatencyTable:
    """Predicts latency in ms as a sum of per-layer latencies measured once per device."""

    def __init__(self, cache: LatencyCache, config: LatencyConfig = LatencyConfig(),
                 num_classes: int = 10, lock: CoreLock | None = None) -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.cache = cache  # where layer latencies live; may be shared with whole-model entries
        self.config = config  # the student's input size, threads, device and timing options
        self.num_classes = num_classes
        self.lock = lock  # held while measuring missing layers

    def predict(self, arch: Architecture | str) -> float:
        """Predicted latency of ``arch`` in ms, measuring any layer the table lacks first."""
        return sum(stats.median_ms for stats in self.cache.lookup(self.jobs(arch), self.lock))

    def fill(self, archs: Iterable[Architecture | str], progress: bool = True) -> None:
        """Measure every layer these architectures need that the table lacks."""
        jobs = [job for arch in archs for job in self.jobs(arch)]
        self.cache.lookup(jobs, self.lock, progress=progress)

    def jobs(self, arch: Architecture | str) -> list[LatencyJob]:
        """One job per layer of ``arch`` in order, then the pooling + classifier tail."""
        arch = Architecture.parse(arch) if isinstance(arch, str) else arch
        channels, height, width = self.config.input_size
        jobs = []
        for block in arch.blocks:
            for i in range(block.layers):
                stride = block.stride if i == 0 else 1
                # Layer's residual rule; skip is only named in the signature where it acts.
                residual = block.skip and stride == 1 and channels == block.channels
                layer = dataclasses.replace(block, layers=1, stride=stride, skip=residual)
                jobs.append(self._job({"layer": str(layer)}, (channels, height, width),
                                      partial(Layer, layer, channels, stride)))
                # 'same' padding of an odd kernel: the output is ceil(input / stride).
                channels, height, width = (block.channels, -(-height // stride),
                                           -(-width // stride))
        jobs.append(self._job({"classifier": self.num_classes}, (channels, height, width),
                              partial(Classifier, channels, self.num_classes)))
        return jobs

    def _job(self, names: dict, input_size: tuple[int, int, int],
             build: Callable[[], nn.Module]) -> LatencyJob:
        # every layer against the reference at the student's input: one calibration, one scale
        return LatencyJob(names, dataclasses.replace(self.config, input_size=input_size), build,
                          reference_input=self.config.input_size)
