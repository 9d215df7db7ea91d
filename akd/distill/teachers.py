"""Teachers: a zoo model trained once and cached on disk, or a user's own model.

A zoo teacher is trained on the dataset's training split with the trainer every student uses, then
stored with its test accuracy and the config that produced it, under a key that hashes that config
and the training images; a later run with the same key loads it instead of training again. The
default teacher on Fashion-MNIST ships with akd (``pretrained/``, under the same key), so a first
run need not train it; any other recipe misses it and trains.
A user's teacher is an importable factory plus a state-dict file, or a TorchScript file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from scipy import stats as scipy_stats
from torch import nn

from ..common.fields import option
from ..common.io import load_cached, save_cached
from ..data import Dataset
from ..errors import TeacherError
from .trainer import TrainConfig, evaluate, resolve_device, train, training_recipe
from .zoo import TEACHERS

PRETRAINED = Path(__file__).resolve().parent / "pretrained"  # zoo teachers shipped with akd


def default_teacher_training() -> TrainConfig:
    # Measured on Fashion-MNIST: see docs/results.md for accuracy and time.
    return TrainConfig(epochs=7, lr=0.1, warmup_epochs=0.5, augment_padding=2)


# torchvision's and timm's ImageNet models are trained on pixels / 255 normalised by these
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NORMALIZATIONS = ("data", "none", "imagenet")


@dataclass(frozen=True)
class Normalization:
    """A teacher's own input normalisation: pixels / 255, then ``(x - mean) / std`` per channel
    (one value each for every channel, or one per channel)."""

    mean: list[float]
    std: list[float]


@dataclass(frozen=True)
class TeacherConfig:
    name: str = option("vgg", help='a zoo name (resnet, vgg, wide, mlp, resnet18), or "user" for '
                                   'your own model')
    factory: str | None = option(None, help='user teacher: "package.module:function" building the '
                                            'model')
    weights: str | None = option(None, help="user teacher: its state-dict file, or a TorchScript "
                                            "file alone")
    training: TrainConfig = option(
        factory=default_teacher_training, help="zoo teachers only")
    train_images: int = option(0, help="zoo teachers: train on the first N training images (0: all "
                                       "of them)")
    normalization: str | Normalization = option(
        "data", help="user teacher: the inputs it was trained on. data: pixels / 255, then the "
                     "training split's per-channel mean and std (what akd feeds every network, and "
                     "what zoo teachers know); none: pixels / 255; imagenet: pixels / 255, then "
                     "torchvision's ImageNet mean and std; or {mean: [...], std: [...]}")

    def __post_init__(self) -> None:
        norm = self.normalization
        if isinstance(norm, str):
            if norm not in NORMALIZATIONS:
                raise ValueError(f"teacher.normalization = {norm!r}; allowed: "
                                 f"{', '.join(NORMALIZATIONS)}, or {{mean: [...], std: [...]}}")
        elif not (norm.mean and len(norm.mean) == len(norm.std)
                  and all(v > 0 for v in norm.std)):
            raise ValueError(f"teacher.normalization = {{mean: {norm.mean}, std: {norm.std}}}: "
                             "mean and std need the same "
                             "number of values (1, or one per channel), every std > 0")
        for key in ("factory", "weights"):
            if getattr(self, key) is not None and self.name != "user":
                raise ValueError(f"teacher.{key} is for your own teacher; set teacher.name: user "
                                 f"(teacher.name = {self.name!r} trains akd's zoo model and "
                                 "would ignore it)")
        if norm != "data" and self.name != "user":
            raise ValueError(f"teacher.normalization = {norm!r} is for a user teacher; zoo "
                             f"teacher {self.name} is trained by akd on its inputs (data)")


@dataclass
class Teacher:
    model: nn.Module  # in eval mode, gradients off
    test_accuracy: float  # on the dataset's test split
    fingerprint: str  # hash of the weights: keys the logit cache
    description: str  # where it came from, for logs


def near_chance(teacher: Teacher, dataset: Dataset, name: str) -> str | None:
    """One line calling out a teacher whose test accuracy a binomial test cannot tell from
    guessing (one in ``num_classes``, at 99%), or that is under twice that: distilling from it
    teaches the students noise. None for a teacher that knows something."""
    chance = 1 / dataset.num_classes
    images = len(dataset.test)
    correct = round(teacher.test_accuracy * images)
    p_value = scipy_stats.binomtest(correct, images, chance, alternative="greater").pvalue
    if p_value < 0.01 and teacher.test_accuracy >= 2 * chance:
        return None
    return (f"teacher {name} is near chance: test accuracy {teacher.test_accuracy:.4f} against "
            f"{chance:.4f} for guessing among {dataset.num_classes} classes on {images} images; "
            "the akd arm would learn its noise. Check its weights and that its inputs are "
            "prepared as it was trained (docs/distillation.md)")


def load_teacher(config: TeacherConfig, dataset: Dataset, cache_dir: Path,
                 progress: bool = True, train: bool = True) -> Teacher:
    """The configured teacher for ``dataset``: from the cache, trained now, or the user's file;
    with ``train=False`` a zoo teacher that is neither cached nor shipped is a
    :class:`TeacherError` instead of a training."""
    if config.name == "user":
        model, description = _user_model(config, dataset), f"user teacher {config.weights}"
        model = with_normalization(model, config.normalization, dataset)
        check_output_size(model, dataset)
        accuracy = evaluate(model, dataset.test, device=resolve_device(config.training.device))
    elif config.name in TEACHERS:
        model, accuracy, description = _zoo_teacher(config, dataset, cache_dir, progress, train)
    else:
        raise TeacherError(f"unknown teacher {config.name!r}; allowed: {', '.join(TEACHERS)}, user")
    model.eval()
    for parameter in model.parameters():  # ScriptModules have no requires_grad_()
        parameter.requires_grad_(False)
    return Teacher(model, accuracy, weights_fingerprint(model), description)


class Renormalized(nn.Module):
    """A teacher fed akd's inputs (normalised by the data's statistics) as it was trained: each
    channel mapped back to pixels / 255 and normalised by the teacher's own mean and std, one
    multiply-add. The constants are buffers, so the weights' fingerprint, and with it every
    cache of this teacher's logits, changes with them."""

    def __init__(self, teacher: nn.Module, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.teacher = teacher
        self.register_buffer("scale", scale.reshape(1, -1, 1, 1))
        self.register_buffer("shift", shift.reshape(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.teacher(images * self.scale + self.shift)


def with_normalization(model: nn.Module, normalization: str | Normalization,
                       dataset: Dataset) -> nn.Module:
    """``model`` as it takes akd's inputs, given the normalisation it was trained with."""
    if normalization == "data":
        return model
    channels = dataset.input_size[0]
    if normalization == "none":
        mean, std = [0.0], [1.0]
    elif normalization == "imagenet":
        if channels != 3:
            raise TeacherError(f"teacher.normalization = imagenet has 3 channels but "
                               f"{dataset.name} has {channels}; give {{mean: [...], std: [...]}}")
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    else:
        mean, std = list(normalization.mean), list(normalization.std)
        if len(mean) not in (1, channels):
            raise TeacherError(f"teacher.normalization has {len(mean)} mean(s) but "
                               f"{dataset.name} has {channels} channel(s); give 1 or {channels}")
    data_mean, data_std = torch.tensor(dataset.mean), torch.tensor(dataset.std)
    mean = torch.tensor(mean).expand(channels)
    std = torch.tensor(std).expand(channels)
    # akd's input x = (p - data_mean) / data_std; the teacher wants (p - mean) / std
    return Renormalized(model, data_std / std, (data_mean - mean) / std)


def check_output_size(model: nn.Module, dataset: Dataset) -> None:
    """ValueError unless ``model`` maps one dataset image to one logit per class."""
    model.eval()
    try:
        with torch.inference_mode():
            device = next(iter(model.parameters()), torch.empty(0)).device
            out = model(torch.zeros(1, *dataset.input_size, device=device))
    except Exception as error:  # any failure here is a mismatch of teacher and data
        raise TeacherError(f"teacher cannot take {dataset.name} images of shape "
                           f"{dataset.input_size}: {error}") from None
    if out.ndim != 2 or out.shape[1] != dataset.num_classes:
        raise TeacherError(f"teacher outputs shape {tuple(out.shape)} but {dataset.name} has "
                           f"{dataset.num_classes} classes; it needs (batch, "
                           f"{dataset.num_classes})")


def weights_fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _zoo_teacher(config: TeacherConfig, dataset: Dataset, cache_dir: Path,
                 progress: bool, train_now: bool = True) -> tuple[nn.Module, float, str]:
    model = TEACHERS[config.name](dataset.input_size[0], dataset.num_classes)
    train_split = dataset.train
    if config.train_images > 0:  # the training split is already in seeded random order
        train_split = train_split.subset(torch.arange(min(config.train_images, len(train_split))))
    recipe = {"teacher": config.name, "dataset": dataset.name,
              # the zoo's code may change a teacher's layers; a cache of the old shapes must miss
              "shapes": hashlib.sha256(str([(k, tuple(v.shape)) for k, v in
                                            model.state_dict().items()]).encode()).hexdigest(),
              "train_images": train_split.fingerprint(),
              # the device does not change what is learned, only where
              "training": {k: v for k, v in training_recipe(config.training).items()
                           if k != "device"}}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_dir) / "teachers" / f"{config.name}-{dataset.name}-{key}.pt"
    saved = load_cached(path)
    if saved is not None:  # the key says it is this recipe's teacher
        model.load_state_dict(saved["state_dict"])
        return model, saved["test_accuracy"], f"cached {path}"
    shipped = PRETRAINED / path.name
    if shipped.exists():
        saved = torch.load(shipped, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        return model, saved["test_accuracy"], f"shipped {shipped}"
    if not train_now:
        raise TeacherError(f"teacher {config.name} of this recipe is neither cached nor shipped "
                           f"({path.name})")
    start = time.perf_counter()
    result = train(model, train_split, dataset.test, config.training, progress=progress)
    if result.status != "ok":
        raise TeacherError(f"training teacher {config.name} failed: {result.error}")
    model.cpu()
    save_cached({"state_dict": model.state_dict(), "test_accuracy": result.accuracy,
                 "seconds": time.perf_counter() - start, "recipe": json.dumps(recipe)}, path)
    return model, result.accuracy, f"trained {path}"


def teacher_record(path: Path) -> dict:
    """Test accuracy, training seconds and recipe of a cached teacher file."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return {"test_accuracy": saved["test_accuracy"], "seconds": saved["seconds"],
            "recipe": json.loads(saved["recipe"])}


def _user_model(config: TeacherConfig, dataset: Dataset) -> nn.Module:
    if not config.weights:
        raise TeacherError("a user teacher needs teacher.weights: a state-dict file for "
                           "teacher.factory, or a TorchScript file")
    weights = Path(config.weights)
    if not weights.is_file():
        raise TeacherError(f"teacher.weights {str(weights)!r} does not exist")
    if config.factory is None:
        try:
            with warnings.catch_warnings():  # torch.jit warns it is deprecated; users still ship it
                warnings.simplefilter("ignore", FutureWarning)
                return torch.jit.load(str(weights), map_location="cpu")
        except RuntimeError as error:
            raise TeacherError(f"teacher.weights {str(weights)!r} is not a TorchScript file "
                               f"({str(error).splitlines()[0]}); for a state dict also set "
                               "teacher.factory") from None
    model = _call_factory(config.factory, dataset)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TeacherError(f"cannot read teacher weights {str(weights)!r}: "
                           f"{str(error).splitlines()[0]}; save them with "
                           "torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint that holds the state dict
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise TeacherError(f"teacher weights {str(weights)!r} hold a {type(state).__name__}, not "
                           "a state dict of tensors; save them with "
                           "torch.save(model.state_dict(), path)")
    mismatch = state_dict_mismatch(model.state_dict(), state)
    if mismatch:
        raise TeacherError(f"teacher weights {str(weights)!r} do not fit the model of "
                           f"{config.factory}: {mismatch}")
    model.load_state_dict(state)
    return model


def state_dict_mismatch(expected: dict, given: dict, shown: int = 3) -> str:
    """What keeps ``given`` from loading where ``expected`` is ("" when it fits): the missing
    and unexpected keys and the shapes that differ, a few of each named, then a count."""
    def some(names: list[str]) -> str:
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        return ", ".join(names[:shown]) + more

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [f"{k} {tuple(given[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
              for k in expected if k in given and given[k].shape != expected[k].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s) ({some(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) ({some(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} shape(s) differ ({some(shapes)})")
    return "; ".join(parts)


def _call_factory(spec: str, dataset: Dataset) -> nn.Module:
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise TeacherError(f"teacher.factory {spec!r} must look like 'package.module:function' "
                           "or 'path/to/file.py:function'")
    try:
        factory = getattr(_import_factory_module(module_name), attr)
    except (ImportError, AttributeError, OSError, SyntaxError) as error:
        raise TeacherError(f"teacher.factory {spec!r} cannot be imported: {error}; name a module "
                           "importable from the current directory, or a file "
                           "(path/to/file.py:function)") from None
    if not callable(factory):
        raise TeacherError(f"teacher.factory {spec!r} names a {type(factory).__name__}, not a "
                           "function that builds the model")
    # Pass the data's shape to factories that ask for it, by the names torchvision uses.
    offered = {"num_classes": dataset.num_classes, "in_channels": dataset.input_size[0]}
    accepted = inspect.signature(factory).parameters
    model = factory(**{k: v for k, v in offered.items() if k in accepted})
    if not isinstance(model, nn.Module):
        raise TeacherError(f"teacher.factory {spec!r} returned {type(model).__name__}, not an "
                           "nn.Module")
    return model


def _import_factory_module(name: str):
    """The factory's module: a ``.py`` file (relative to the current directory), or a module
    importable from ``sys.path`` or, failing that, from the current directory (where a user
    keeps it beside their config: a script's own folder, not the current one, leads its path)."""
    if name.endswith(".py"):
        path = Path(name).resolve()
        if not path.is_file():
            raise ImportError(f"no file {str(path)!r}")
        spec = importlib.util.spec_from_file_location(f"akd_teacher_factory_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        here = str(Path.cwd())
        if error.name != name.split(".")[0] or here in sys.path:
            raise
        sys.path.append(here)  # after the rest: it never shadows an installed module
        return importlib.import_module(name)
