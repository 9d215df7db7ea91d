"""The teacher's architecture, as akd's ``teacher.factory`` names it: ``teacher.py:resnet18_gray``.

A torchvision ResNet-18 whose first convolution takes one (grayscale) channel; the weights come
from ``teacher.weights`` (a state-dict file), so the factory builds the network only.
"""

from torch import nn
from torchvision.models import resnet18


def resnet18_gray(num_classes: int = 10) -> nn.Module:
    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model
