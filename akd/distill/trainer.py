"""One trainer for every network: proxy evaluation, final training and teachers alike.

Plain SGD with Nesterov momentum, a cosine (or constant) schedule with linear warm-up, the KD loss
against a teacher signal (or labels only), seeded. A NaN or diverging loss ends the run with
``status = "failed"`` instead of an exception, so one bad candidate never stops a search.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..common.cores import CoreLock
from ..common.devices import DEVICES, is_device_name, resolve_device
from ..common.fields import option
from ..data import AugmentParams, Split, apply_augment, augment_params
from .loss import kd_loss

SCHEDULES = ("cosine", "constant", "plateau")
PRECISIONS = ("fp32", "bf16")
# options added after trainings were cached and recorded, each at the value that means what every
# training did before it existed: a recipe or budget leaves them out at that value, so the shipped
# teacher, cached teachers and kept final trainings keep their keys
LATER_DEFAULTS = {"patience": 0, "precision": "fp32"}
PLATEAU_DROPS = 2  # schedule plateau: learning-rate drops (x0.1) before the next plateau stops it
PLATEAU_FACTOR = 0.1


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = option(3, help="passes over the training split")
    batch_size: int = option(128, help="images per SGD step")
    lr: float = option(0.1, help="peak learning rate (SGD, Nesterov momentum 0.9)")
    weight_decay: float = option(5e-4, help="L2 on all weights")
    schedule: str = option("cosine", help='"cosine" (to zero over the run), "constant", or '
                                          '"plateau": constant, divided by 10 each time the '
                                          'validation accuracy has not improved for patience '
                                          'epochs, stopping at the third such plateau (needs '
                                          'patience)')
    warmup_epochs: float = option(0.0, help="linear warm-up from 0 to lr over this many epochs")
    augment_padding: int = option(0, help=">0: random crop with this padding plus flips; 0: no "
                                          "augmentation")
    augment_seed: int = option(0, help="seed of the augmentation replay (epoch e uses augment_seed "
                                       "+ e)")
    alpha: float = option(0.0, help="KD weight: 0 trains on labels only, 1 on the teacher only")
    temperature: float = option(4.0, help="KD softmax temperature")
    seed: int = option(0, help="batch order and dropout (seed weight init before building the "
                               "model)")
    patience: int = option(0, help="0: train for epochs; > 0 (final stage): epochs is a cap, the "
                                   "validation split is scored after every epoch, training stops "
                                   "when it has not improved for this many epochs (with "
                                   "schedule: plateau, at the third such plateau) and the best "
                                   "epoch's weights are kept")
    precision: str = option("fp32", help='"fp32", or "bf16": forward and loss under bfloat16 '
                                         'autocast (weights and optimiser stay fp32); for GPUs, '
                                         'its speed and accuracy effect: docs/gpu.md')
    channels_last: bool = option(True, help="NHWC layout: about 1.4x faster convolutions on CPU "
                                            "(oneDNN)")
    divergence_factor: float = option(10.0, help="running loss above this multiple of the first = "
                                                 "diverged")
    device: str = option("auto", help='"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...')

    def check(self, section: str = "") -> None:
        """ValueError naming the first bad field, as ``section.field`` (``proxy.alpha``) when a
        config section holds this training. The run config checks each of its trainings when it
        is loaded, and ``train`` checks the one it is given."""
        for name, ok, allowed in (
                ("epochs", _is_int(self.epochs) and self.epochs >= 1, "an integer >= 1"),
                ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1,
                 "an integer >= 1"),
                ("lr", math.isfinite(self.lr) and self.lr > 0, "a number > 0"),
                ("weight_decay", math.isfinite(self.weight_decay) and self.weight_decay >= 0,
                 "a number >= 0"),
                ("schedule", self.schedule in SCHEDULES, ", ".join(SCHEDULES)),
                ("warmup_epochs", 0 <= self.warmup_epochs <= self.epochs,
                 f"a number in [0, epochs = {self.epochs}]"),
                ("augment_padding", _is_int(self.augment_padding) and self.augment_padding >= 0,
                 "an integer >= 0"),
                ("alpha", 0 <= self.alpha <= 1, "a number in [0, 1]"),
                ("temperature", math.isfinite(self.temperature) and self.temperature > 0,
                 "a number > 0"),
                ("patience", _is_int(self.patience) and self.patience >= 0,
                 "an integer >= 0 (0: train for epochs)"),
                ("precision", self.precision in PRECISIONS, ", ".join(PRECISIONS)),
                ("divergence_factor", self.divergence_factor > 1, "a number > 1"),
                ("device", is_device_name(self.device), DEVICES)):
            if not ok:
                key = f"{section}.{name}" if section else name
                raise ValueError(f"{key} = {getattr(self, name)!r} is invalid; allowed: {allowed}")
        if self.schedule == "plateau" and not self.patience:
            key = f"{section}.schedule" if section else "schedule"
            raise ValueError(f"{key} = plateau lowers the learning rate when the validation "
                             "accuracy stops improving; it needs a patience > 0")


def training_recipe(config: TrainConfig | dict) -> dict:
    """What decides what a training learns, as a dict for cache keys and budgets: every option
    (the device too: a caller that ignores it drops it), less LATER_DEFAULTS at their value."""
    values = dataclasses.asdict(config) if isinstance(config, TrainConfig) else dict(config)
    return {k: v for k, v in values.items() if k not in LATER_DEFAULTS or v != LATER_DEFAULTS[k]}


@dataclass(frozen=True)
class Curve:
    """How a training went, kept so that learning-curve estimators (the sum of training losses,
    extrapolation of the validation curve) can be computed later without training again."""

    loss_every: int  # steps whose losses each entry of train_loss and train_ce averages
    train_loss: list[list[float]]  # per epoch, the mean objective (KD or CE) of each run of
    # loss_every steps (the epoch's last run may be shorter)
    train_ce: list[list[float]]  # the same runs' cross-entropy with the labels (equal to
    # train_loss for a labels-only training; for KD, the part a label-free estimator can't see)
    val_acc: list[float]  # accuracy on the evaluation split at the end of each epoch

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainResult:
    status: str  # "ok" or "failed"
    accuracy: float  # on the evaluation split; nan when failed
    error: str | None  # why it failed
    seconds: float  # wall time of training and evaluation
    images_per_second: float  # training throughput
    curve: Curve | None = None  # when the caller asked for it (and the training finished)
    stopping: dict | None = None  # with a patience: {"epochs": trained, "best_epoch": kept
    # (1-based), "val_acc": its accuracy on the validation split, "lr_drops": plateau drops}
    state: dict | None = None  # with ``until`` before the schedule's end: what a later call
    # needs to continue exactly where this one stopped (:func:`train`'s ``resume``)


# Teacher logits for a batch: (epoch, indices into the training split, the augmented batch).
TeacherSignal = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def train(model: nn.Module, train_split: Split, eval_split: Split, config: TrainConfig,
          teacher: TeacherSignal | None = None, progress: bool = False,
          lock: CoreLock | None = None, curve_every: int = 0,
          val_split: Split | None = None, until: int | None = None,
          resume: dict | None = None) -> TrainResult:
    """Train ``model`` in place on ``train_split`` and return its accuracy on ``eval_split``.

    ``lock``, when given, is held shared during every optimisation step and the evaluation, so
    that no latency measurement on the same cores overlaps them; a measurement waits for one step
    at most, not for the whole training. ``curve_every`` > 0 also records the learning curve
    (:class:`Curve`, losses averaged over runs of that many steps, the evaluation split scored
    after every epoch); it does not change the training, only adds evaluations.
    ``val_split``: what a training with ``config.patience`` > 0 stops on (never the evaluation
    split, which in the final stage is the test split).

    ``until``: stop after this many epochs of the ``config.epochs``-epoch schedule (a rung of a
    multi-fidelity search: the learning rate follows the whole schedule, so a training cut short
    and continued later is the same training as one run through); the result's ``state`` then
    holds the optimiser, schedule and random-number state that ``resume`` takes, with ``model``
    holding the weights it stopped with. Continuing gives bit-identical weights to one
    uninterrupted training on the same device (``tests/test_distill.py``).
    """
    config.check()
    if until is not None and not (_is_int(until) and 1 <= until <= config.epochs):
        raise ValueError(f"until = {until!r}: an epoch of the schedule, 1..{config.epochs}")
    if (until is not None or resume is not None) and (config.patience or curve_every):
        raise ValueError("a training cut into parts cannot have a patience or record a curve")
    if resume is not None and not resume["epoch"] < (until or config.epochs):
        raise ValueError(f"resume: the state is at epoch {resume['epoch']}, nothing is left "
                         f"before epoch {until or config.epochs}")
    if config.patience and val_split is None:
        raise ValueError(f"patience = {config.patience} stops on validation accuracy; it needs "
                         "a val_split")
    if config.alpha > 0 and teacher is None:
        raise ValueError(f"alpha = {config.alpha} needs a teacher; use alpha = 0 for labels only")
    if not _is_int(curve_every) or curve_every < 0:
        raise ValueError(f"curve_every must be an integer >= 0, got {curve_every!r}")
    return _train(model, train_split, eval_split, config, teacher, progress,
                  lock.training if lock else contextlib.nullcontext, curve_every, val_split,
                  until or config.epochs, resume)


class _EarlyStopping:
    """Patience on the validation accuracy: keeps the best epoch's weights, lowers the learning
    rate at a plateau (schedule plateau) and says when to stop."""

    def __init__(self, config: TrainConfig, model: nn.Module) -> None:
        self.patience = config.patience
        self.drops_left = PLATEAU_DROPS if config.schedule == "plateau" else 0
        self.model = model
        self.lr_scale = 1.0  # the plateau drops so far, as a factor of the schedule
        self.best, self.best_epoch, self.best_state = -1.0, 0, None
        self.epochs, self.waited, self.drops = 0, 0, 0

    def end_epoch(self, accuracy: float) -> bool:
        """Record an epoch's validation accuracy; True when training should stop."""
        self.epochs += 1
        if accuracy > self.best:  # a tie is no improvement: the earlier, shorter training wins
            self.best, self.best_epoch, self.waited = accuracy, self.epochs, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        self.waited += 1
        if self.waited < self.patience:
            return False
        if self.drops_left:
            self.drops_left -= 1
            self.drops += 1
            self.lr_scale *= PLATEAU_FACTOR
            self.waited = 0
            return False
        return True

    def restore_best(self) -> dict:
        self.model.load_state_dict(self.best_state)
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "val_acc": self.best,
                "lr_drops": self.drops}


class _CurveRecorder:
    """Collects a :class:`Curve` during a training (does nothing when ``every`` is 0)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.loss: list[list[float]] = []
        self.ce: list[list[float]] = []
        self.val_acc: list[float] = []
        self._run: list[tuple[float, float]] = []

    def start_epoch(self) -> None:
        if self.every:
            self.loss.append([])
            self.ce.append([])

    def step(self, loss: float, logits: torch.Tensor, labels: torch.Tensor) -> None:
        if not self.every:
            return
        ce = loss if logits is None else F.cross_entropy(logits.detach(), labels).item()
        self._run.append((loss, ce))
        if len(self._run) == self.every:
            self._flush()

    def end_epoch(self, accuracy: Callable[[], float]) -> None:
        if self.every:
            self._flush()
            self.val_acc.append(accuracy())

    def _flush(self) -> None:
        if self._run:
            self.loss[-1].append(sum(loss for loss, _ in self._run) / len(self._run))
            self.ce[-1].append(sum(ce for _, ce in self._run) / len(self._run))
            self._run = []

    def curve(self) -> Curve | None:
        return Curve(self.every, self.loss, self.ce, self.val_acc) if self.every else None


# Devices whose step losses are read in groups (see _LossWatch); a test adds "cpu"
DEFERRED_LOSS_DEVICES = {"cuda"}
LOSS_CHECK_EVERY = 32  # steps between two reads of the losses there


class _LossWatch:
    """The divergence check: a non-finite loss, or a running mean above ``divergence_factor``
    times the first loss, fails the training.

    On the CPU each step's loss is read at once, and a non-finite one skips its update. On a GPU
    reading a loss makes the host wait until the device has finished the step, every step, which
    for a small student costs more than the step; there losses stay on the device and are read
    every ``LOSS_CHECK_EVERY`` steps and at each epoch's end (a non-finite loss then updates the
    weights before it is seen: the training fails either way)."""

    def __init__(self, config: TrainConfig, deferred: bool, first: float | None = None,
                 running: float | None = None) -> None:
        self.factor, self.deferred = config.divergence_factor, deferred
        self.first, self.running = first, running
        self.pending: list[tuple[torch.Tensor, int, int]] = []

    def check(self, value: float, epoch: int, step: int) -> str | None:
        """Record one step's loss; why the training failed, or None."""
        self.first = value if self.first is None else self.first
        self.running = value if self.running is None else 0.9 * self.running + 0.1 * value
        if not math.isfinite(value) or self.running > self.factor * self.first:
            what = "became non-finite" if not math.isfinite(value) else "diverged"
            return f"loss {what} ({value:.3g}) at epoch {epoch} step {step}"
        return None

    def defer(self, loss: torch.Tensor, epoch: int, step: int, flush: bool) -> str | None:
        """Keep a step's loss on the device; read the kept ones when ``flush`` or enough wait."""
        self.pending.append((loss.detach(), epoch, step))
        if not flush and len(self.pending) < LOSS_CHECK_EVERY:
            return None
        values = torch.stack([loss for loss, _, _ in self.pending]).tolist()  # one sync
        steps, self.pending = self.pending, []
        for value, (_, epoch, step) in zip(values, steps):
            failure = self.check(value, epoch, step)
            if failure:
                return failure
        return None


def _train(model: nn.Module, train_split: Split, eval_split: Split, config: TrainConfig,
           teacher: TeacherSignal | None, progress: bool, computing,
           curve_every: int = 0, val_split: Split | None = None, until: int | None = None,
           resume: dict | None = None) -> TrainResult:
    until = until or config.epochs
    start = time.perf_counter()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device, memory_format=layout).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
    stopping = _EarlyStopping(config, model) if config.patience else None
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, steps_per_epoch,
                                                                       stopping))
    images, labels = train_split.on(device)  # on a GPU: moved once per worker, then kept
    order_rng = np.random.default_rng(config.seed)
    if device.type == "cuda":  # one input size throughout: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    precision = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) \
        if config.precision == "bf16" else contextlib.nullcontext
    watch = _LossWatch(config, device.type in DEFERRED_LOSS_DEVICES and not curve_every)
    first_epoch = 0
    if resume is not None:  # where an earlier part of this training stopped
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        order_rng.bit_generator.state = resume["order_rng"]
        torch.set_rng_state(resume["torch_rng"])
        if device.type == "cuda" and resume.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(resume["cuda_rng"], device)
        first_epoch, watch.first, watch.running = (resume["epoch"], resume["first_loss"],
                                                   resume["running"])
    recorder = _CurveRecorder(curve_every)
    bar = tqdm(total=(until - first_epoch) * steps_per_epoch, desc="train",
               disable=not progress, leave=False)

    def score() -> float:
        with computing():
            return evaluate(model, eval_split, config.batch_size * 4, device)

    for epoch in range(first_epoch, until):
        recorder.start_epoch()
        augment = epoch_augment(config, epoch, len(train_split), device)
        # the epoch's order and augmentation on the device once, so a step copies nothing
        order = torch.from_numpy(order_rng.permutation(len(train_split))).to(device)
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            with computing():
                batch = images[index]
                if augment is not None:
                    batch = apply_augment(batch, augment, index)
                batch = batch.contiguous(memory_format=layout)
                teacher_logits = teacher(epoch, index, batch) if config.alpha > 0 else None
                with precision():
                    logits, targets = model(batch), labels[index]
                    loss = kd_loss(logits.float(), teacher_logits, targets, config.temperature,
                                   config.alpha)
                value = None if watch.deferred else loss.item()
                if value is None or math.isfinite(value):
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
            if watch.deferred:
                failure = watch.defer(loss, epoch, step, flush=step == steps_per_epoch - 1)
            else:
                failure = watch.check(value, epoch, step)
                recorder.step(value, logits if config.alpha > 0 else None, targets)
            if failure:
                bar.close()
                return TrainResult("failed", float("nan"), failure, time.perf_counter() - start,
                                   0.0)
            bar.update()
            if watch.running is not None:
                bar.set_postfix(loss=f"{watch.running:.3f}", refresh=False)
        if stopping is not None:
            with computing():
                stop = stopping.end_epoch(evaluate(model, val_split, config.batch_size * 4,
                                                   device))
            if stop:
                break
        if epoch < config.epochs - 1:
            recorder.end_epoch(score)
    bar.close()
    train_seconds = time.perf_counter() - start
    epochs = until - first_epoch
    state = None
    if until < config.epochs:
        state = {"epoch": until, "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(),
                 "order_rng": order_rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                 "first_loss": watch.first, "running": watch.running}
    summary = None
    if stopping is not None:  # scored (and kept) at the best epoch, not the last
        epochs, summary = stopping.epochs, stopping.restore_best()
    accuracy = score()  # the last epoch's point of the curve too: the model is scored once
    recorder.end_epoch(lambda: accuracy)
    return TrainResult("ok", accuracy, None, time.perf_counter() - start,
                       epochs * len(train_split) / train_seconds, recorder.curve(), summary,
                       state)


def epoch_augment(config: TrainConfig, epoch: int, num_images: int,
                  device: torch.device | None = None) -> AugmentParams | None:
    """The augmentation of one epoch (its parameters on ``device``), or None when the config
    has none."""
    if config.augment_padding <= 0:
        return None
    params = augment_params(num_images, config.augment_seed + epoch, config.augment_padding)
    if device is not None and device.type != "cpu":
        params = AugmentParams(params.offsets.to(device), params.flips.to(device), params.padding)
    return params


@torch.inference_mode()
def evaluate(model: nn.Module, split: Split, batch_size: int = 512,
             device: torch.device | None = None) -> float:
    """Top-1 accuracy of ``model`` on ``split`` (eval mode; training mode is restored)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    images, labels = split.on(device)
    correct = torch.zeros((), dtype=torch.long, device=device)  # counted there: one sync
    for i in range(0, len(split), batch_size):
        correct += (model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum()
    model.train(was_training)
    return correct.item() / len(split)


def _schedule(config: TrainConfig, steps_per_epoch: int,
              stopping: _EarlyStopping | None = None) -> Callable[[int], float]:
    total = config.epochs * steps_per_epoch
    warmup = int(config.warmup_epochs * steps_per_epoch)
    drops = (lambda: stopping.lr_scale) if stopping is not None else (lambda: 1.0)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup * drops()
        if config.schedule in ("constant", "plateau"):
            return drops()
        # cosine over the cap: with a patience it may stop early, at a higher learning rate
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))) * drops()

    return factor
