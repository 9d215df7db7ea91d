"""Teacher architectures with different inductive biases, for small images.

The AKD paper's point is that different teachers prefer different students, so the zoo spans
depth with shortcuts (``resnet``), plain depth (``vgg``), width without depth (``wide``), no
convolution at all (``mlp``: no locality, no weight sharing) and a standard reference model
(torchvision's ``resnet18`` adapted to 28x28 / 32x32 inputs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from search_spaces import Registry

# name -> factory(in_channels, num_classes), in the order they are defined; "user" is a user's
# own teacher (teacher.factory), never a zoo name
TEACHERS: Registry[Callable[..., nn.Module]] = Registry("teacher", reserved=("user",))


def register_teacher(name: str) -> Callable:
    """Decorator: make ``factory(in_channels, num_classes)`` the zoo teacher ``name``."""
    return TEACHERS.register(name)


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False), nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True)]


class _BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_bn_relu(in_ch, out_ch, stride)[:3],
                                  nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(out_ch))
        self.shortcut = nn.Identity() if stride == 1 and in_ch == out_ch else nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


@register_teacher("resnet")
def resnet(in_channels: int, num_classes: int, widths: tuple[int, ...] = (32, 64, 128),
           blocks_per_stage: int = 1) -> nn.Module:
    """A CIFAR-style ResNet (He et al. 2016): a 3x3 stem, then stages of basic blocks."""
    layers: list[nn.Module] = _conv_bn_relu(in_channels, widths[0])
    ch = widths[0]
    for i, width in enumerate(widths):
        for j in range(blocks_per_stage):
            layers.append(_BasicBlock(ch, width, 2 if i > 0 and j == 0 else 1))
            ch = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, num_classes))


@register_teacher("vgg")
def vgg(in_channels: int, num_classes: int, widths: tuple[int, ...] = (56, 112, 224)) -> nn.Module:
    """VGG-style (Simonyan & Zisserman 2015): pairs of 3x3 convs, max-pooling between them."""
    layers: list[nn.Module] = []
    ch = in_channels
    for width in widths:
        layers += _conv_bn_relu(ch, width) + _conv_bn_relu(width, width) + [nn.MaxPool2d(2)]
        ch = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(ch, num_classes))


@register_teacher("wide")
def wide(in_channels: int, num_classes: int, width: int = 128) -> nn.Module:
    """Wide and shallow: two wide 5x5 conv layers, large receptive field from few layers."""
    layers = [nn.Conv2d(in_channels, width, 5, 1, 2, bias=False), nn.BatchNorm2d(width),
              nn.ReLU(inplace=True), nn.MaxPool2d(2),
              nn.Conv2d(width, 2 * width, 5, 1, 2, bias=False), nn.BatchNorm2d(2 * width),
              nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(2 * width, num_classes))


@register_teacher("mlp")
def mlp(in_channels: int, num_classes: int, hidden: int = 512, grid: int = 28) -> nn.Module:
    """A multilayer perceptron on the pixels: none of a convolution's priors (locality, weight
    sharing), so what it teaches differs most from the convolutional teachers. The image is first
    pooled to ``grid`` x ``grid`` (identity on 28x28 images) so one factory serves every size."""
    def layer(in_features: int) -> list[nn.Module]:
        return [nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                nn.ReLU(inplace=True), nn.Dropout(0.2)]
    return nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten(),
                         *layer(in_channels * grid * grid), *layer(hidden),
                         nn.Linear(hidden, num_classes))


@register_teacher("resnet18")
def resnet18(in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's resnet18 for small images: 3x3 stride-1 stem and no max-pool (as for CIFAR)."""
    # imported here: torchvision.models costs 0.8 s, paid by every worker that imports akd
    from torchvision.models import resnet18 as torchvision_resnet18
    model = torchvision_resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model
