"""The toy space of the AKD paper: a plain stack of N conv layers.

Each layer picks its filters, kernel and stride; there is no stem, head or residual. Small enough
to enumerate, which is what makes it useful for checking that a search finds the true optimum.
"""

from __future__ import annotations

from collections.abc import Sequence

from .architecture import Architecture, Block
from .base import Decision, SearchSpace
from .registry import register_space

FIELDS = ("channels", "kernel", "stride")
_PLAIN_LAYER = dict(op="cn", layers=1, kernel=3, stride=1, channels=1, skip=False)


@register_space("toy")
class ToySpace(SearchSpace):
    name = "toy"

    def __init__(
        self,
        num_layers: int = 4,
        filters: Sequence[int] = (24, 36, 48, 64),
        kernels: Sequence[int] = (3, 5, 7),
        strides: Sequence[int] = (1, 2),
    ) -> None:
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers = {num_layers!r} is invalid; allowed: an integer >= 1")
        for field, values in zip(FIELDS, (filters, kernels, strides)):
            for value in values:  # let Block's own checks name the field and its allowed values
                Block(**{**_PLAIN_LAYER, field: value})
        options = (tuple(filters), tuple(kernels), tuple(strides))
        super().__init__([Decision(f"l{i}.{field}", values)
                          for i in range(num_layers) for field, values in zip(FIELDS, options)])
        self.num_layers = num_layers

    def _assemble(self, values: list) -> Architecture:
        layers = zip(values[0::3], values[1::3], values[2::3])
        return Architecture(tuple(Block(**{**_PLAIN_LAYER, "kernel": k, "stride": s, "channels": c})
                                  for c, k, s in layers))

    def _disassemble(self, arch: Architecture) -> list:
        if len(arch.blocks) != self.num_layers:
            raise ValueError(f"architecture is outside the toy space: it has {len(arch.blocks)} "
                             f"blocks; the space has {self.num_layers} layers")
        values = []
        for i, block in enumerate(arch.blocks):
            expected = Block(**{**_PLAIN_LAYER, "kernel": block.kernel, "stride": block.stride,
                                "channels": block.channels})
            if block != expected:
                raise ValueError(f"architecture is outside the toy space: layer l{i} is "
                                 f"{str(block)!r}; toy layers are plain 'cn_r1_kK_sS_cC_noskip'")
            values += [block.channels, block.kernel, block.stride]
        return values
