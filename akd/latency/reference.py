"""The references that interleaved measurements are taken against, and their calibration.

An interleaved latency is a ratio to a fixed network times that network's own latency on the
machine. The ratio is what cancels the host's speed drift; the reference's latency only sets the
scale, so it is measured once per machine and setting, with care, and cached like any latency:
every later ratio on that machine shares the scale.

A ratio cancels drift best between models that spend their time alike, so there is a ladder of
references (:data:`REFERENCES`): a mid-sized student, and a two-layer one as fast as the fastest
students and single layers, whose time is mostly per-call overhead. A model is timed against the
rung nearest its speed. Only the main rung is timed on its own (the fastest of several direct
measurements: interference only ever slows a run down); every other rung is calibrated as an
interleaved ratio to the main one, so that the whole ladder shares the main rung's scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import nn

from search_spaces import build_model

from .measure import LatencyConfig, LatencyStats, Reference, measure_with

# a mid-sized MnasNet-style student: of the same kind and about the latency of the students it is
# compared with, so that both see the same caches and kernels
REFERENCE_ARCH = ("cn_r1_k3_s1_c8|ir_r1_k3_s2_e6_c16|ir_r2_k5_s2_e6_c24_se0.25|"
                  "ir_r2_k3_s1_e6_c40|cn_r1_k1_s1_c128")
FAST_REFERENCE_ARCH = "cn_r1_k3_s2_c16|cn_r1_k3_s2_c32"  # ~0.17 ms at 1x28x28 on one thread
REFERENCES = (REFERENCE_ARCH, FAST_REFERENCE_ARCH)  # the ladder; the first is the main rung
CALIBRATION_ROUNDS = 7  # measurements per rung: the fastest direct one (main), the median ratio


def reference_model(config: LatencyConfig, arch: str = REFERENCE_ARCH) -> nn.Module:
    """The reference network ``arch`` for inputs of ``config.input_size`` (10 classes)."""
    return build_model(arch, num_classes=10, in_channels=config.input_size[0])


def calibrate(config: LatencyConfig) -> LatencyStats:
    """The main reference's own latency under ``config``: the fastest of CALIBRATION_ROUNDS
    direct measurements, so that a slow window does not set the scale (one did, doubling it, in
    research/bench_latency.py on a shared host)."""
    direct = dataclasses.replace(config, method="direct")
    model = reference_model(config)
    rounds = [measure_with(model, direct) for _ in range(CALIBRATION_ROUNDS)]
    medians = np.array([r.median_ms for r in rounds])
    fastest = rounds[int(np.argmin(medians))]
    return dataclasses.replace(fastest, runs=sum(r.runs for r in rounds),
                               attempts=sum(r.attempts for r in rounds))


def calibrate_rung(config: LatencyConfig, arch: str, main_ms: float) -> LatencyStats:
    """The latency of the ladder's rung ``arch`` on the main rung's scale: the median of
    CALIBRATION_ROUNDS interleaved measurements against the main reference (``main_ms``)."""
    interleaved = dataclasses.replace(config, method="interleaved")
    main = Reference(reference_model(config), main_ms, REFERENCE_ARCH)
    rounds = [measure_with(reference_model(config, arch), interleaved, [main])
              for _ in range(CALIBRATION_ROUNDS)]
    middle = rounds[int(np.argsort([r.median_ms for r in rounds])[len(rounds) // 2])]
    return dataclasses.replace(middle, runs=sum(r.runs for r in rounds),
                               attempts=sum(r.attempts for r in rounds))


def reference_names(reference_input: tuple[int, int, int] | None = None) -> dict:
    """What an interleaved latency's cache key adds: the ladder it is a ratio to, and the input
    the references ran at when it is not the timed module's own (a layer's)."""
    names = {"method": "interleaved", "references": list(REFERENCES)}
    if reference_input is not None:
        names["reference_input"] = list(reference_input)
    return names
