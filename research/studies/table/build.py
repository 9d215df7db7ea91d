"""Building the benchmark table: every pool student trained with labels only and with KD from
each teacher, over seeds, at one fixed proxy budget, on the project's evaluators.

The output directory holds ``table.json`` (the settings, the pool and each student's measured
latency), ``trainings.jsonl`` (one record per finished training, appended and fsynced as it
finishes, so ``kill -9`` loses at most the trainings in flight), ``sessions.jsonl`` (each
session's wall time and trainings, for the trainings-per-minute figure) and ``table.jsonl.gz``
(the records in table order, what :func:`load_table` reads; rewritten after each training).
The trainings run through the research's one runner (:func:`..runner.run_trainings`). Rerunning
the same command trains only what is missing; teachers and seeds may be added to a table later,
while what decides its students and their accuracies (data, space, budget, seed, pool size)
must stay the same. A copy of a shipped table's directory (its ``table.json``, ``config.yaml``
and ``table.jsonl.gz``) continues the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from akd.common import CoreLock, check_out, option, read_json, read_lines, write_json
from akd.components import build_space, preflight, run_latency
from akd.config import RunConfig, cache_dir, save_config
from akd.data import Dataset, Split, load_dataset
from akd.distill import CachedTeacher, load_teacher, resolve_device
from akd.errors import ConfigError, RunError
from akd.execution import Outcome, train_student, workspace
from akd.latency import device_name
from akd.tables import LABELS, load_table, save_table

from ...common import check_at_least, check_teachers
from ..runner import TRAININGS_FILE, Trainings, run_trainings
from ..saved import deciding_settings, read_saved
from .pool import draw_pool

log = logging.getLogger(__name__)

SETTINGS_FILE = "table.json"
TABLE_FILE = "table.jsonl.gz"


@dataclass(frozen=True)
class Options:
    """What a table build trains; each field is also the build command's ``--flag``."""

    archs: int = option(300, help="students in the pool")
    teachers: tuple[str, ...] = option(("vgg", "resnet"), help="comma-separated zoo teachers, "
                                                               "every seed")
    seeds: int = option(2, help="trainings per student and mode, seeds 0..N-1")
    extra_teachers: tuple[str, ...] = option((), help="more zoo teachers, seed 0 only, trained "
                                                      "after the rest")
    eval_images: int = option(2000, help="validation and test images each training is scored on")
    draw_factor: int = option(4, help="the pool is spread over the cost range of this many times "
                                      "--archs seeded samples")
    pool_from: str | None = dataclasses.field(default=None, metadata={
        "metavar": "DIR", "help": "train the first --archs students of the table in DIR (with "
                                  "their latencies) instead of drawing a pool: the same students "
                                  "at another budget"})

    def __post_init__(self) -> None:
        check_teachers({"--teachers": self.teachers, "--extra-teachers": self.extra_teachers})
        every = (*self.teachers, *self.extra_teachers)
        if len(set(every)) != len(every):
            raise ConfigError(f"--teachers and --extra-teachers name a teacher twice "
                              f"({','.join(every)}); name each once")
        check_at_least({"--archs": (self.archs, 2), "--seeds": (self.seeds, 1),
                        "--eval-images": (self.eval_images, 1),
                        "--draw-factor": (self.draw_factor, 1)})

    def tasks(self, archs: Sequence[str]) -> list[Training]:
        """Every training of the table, student by student (all main modes and seeds of the
        first student, then the next...), then the extra teachers' seed-0 trainings."""
        main = [Training(arch, mode, seed, self.eval_images) for arch in archs
                for mode in (LABELS, *self.teachers) for seed in range(self.seeds)]
        extra = [Training(arch, mode, 0, self.eval_images) for arch in archs
                 for mode in self.extra_teachers]
        return main + extra


@dataclass(frozen=True)
class Training:
    """One training of the table: the evaluator's task."""

    arch: str
    mode: str  # "cls" or a teacher's name
    seed: int
    eval_images: int

    @property
    def key(self) -> tuple[str, str, int]:
        return self.arch, self.mode, self.seed


def build_table(config: RunConfig, options: Options, out: str | Path) -> Path:
    """Build (or finish) the table in ``out``; the path of its ``table.jsonl.gz``."""
    start = time.perf_counter()
    out = check_build(config, out, SETTINGS_FILE, "a benchmark table")
    preflight(config)
    # a saved table of other settings (or a damaged one) is refused before any work
    read_saved(out / SETTINGS_FILE, _settings(config, options), "a table")
    dataset = load_dataset(config.data, cache_dir(config))
    check_eval_images(options.eval_images, dataset)
    teacher_acc = {mode: _teacher_signal(config, dataset, mode)[1]
                   for mode in (*options.teachers, *options.extra_teachers)}
    lock = CoreLock()
    pool = _pool(config, options, dataset, out, lock)
    save_config(config, out / "config.yaml")
    archs = [s["arch"] for s in pool]
    students = {s["arch"]: s for s in pool}
    host = device_name(resolve_device(config.proxy.device))
    budget = training_budget(config, dataset, options)
    trainings = Trainings(
        entry=train_table_entry, key_of=lambda r: (r["arch"], r["mode"], r["seed"]),
        record=lambda task, outcome: table_record(task, outcome, students[task.arch], budget,
                                                  teacher_acc.get(task.mode), host),
        publish=lambda: save_table(read_lines(out / TRAININGS_FILE), out / TABLE_FILE,
                                   order=archs),
        published=out / TABLE_FILE, load_published=lambda path: load_table(path).records)
    run_trainings(config, options.tasks(archs), out, trainings, host, lock, started=start)
    return out / TABLE_FILE


def check_build(config: RunConfig, out: str | Path, settings_file: str, what: str) -> Path:
    """What a build of trainings with and without a teacher refuses before any work: an
    ``--out`` that is a file or another command's folder, and a KD weight that leaves the
    teacher out. The output directory."""
    out = check_out(out, settings_file, what)
    if not config.proxy.alpha > 0:
        raise ConfigError(f"proxy.alpha = {config.proxy.alpha} leaves the KD trainings without "
                          "the teacher; use an alpha in (0, 1]")
    return out


def check_eval_images(eval_images: int, dataset: Dataset) -> None:
    for name, split in (("validation", dataset.val), ("test", dataset.test)):
        if eval_images > len(split):
            raise ConfigError(f"--eval-images {eval_images} is more than the "
                              f"{len(split)} {name} images of {dataset.name}")


def training_budget(config: RunConfig, dataset: Dataset, options: Options) -> dict:
    """What every training of the table shares: its record's ``budget`` (KD's alpha and
    temperature apply to the teachers' modes; labels only uses alpha 0)."""
    proxy = config.proxy
    return {"dataset": dataset.name, "train_images": len(dataset.proxy), "epochs": proxy.epochs,
            "batch_size": proxy.batch_size, "lr": proxy.lr, "weight_decay": proxy.weight_decay,
            "schedule": proxy.schedule, "augment_padding": proxy.augment_padding,
            "kd_alpha": proxy.alpha, "kd_temperature": proxy.temperature,
            "eval_images": options.eval_images}


def table_record(task: Training, outcome: Outcome, student: dict, budget: dict,
                 teacher_acc: float | None, host: str) -> dict:
    return {"arch": task.arch, "decisions": student["decisions"], "mode": task.mode,
            "seed": task.seed, "status": outcome.status, "val_acc": outcome.accuracy,
            "test_acc": outcome.test_accuracy, "latency_ms": student["latency_ms"],
            "params": student["params"], "macs": student["macs"], "seconds": outcome.seconds,
            "budget": budget, "teacher_test_acc": teacher_acc, "host": host,
            "error": outcome.error}


# --- what a worker needs: the dataset, the scored images and each teacher's logits ----------

_SIGNALS: dict[tuple[str, str], tuple[CachedTeacher, float]] = {}  # per process


def _teacher_signal(config: RunConfig, dataset: Dataset, mode: str) -> tuple[CachedTeacher, float]:
    """Zoo teacher ``mode`` (trained with ``config.teacher``'s recipe, or from the cache) and its
    logits of the proxy split, loaded once per process; and its test accuracy. The driver calls
    it first, so that workers only read caches."""
    key = (str(cache_dir(config)), mode)
    if key not in _SIGNALS:
        cache = cache_dir(config)
        teacher = load_teacher(dataclasses.replace(config.teacher, name=mode), dataset, cache,
                               progress=config.progress)
        signal = CachedTeacher(teacher, dataset.proxy, config.proxy, cache,
                               progress=config.progress)
        signal.fill(config.proxy.epochs)
        log.info(f"teacher {mode}: test accuracy {teacher.test_accuracy:.4f} "
                 f"({teacher.description})")
        _SIGNALS[key] = signal, teacher.test_accuracy
    return _SIGNALS[key]


def _scored(split: Split, images: int) -> Split:
    return split.subset(torch.arange(images))  # validation is in seeded random order already


def train_table_entry(task: Training, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student on the proxy split, labels only or with its teacher, and score it
    on the first ``eval_images`` validation and test images: the evaluator's work."""
    def setting() -> tuple:
        dataset = workspace(config).dataset
        signal = None if task.mode == LABELS else _teacher_signal(config, dataset, task.mode)[0]
        training = dataclasses.replace(config.proxy, seed=task.seed,
                                       alpha=config.proxy.alpha if signal else 0.0)
        return (dataset, task.seed, dataset.proxy, _scored(dataset.val, task.eval_images),
                training, signal)

    return train_student(task.arch, setting, lock, test_split=lambda: _scored(
        workspace(config).dataset.test, task.eval_images))


# --- the pool ---------------------------------------------------------------------------------

def _settings(config: RunConfig, options: Options) -> dict:
    """What decides the students and their accuracies (teachers and seeds only add trainings)."""
    return {**deciding_settings(config), "archs": options.archs,
            "draw_factor": options.draw_factor, "eval_images": options.eval_images,
            "pool_from": str(Path(options.pool_from).resolve()) if options.pool_from else None}


def _pool(config: RunConfig, options: Options, dataset: Dataset, out: Path,
          lock: CoreLock) -> list[dict]:
    """The table's students with their latency: drawn and measured now, or read back."""
    path = out / SETTINGS_FILE
    settings = _settings(config, options)
    saved = read_saved(path, settings, "a table")
    if saved is not None:
        return saved["pool"]
    if options.pool_from:
        pool = _borrowed_pool(Path(options.pool_from), options.archs)
    else:
        pool = draw_pool(build_space(config), options.archs, options.draw_factor * options.archs,
                         config.search.seed, dataset.input_size, dataset.num_classes,
                         progress=config.progress)
        with run_latency(config, dataset.input_size, dataset.num_classes, lock) as latency:
            for student in tqdm(pool, desc="latency", unit="arch", disable=not config.progress):
                student["latency_ms"] = latency(student["arch"])
    write_json(path, {"settings": settings, "latency_device": device_name(config.latency.device),
                      "pool": pool})
    return pool


def _borrowed_pool(source: Path, archs: int) -> list[dict]:
    """The first ``archs`` students of the table in ``source`` (their order is random already)."""
    path = source / SETTINGS_FILE
    if not path.is_file():
        raise RunError(f"--pool-from {str(source)!r} has no {SETTINGS_FILE}: it is not a "
                       "benchmark table's directory")
    pool = read_json(path, ("pool",))["pool"]
    if archs > len(pool):
        raise ConfigError(f"--archs {archs} is more than the {len(pool)} students of "
                          f"--pool-from {str(source)!r}")
    return pool[:archs]
