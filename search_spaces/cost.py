"""Parameters and multiply-accumulates of an architecture, counted by fvcore."""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

from collections import Counter

import torch

with warnings.catch_warnings():
    # fvcore scripts a helper at import time, and torch.jit warns that scripting is deprecated.
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

from .architecture import Architecture
from .builder import build_model


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters, classifier included
    macs: int  # multiply-accumulates of one forward pass at batch 1 (fvcore's "flops")


def count_cost(arch: Architecture | str, input_size: tuple[int, int, int] = (3, 224, 224),
               num_classes: int = 1000) -> Cost:
    """Count the cost of ``arch`` on one ``(channels, height, width)`` image.

    fvcore counts one multiply-accumulate as one "flop". Batch norm is left out, as in the MnasNet
    paper, because it folds into the preceding conv at inference.
    """
    if len(input_size) != 3 or not all(isinstance(v, int) and v >= 1 for v in input_size):
        raise ValueError(f"input_size must be (channels, height, width) of ints >= 1, got "
                         f"{input_size!r}")
    return _counted(str(arch), tuple(input_size), num_classes)


@functools.lru_cache(maxsize=4096)
def _counted(arch: str, input_size: tuple[int, int, int], num_classes: int) -> Cost:
    """The count of an architecture by its string: fvcore traces the model (0.15-0.5 s), and a
    process counts the same student again and again (each final-stage seed and mode, the
    screened candidate it then trains)."""
    model = build_model(arch, num_classes=num_classes, in_channels=input_size[0]).eval()
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad(), warnings.catch_warnings(), _quiet("fvcore"):
        # fvcore traces with torch.jit, whose tracer warns about data-dependent shapes.
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model, torch.zeros(1, *input_size))
        # A zero handle, because fvcore 0.1.5 keeps its own handle when given None.
        analysis.set_op_handle("aten::batch_norm", _uncounted)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        macs = int(analysis.total())
    return Cost(params=params, macs=macs)


def _uncounted(inputs: object, outputs: object) -> Counter:
    return Counter()


class _quiet:
    """Silence one logger for the duration of a ``with`` block."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def __enter__(self) -> None:
        self.previous = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.previous)
