"""Embeddings computed without training a student: of the teacher alone, and of a student at
initialisation in the presence of the teacher (in the spirit of DaSS's functional embedding).

* :func:`teacher_embedding`: the teacher's soft labels (temperature ``T``) on a fixed probe set,
  averaged per true class (a ``C x C`` matrix: which classes it confuses, how soft it is), their
  mean entropy and its accuracy on the probe. Computed from the teacher alone, so an unseen
  teacher gets a meaningful input.
* :func:`student_probe`: zero-cost scores of a freshly built student: ``grad_norm`` (the norm of
  the KD loss's gradient at initialisation, Abdelfattah et al. 2021), ``synflow`` (Tanaka et al.
  2020: data-free, the sum of ``|theta * dR/dtheta|`` for the all-ones input through the
  absolute-valued network), the KD loss at initialisation, and how far it falls in a few SGD
  steps on the probe (a functional answer to "how fast does it learn from this teacher").
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ..distill import kd_loss

PROBE_FIELDS = ("log_grad_norm", "log_synflow", "kd_loss_init", "kd_loss_after",
                "kd_loss_drop")
PROBE_STEPS = 5  # SGD steps of the "how fast it learns" probe
EMBEDDING_IMAGES = 1000  # probe images a teacher's embedding is computed on
PROBE_LR = 0.05


@torch.no_grad()
def teacher_embedding(teacher: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      num_classes: int, temperature: float = 4.0) -> np.ndarray:
    """Class-conditional mean soft labels (flattened ``C x C``), mean entropy, probe accuracy."""
    teacher.eval()
    logits = torch.cat([teacher(images[i:i + 500]) for i in range(0, len(images), 500)])
    soft = torch.softmax(logits / temperature, dim=1)
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    for c in range(num_classes):
        members = soft[labels == c]
        if len(members):
            matrix[c] = members.double().mean(0)
    entropy = -(soft * soft.clamp_min(1e-12).log()).sum(1).mean().item() / math.log(num_classes)
    accuracy = (logits.argmax(1) == labels).double().mean().item()
    return np.concatenate([matrix.numpy().ravel(), [entropy, accuracy]])


def student_probe(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  teacher_logits: torch.Tensor | None, temperature: float = 4.0,
                  alpha: float = 0.9, seed: int = 0, flow: float | None = None) -> np.ndarray:
    """The :data:`PROBE_FIELDS` of a freshly built ``model`` (left untouched); labels only when
    ``teacher_logits`` is None (alpha 0). ``flow``: its synflow score when already known (it
    does not depend on the teacher)."""
    alpha = alpha if teacher_logits is not None else 0.0

    def loss_of(net: nn.Module) -> torch.Tensor:
        return kd_loss(net(images), teacher_logits, labels, temperature=temperature, alpha=alpha)

    torch.manual_seed(seed)
    student = copy.deepcopy(model).train()
    student.zero_grad()
    initial = loss_of(student)
    initial.backward()
    grad_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in student.parameters()
                              if p.grad is not None))
    optimizer = torch.optim.SGD(student.parameters(), lr=PROBE_LR, momentum=0.9)
    for _ in range(PROBE_STEPS):
        optimizer.zero_grad()
        loss_of(student).backward()
        optimizer.step()
    with torch.no_grad():
        after = float(loss_of(student.eval()))
    flow = synflow(model, images.shape[1:]) if flow is None else flow
    first = initial.item()
    return np.array([math.log(grad_norm + 1e-12), math.log(flow + 1e-12), first, after,
                     (first - after) / first])


def synflow(model: nn.Module, input_shape: torch.Size) -> float:
    """SynFlow's score of ``model`` (left untouched): data-free, in double precision, with
    batch norm in eval mode (the identity at initialisation) so the score is that of the
    weights."""
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.abs_()
    net.zero_grad()
    net(torch.ones(1, *input_shape, dtype=torch.float64)).sum().backward()
    with torch.no_grad():
        return float(sum((p * p.grad).abs().sum() for p in net.parameters()
                         if p.grad is not None))
