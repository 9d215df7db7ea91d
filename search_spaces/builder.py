"""One builder from an :class:`Architecture` to an ``nn.Module``.

The rules follow torchvision's ``mnasnet.py`` and timm's ``_efficientnet_blocks.py``: stride only
on a stage's first layer; an identity residual only where a layer keeps its shape and the block
allows skips; BN after every conv, ReLU after every conv but the MBConv / separable projection
(linear bottleneck); squeeze-excite after the spatial conv, sized from the layer's input channels
and gated by a sigmoid, as in the MnasNet paper.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from .architecture import Architecture, Block
from .nago import NagoArch, NagoNet, is_nago


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
            relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class SqueezeExcite(nn.Module):
    """Channel attention: global pool, bottleneck of ``reduced`` units, sigmoid gate."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.expand(torch.relu(self.reduce(scale)))
        return x * torch.sigmoid(scale)


class Layer(nn.Module):
    """One repeat of a block's op, with its optional residual."""

    def __init__(self, block: Block, in_ch: int, stride: int) -> None:
        super().__init__()
        out_ch, k = block.channels, block.kernel
        if block.op == "ir":
            mid = in_ch * block.expansion
            # timm keeps the 1x1 expansion even at e1, which is what makes ir_e1 differ from ds.
            head = conv_bn(in_ch, mid, 1) + conv_bn(mid, mid, k, stride, groups=mid)
        elif block.op == "ds":
            mid = in_ch
            head = conv_bn(in_ch, mid, k, stride, groups=mid)
        else:  # "cn": the conv itself produces the output channels, then SE on them
            mid = out_ch
            head = conv_bn(in_ch, out_ch, k, stride)
        if block.se_ratio:
            head.append(SqueezeExcite(mid, max(1, int(in_ch * block.se_ratio))))
        if block.op != "cn":
            head += conv_bn(mid, out_ch, 1, relu=False)
        self.body = nn.Sequential(*head)
        self.residual = block.skip and stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class StudentNet(nn.Module):
    """Blocks, global average pooling, dropout and a linear classifier."""

    def __init__(self, arch: Architecture, num_classes: int, in_channels: int,
                 dropout: float) -> None:
        super().__init__()
        stages, ch = [], in_channels
        for block in arch.blocks:
            layers = []
            for i in range(block.layers):
                layers.append(Layer(block, ch, block.stride if i == 0 else 1))
                ch = block.channels
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(ch, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean((2, 3))
        return self.classifier(self.dropout(x))


def build_model(arch: Architecture | NagoArch | str, num_classes: int = 10, in_channels: int = 3,
                dropout: float = 0.2,
                weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None
                ) -> nn.Module:
    """Build ``arch`` (an Architecture or its string) for any input channels and class count.

    Global pooling makes the network resolution-agnostic; the input only has to be at least 1x1
    after the strides, which padding guarantees for any size >= 1. ``weights``, a state-dict file
    or a state dict, is loaded into the model (as torchvision's ``weights=``), so a block string
    and a weights file rebuild a trained student::

        model = build_model(Path("student.arch").read_text(), num_classes=10, in_channels=1,
                            weights="student.pt").eval()
    """
    arch = parse_arch(arch) if isinstance(arch, str) else arch
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if isinstance(arch, NagoArch):
        model = NagoNet(arch, num_classes, in_channels, dropout)
    else:
        model = StudentNet(arch, num_classes, in_channels, dropout)
    if weights is not None:
        _load_weights(model, weights)
    return model


def _load_weights(model: StudentNet, weights: str | os.PathLike | Mapping) -> None:
    """Load a state dict (or a file holding one); ValueError naming the file and the problem."""
    where = "the state dict"
    if not isinstance(weights, Mapping):
        where = f"weights file {os.fspath(weights)!r}"
        if not os.path.isfile(weights):
            raise ValueError(f"{where} does not exist")
        try:
            weights = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as error:  # any unreadable file: say which and why, in one line
            raise ValueError(f"{where} cannot be read ({str(error).splitlines()[0]}); it must be "
                             "a state dict saved with torch.save") from None
        if not isinstance(weights, Mapping):
            raise ValueError(f"{where} holds a {type(weights).__name__}, not a state dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    resized = [f"{k} {tuple(getattr(weights[k], 'shape', ()))} vs {tuple(expected[k].shape)}"
               for k in expected if k in weights
               and tuple(getattr(weights[k], "shape", ())) != tuple(expected[k].shape)]
    problems = [f"{len(keys)} {what} (first: {keys[0]})" for keys, what in (
        (missing, "missing keys"), (unexpected, "unexpected keys"),
        (resized, "shape mismatches, file vs model")) if keys]
    if problems:
        raise ValueError(f"{where} does not fit this model: {'; '.join(problems)}; build it with "
                         "the block string, num_classes and in_channels it was trained with")
    try:
        model.load_state_dict(weights)
    except Exception as error:  # values that are not tensors
        raise ValueError(f"{where} does not fit this model: {' '.join(str(error).split())}"
                         ) from None


def _init_weights(model: nn.Module) -> None:
    # torchvision MNASNet's initialisation, so published models start from the usual point.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
            nn.init.zeros_(m.bias)


def parse_arch(text: str) -> Architecture | NagoArch:
    """The network a string names: a NAGO network (``nago:...``) or a block string."""
    return NagoArch.parse(text) if is_nago(text) else Architecture.parse(text)
