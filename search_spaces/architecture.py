"""Architectures as block strings in the timm / TF-MnasNet grammar.

An architecture is a sequence of blocks (one per stage), written ``block|block|...``. A block is
``OP_rR_kK_sS[_eE]_cC[_seX][_noskip]``:

* ``OP``: ``cn`` regular conv, ``ds`` depthwise-separable conv, ``ir`` MBConv (inverted residual);
* ``r``: number of layers; ``k``: kernel size; ``s``: stride of the first layer;
* ``e``: expansion ratio (``ir`` only, where it is required); ``c``: output channels;
* ``se``: squeeze-excite ratio (absent means none); ``noskip``: no identity residual.

Options are printed in exactly that order, so that ``str(Architecture.parse(text)) == text`` for
every text that parses; a valid block in another order is rejected with its canonical spelling.
Stem and head are ordinary ``cn`` blocks at either end, as in timm's MobileNetV3 definitions, so a
string alone rebuilds the whole network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPS = ("cn", "ds", "ir")
_OPTION = re.compile(r"^(r|k|s|e|c|se)(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Block:
    """One stage: ``layers`` repeats of the same op, the first with ``stride``."""

    op: str  # "cn" (conv-BN-ReLU), "ds" (depthwise-separable), "ir" (MBConv)
    layers: int  # repeats of the op inside this stage
    kernel: int  # odd spatial kernel size of the (depthwise) conv
    stride: int  # stride of the first layer only; later layers use 1
    channels: int  # output channels of every layer in the stage
    expansion: int = 1  # MBConv expansion ratio; 1 for cn and ds
    se_ratio: float = 0.0  # squeeze-excite width as a fraction of the layer's input channels
    skip: bool = True  # identity residual where a layer keeps its shape

    def __post_init__(self) -> None:
        _check(self.op in OPS, "op", self.op, f"one of {', '.join(OPS)}")
        _check(_positive_int(self.layers), "layers (r)", self.layers, "an integer >= 1")
        _check(_positive_int(self.kernel) and self.kernel % 2 == 1, "kernel (k)", self.kernel,
               "an odd integer >= 1")
        _check(self.stride in (1, 2), "stride (s)", self.stride, "1 or 2")
        _check(_positive_int(self.channels), "channels (c)", self.channels, "an integer >= 1")
        _check(_positive_int(self.expansion), "expansion (e)", self.expansion, "an integer >= 1")
        _check(self.op == "ir" or self.expansion == 1, "expansion (e)", self.expansion,
               f"1 for op '{self.op}' (only 'ir' expands)")
        _check(0.0 <= self.se_ratio < 1.0, "se_ratio (se)", self.se_ratio, "in [0, 1)")
        _check(isinstance(self.skip, bool), "skip", self.skip, "True or False")

    def __str__(self) -> str:
        parts = [self.op, f"r{self.layers}", f"k{self.kernel}", f"s{self.stride}"]
        if self.op == "ir":
            parts.append(f"e{self.expansion}")
        parts.append(f"c{self.channels}")
        if self.se_ratio:
            parts.append(f"se{self.se_ratio:g}")
        if not self.skip:
            parts.append("noskip")
        return "_".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Block":
        op, *tokens = text.split("_")
        if op not in OPS:
            raise ValueError(f"block {text!r}: unknown op {op!r}; allowed ops: {', '.join(OPS)}")
        options: dict[str, str] = {}
        skip = True
        for token in tokens:
            if token == "noskip":
                skip = False
                continue
            match = _OPTION.match(token)
            if match is None or match.group(1) in options:
                raise ValueError(
                    f"block {text!r}: bad or repeated option {token!r}; allowed options: "
                    "rN, kN, sN, eN, cN, seX, noskip"
                )
            options[match.group(1)] = match.group(2)
        for key, name in (("r", "layers"), ("k", "kernel"), ("s", "stride"), ("c", "channels")):
            if key not in options:
                raise ValueError(f"block {text!r}: missing {name} option '{key}N'")
        if op == "ir" and "e" not in options:
            raise ValueError(f"block {text!r}: missing expansion option 'eN' (required for 'ir')")
        block = cls(
            op=op,
            layers=_int_option(text, options, "r"),
            kernel=_int_option(text, options, "k"),
            stride=_int_option(text, options, "s"),
            channels=_int_option(text, options, "c"),
            expansion=_int_option(text, options, "e", default=1),
            se_ratio=float(options.get("se", 0.0)),
            skip=skip,
        )
        if str(block) != text:
            raise ValueError(f"block {text!r} is not in canonical form; write {str(block)!r}")
        return block


@dataclass(frozen=True)
class Architecture:
    """A whole network body: its blocks in order (stem first, head last)."""

    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("an architecture needs at least one block")
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def __str__(self) -> str:
        return "|".join(str(block) for block in self.blocks)

    @classmethod
    def parse(cls, text: str) -> "Architecture":
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"architecture string must be a non-empty str, got {text!r}")
        return cls(tuple(Block.parse(part) for part in text.split("|")))


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ValueError(f"block field {field} = {value!r} is invalid; allowed: {allowed}")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _int_option(text: str, options: dict[str, str], key: str, default: int | None = None) -> int:
    raw = options.get(key)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"block {text!r}: option '{key}' needs an integer, got {raw!r}")
    return int(raw)
