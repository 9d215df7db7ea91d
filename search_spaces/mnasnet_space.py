"""The factorized hierarchical search space of MnasNet (Tan et al. 2019, section 4.1).

A fixed skeleton of stages (base channels, base layers, stride) sits between a fixed stem and head.
Per stage the controller picks the conv op, kernel size, squeeze-excite ratio, skip op, a width
multiplier of the base channels and an offset of the base layer count: six decisions a stage,
each layer of a stage the same, which is what keeps the space small and diverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .architecture import Architecture, Block
from .base import Decision, SearchSpace
from .registry import register_space

# ConvOp of the paper; MBConv is listed once per expansion ratio.
OPS = {
    "conv": ("cn", 1),
    "sepconv": ("ds", 1),
    "mbconv1": ("ir", 1),
    "mbconv3": ("ir", 3),
    "mbconv6": ("ir", 6),
}
_OP_NAMES = {spec: name for name, spec in OPS.items()}
FIELDS = ("op", "kernel", "se", "skip", "channels", "layers")


@dataclass(frozen=True)
class Stage:
    """One stage of the skeleton; the searched block varies around it."""

    channels: int  # base output channels, scaled by the width multipliers
    layers: int  # base layer count, offset by the layer deltas
    stride: int  # stride of the stage's first layer (fixed: it sets the resolution schedule)

    def __post_init__(self) -> None:
        for name in ("channels", "layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"skeleton stage {name} = {value!r} is invalid; allowed: an "
                                 "integer >= 1")
        if self.stride not in (1, 2):
            raise ValueError(f"skeleton stage stride = {self.stride!r} is invalid; allowed: 1, 2")


# MobileNetV2's stages, which the paper uses as the skeleton, at 224x224.
_IMAGENET224 = dict(
    stem="cn_r1_k3_s2_c32",
    skeleton=[(16, 1, 1), (24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)],
    head="cn_r1_k1_s1_c1280",
)
# The same seven stages and four stride-2 steps for 28x28 / 32x32 inputs. The stem keeps full
# resolution and the first searched stage downsamples instead (28 -> 14 -> 7 -> 4 -> 2), since
# a full-resolution MBConv stage alone would cost most of a CPU training step. Channels are about
# a fifth of MobileNetV2's, so the median sample costs a few MMACs (numbers in the README).
_SMALL28 = dict(
    stem="cn_r1_k3_s1_c8",
    skeleton=[(8, 1, 2), (12, 2, 1), (16, 2, 2), (24, 2, 2), (32, 2, 1), (48, 2, 2), (64, 1, 1)],
    head="cn_r1_k1_s1_c192",
    channel_divisor=2,  # 4 would merge 0.75x and 1.0x of the 8-channel stage
)
PRESETS = {"imagenet224": _IMAGENET224, "small28": _SMALL28}


class MnasNetSpace(SearchSpace):
    name = "mnasnet"

    def __init__(
        self,
        skeleton: Sequence[Stage | Sequence[int]],
        stem: str | None = None,
        head: str | None = None,
        ops: Sequence[str] = tuple(OPS),
        kernels: Sequence[int] = (3, 5, 7),
        se_ratios: Sequence[float] = (0.0, 0.25),
        skips: Sequence[bool] = (False, True),
        width_multipliers: Sequence[float] = (0.75, 1.0, 1.25),
        layer_deltas: Sequence[int] = (-1, 0, 1),
        channel_divisor: int = 4,
    ) -> None:
        if not skeleton:
            raise ValueError("skeleton must have at least one stage")
        self.skeleton = tuple(s if isinstance(s, Stage) else Stage(*s) for s in skeleton)
        self.stem = Block.parse(stem) if stem else None
        self.head = Block.parse(head) if head else None
        for op in ops:
            if op not in OPS:
                raise ValueError(f"unknown op {op!r}; allowed ops: {', '.join(OPS)}")
        for k in kernels:
            if not isinstance(k, int) or k < 1 or k % 2 == 0:
                raise ValueError(f"kernel {k!r} is invalid; allowed: odd integers >= 1")
        for ratio in se_ratios:
            if not 0.0 <= ratio < 1.0:
                raise ValueError(f"se ratio {ratio!r} is invalid; allowed: values in [0, 1)")
        if any(not isinstance(s, bool) for s in skips):
            raise ValueError(f"skips {tuple(skips)!r} are invalid; allowed: True, False")
        if any(m <= 0 for m in width_multipliers):
            raise ValueError(f"width multipliers {tuple(width_multipliers)} must all be > 0")
        if not isinstance(channel_divisor, int) or channel_divisor < 1:
            raise ValueError(f"channel_divisor = {channel_divisor!r}; allowed: an integer >= 1")
        self.channel_divisor = channel_divisor
        decisions = []
        for i, stage in enumerate(self.skeleton):
            channels = [make_divisible(stage.channels * m, channel_divisor)
                        for m in width_multipliers]
            if len(set(channels)) != len(channels):
                raise ValueError(f"stage b{i}: width multipliers {tuple(width_multipliers)} give "
                                 f"channels {channels} with channel_divisor={channel_divisor}; "
                                 "they must be distinct, so lower the divisor or spread the "
                                 "multipliers")
            # A layer count below 1 would delete the stage and its stride, so it is not offered.
            layers = sorted({stage.layers + d for d in layer_deltas if stage.layers + d >= 1})
            if not layers:
                raise ValueError(f"stage b{i}: base layers {stage.layers} with deltas "
                                 f"{tuple(layer_deltas)} leave no layer count >= 1")
            options = (tuple(ops), tuple(kernels), tuple(se_ratios), tuple(skips),
                       tuple(channels), tuple(layers))
            decisions += [Decision(f"b{i}.{f}", o) for f, o in zip(FIELDS, options)]
        super().__init__(decisions)

    def hand_designed(self, width: float = 1.0) -> Architecture:
        """The skeleton as a hand-designed MobileNetV2-style network: MBConv6, 3x3, no SE,
        identity residuals, base layers, base channels times ``width``. The reference a searched
        student has to beat; it need not be a point of the space (e.g. when ops exclude MBConv6).
        """
        blocks = [self.stem] if self.stem else []
        for stage in self.skeleton:
            blocks.append(Block(op="ir", layers=stage.layers, kernel=3, stride=stage.stride,
                                channels=make_divisible(stage.channels * width,
                                                        self.channel_divisor),
                                expansion=6, se_ratio=0.0, skip=True))
        if self.head:
            blocks.append(self.head)
        return Architecture(tuple(blocks))

    def _assemble(self, values: list) -> Architecture:
        blocks = [self.stem] if self.stem else []
        for i, stage in enumerate(self.skeleton):
            op, kernel, se, skip, channels, layers = values[i * len(FIELDS):(i + 1) * len(FIELDS)]
            kind, expansion = OPS[op]
            blocks.append(Block(op=kind, layers=layers, kernel=kernel, stride=stage.stride,
                                channels=channels, expansion=expansion, se_ratio=se, skip=skip))
        if self.head:
            blocks.append(self.head)
        return Architecture(tuple(blocks))

    def _disassemble(self, arch: Architecture) -> list:
        blocks = list(arch.blocks)
        for fixed, where, index in ((self.stem, "stem", 0), (self.head, "head", -1)):
            if fixed is None:
                continue
            if not blocks or blocks[index] != fixed:
                found = blocks[index] if blocks else None
                raise ValueError(f"architecture is outside the {self.name} space: {where} is "
                                 f"{str(found)!r}; the space's {where} is {str(fixed)!r}")
            blocks.pop(index)
        if len(blocks) != len(self.skeleton):
            raise ValueError(f"architecture is outside the {self.name} space: it has "
                             f"{len(blocks)} searchable blocks; the skeleton has "
                             f"{len(self.skeleton)}")
        values = []
        for i, (block, stage) in enumerate(zip(blocks, self.skeleton)):
            if block.stride != stage.stride:
                raise ValueError(f"architecture is outside the {self.name} space: b{i}.stride = "
                                 f"{block.stride}; the skeleton fixes it to {stage.stride}")
            op = _OP_NAMES.get((block.op, block.expansion), f"{block.op}_e{block.expansion}")
            values += [op, block.kernel, block.se_ratio, block.skip, block.channels, block.layers]
        return values


def make_divisible(value: float, divisor: int) -> int:
    """Round to the nearest multiple of ``divisor``, never more than 10% down (as in timm)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@register_space("mnasnet")
def mnasnet_space(preset: str = "small28", **overrides) -> MnasNetSpace:
    """The MnasNet space from a named preset, with any constructor argument overridden."""
    if preset not in PRESETS:
        raise ValueError(f"unknown mnasnet preset {preset!r}; allowed: {', '.join(PRESETS)}")
    return MnasNetSpace(**{**PRESETS[preset], **overrides})
