"""The reference model that interleaved measurements are taken against, and its calibration.

An interleaved latency is a ratio to this fixed network times the network's own latency on the
machine. The ratio is what cancels the host's speed drift; the reference's latency only sets the
scale, so it is measured once per machine and setting, with care (the fastest of several direct
measurements: interference only ever slows a run down), and cached like any latency: every later
ratio on that machine shares the scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import nn

from search_spaces import build_model

from .measure import LatencyConfig, LatencyStats, measure_with

# a mid-sized MnasNet-style student: of the same kind and about the latency of the students it is
# compared with, so that both see the same caches and kernels
REFERENCE_ARCH = ("cn_r1_k3_s1_c8|ir_r1_k3_s2_e6_c16|ir_r2_k5_s2_e6_c24_se0.25|"
                  "ir_r2_k3_s1_e6_c40|cn_r1_k1_s1_c128")
CALIBRATION_ROUNDS = 7  # direct measurements; the fastest is the reference's latency


def reference_model(config: LatencyConfig) -> nn.Module:
    """The reference network for inputs of ``config.input_size`` (10 classes)."""
    return build_model(REFERENCE_ARCH, num_classes=10, in_channels=config.input_size[0])


def calibrate(config: LatencyConfig) -> LatencyStats:
    """The reference's own latency under ``config``: the fastest of CALIBRATION_ROUNDS direct
    measurements, so that a slow window does not set the scale (one did, doubling it, in
    experiments/bench_latency.py on a shared host)."""
    direct = dataclasses.replace(config, method="direct")
    model = reference_model(config)
    rounds = [measure_with(model, direct) for _ in range(CALIBRATION_ROUNDS)]
    medians = np.array([r.median_ms for r in rounds])
    fastest = rounds[int(np.argmin(medians))]
    return dataclasses.replace(fastest, runs=sum(r.runs for r in rounds),
                               attempts=sum(r.attempts for r in rounds))


def reference_names(reference_input: tuple[int, int, int] | None = None) -> dict:
    """What an interleaved latency's cache key adds: the reference it is a ratio to, and the
    input the reference ran at when it is not the timed module's own (a layer's)."""
    names = {"method": "interleaved", "reference": REFERENCE_ARCH}
    if reference_input is not None:
        names["reference_input"] = list(reference_input)
    return names
