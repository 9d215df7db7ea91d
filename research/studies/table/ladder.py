"""Building the ladder table: a stratified subset of a benchmark table's students trained at a
ladder of budgets (the table's own up to a long distillation), with labels only and with KD, over
seeds, each training keeping its learning curve.

The output directory holds ``ladder.json`` (the settings, the rungs and the chosen students with
why each was chosen), ``trainings.jsonl`` (one record per finished training, appended and
fsynced as it finishes), ``sessions.jsonl`` (each session's wall time, host and trainings,
rewritten as each training finishes so that ``kill -9`` loses at most the trainings in flight)
and ``ladder.jsonl.gz`` (the records in ladder order, what :func:`akd.tables.load_ladder` reads;
also rewritten as each training finishes), through the research's one runner of trainings
(:func:`..runner.run_trainings`). Rerunning the same command trains only what is missing; a copy of a shipped ladder's directory continues the same way. Teachers and seeds may be
added later; what decides the students and their accuracies may not change.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from akd.common import CoreLock, option, read_lines, write_json
from akd.config import RunConfig, cache_dir, save_config
from akd.data import Dataset, Split
from akd.distill import CachedTeacher, load_teacher, resolve_device
from akd.errors import ConfigError
from akd.execution import Outcome, train_student, workspace
from akd.latency import device_name
from akd.tables import (LABELS, LADDER_FIELDS, LADDER_FILE, Rung, Table, load_ladder, load_table,
                        save_table)

from ...common import check_at_least, check_teachers
from ..runner import TRAININGS_FILE, Trainings, run_trainings
from ..saved import deciding_settings, read_saved
from . import build as table_build
from .build import table_record
from .pool import spread_by_cost

log = logging.getLogger(__name__)

SETTINGS_FILE = "ladder.json"

# 1x (the table's own budget), 4x, 16x and 32x its training samples; from 4x on the first 6,000
# images, so that the top rung has the images and epochs of the study's 16-epoch final training
# (6,000 x 16), where KD added about two points (docs/study/study.md), while the bottom rung
# repeats the table's trainings exactly.
DEFAULT_RUNGS = ((3000, 1), (6000, 2), (6000, 8), (6000, 16))


def parse_rungs(text: str) -> tuple[tuple[int, int], ...]:
    """``3000x1,6000x2`` -> ((3000, 1), (6000, 2)): the ``--rungs`` flag."""
    try:
        return tuple((int(images), int(epochs)) for images, epochs in
                     (rung.strip().split("x") for rung in text.split(",") if rung.strip()))
    except ValueError:
        raise ConfigError(f"--rungs {text!r}: give IMAGESxEPOCHS pairs joined by commas, e.g. "
                          "3000x1,6000x2") from None


def show_rungs(rungs: tuple[tuple[int, int], ...]) -> str:
    return ",".join(f"{images}x{epochs}" for images, epochs in rungs)


@dataclass(frozen=True)
class Options:
    """What a ladder build trains; each field is also the build command's ``--flag``."""

    table: str = option("fashion_mnist-small28", help="the benchmark table whose students are "
                                                      "chosen: a shipped name or a table "
                                                      "directory")
    students: int = option(32, help="students of the ladder")
    extremes: int = option(5, help="the table's N best and N worst under each mode are all "
                                   "included")
    rungs: tuple[tuple[int, int], ...] = dataclasses.field(default=DEFAULT_RUNGS, metadata={
        "help": "budgets as IMAGESxEPOCHS, cheapest first", "metavar": "IxE,IxE",
        "parse": parse_rungs, "show": show_rungs})
    teachers: tuple[str, ...] = option(("vgg",), help="zoo teachers distilled from at every "
                                                      "rung (and labels only)")
    top_teachers: tuple[str, ...] = option(("resnet",), help="more zoo teachers, at the top rung "
                                                             "only, trained last ('' for none)")
    seeds: int = option(2, help="trainings per student, rung and mode: seeds 0..N-1")
    eval_images: int = option(2000, help="validation and test images each training is scored on "
                                         "(as the table)")
    curve_every: int = option(8, help="steps each recorded training loss averages")

    def __post_init__(self) -> None:
        check_teachers({"--teachers": self.teachers, "--top-teachers": self.top_teachers})
        if not self.teachers:
            raise ConfigError("--teachers is empty; name at least one zoo teacher")
        check_at_least({"--students": (self.students, 2), "--extremes": (self.extremes, 0),
                        "--seeds": (self.seeds, 1), "--eval-images": (self.eval_images, 1),
                        "--curve-every": (self.curve_every, 1)})
        if not self.rungs or any(len(r) != 2 or min(r) < 1 for r in self.rungs):
            raise ConfigError(f"--rungs {self.rungs!r}: give IMAGESxEPOCHS pairs of positive "
                              "integers, e.g. 3000x1,6000x2")
        samples = [images * epochs for images, epochs in self.rungs]
        if samples != sorted(set(samples)):
            raise ConfigError(f"--rungs must grow: training samples {samples}, cheapest first")

    @property
    def ladder(self) -> list[Rung]:
        return [Rung(i, images, epochs) for i, (images, epochs) in enumerate(self.rungs)]

    def tasks(self, archs: Sequence[str]) -> list[Training]:
        """Every training: the two cheapest rungs first (minutes), then the top rung (the target
        every cheap evaluation is scored against), then the rungs between, then the top rung's
        extra teachers; within each, student by student."""
        rungs = self.ladder
        cheap, top, between = rungs[:2], rungs[-1:] if len(rungs) > 2 else [], rungs[2:-1]

        def trainings(of: list[Rung], modes: Sequence[str]) -> list[Training]:
            return [Training(arch, mode, seed, self.eval_images, rung.index, rung.train_images,
                             rung.epochs, self.curve_every)
                    for rung in of for arch in archs for mode in modes
                    for seed in range(self.seeds)]
        main = (LABELS, *self.teachers)
        return (trainings(cheap, main) + trainings(top, main) + trainings(between, main)
                + trainings(rungs[-1:], self.top_teachers))

    def settings(self) -> dict:
        """What decides the students and their accuracies (teachers and seeds only add
        trainings)."""
        return {"table": self.table, "students": self.students, "extremes": self.extremes,
                "rungs": [list(r) for r in self.rungs], "eval_images": self.eval_images,
                "curve_every": self.curve_every}


@dataclass(frozen=True)
class Training(table_build.Training):
    """One training of the ladder: a table's training at one rung's budget, its learning curve
    kept; the evaluator's task."""

    rung: int = 0
    train_images: int = 0
    epochs: int = 0
    curve_every: int = 1

    @property
    def key(self) -> tuple[str, str, int, int]:
        return self.arch, self.mode, self.seed, self.rung

    @property
    def samples(self) -> int:
        return self.train_images * self.epochs


# --- choosing the students ---------------------------------------------------------------------

def choose_students(table: Table, modes: Sequence[str], count: int, extremes: int) -> list[dict]:
    """``count`` of ``table``'s students: under each of ``modes`` the ``extremes`` best and worst
    by mean validation accuracy over seeds, the rest spread evenly over the logarithm of the
    latency of those not yet chosen; in the table's (seeded random) order, each with ``chosen``
    (why) and ``table_val_acc`` (mode -> the table's mean)."""
    means = {mode: table.filter(mode=mode).accuracy() for mode in modes}
    missing = [mode for mode in modes if not means[mode]]
    if missing:
        raise ConfigError(f"the table has no successful trainings of mode {missing[0]!r}; "
                          f"choose among {', '.join(table.modes)}")
    scored = [arch for arch in table.archs if all(arch in means[mode] for mode in modes)]
    reasons: dict[str, list[str]] = {}
    for mode in modes:
        ranked = sorted(scored, key=lambda arch: (-means[mode][arch], arch))
        for arch in ranked[:extremes]:
            reasons.setdefault(arch, []).append(f"best {mode}")
        for arch in ranked[len(ranked) - extremes:] if extremes else []:
            reasons.setdefault(arch, []).append(f"worst {mode}")
    if len(reasons) > count:
        raise ConfigError(f"--students {count} is fewer than the {len(reasons)} best and worst "
                          f"students under {', '.join(modes)}; raise it or lower --extremes")
    if count > len(scored):
        raise ConfigError(f"--students {count} is more than the {len(scored)} students the "
                          "table has trained under every mode")
    records = {r["arch"]: r for r in table}
    rest = [arch for arch in scored if arch not in reasons]
    for i in spread_by_cost([records[arch]["latency_ms"] for arch in rest], count - len(reasons)):
        reasons[rest[i]] = ["latency spread"]
    return [{"arch": arch, "decisions": records[arch]["decisions"],
             "latency_ms": records[arch]["latency_ms"], "params": records[arch]["params"],
             "macs": records[arch]["macs"], "chosen": reasons[arch],
             "table_val_acc": {mode: means[mode][arch] for mode in modes}}
            for arch in scored if arch in reasons]


# --- the build ---------------------------------------------------------------------------------

def build_ladder(config: RunConfig, options: Options, out: str | Path) -> Path:
    """Build (or finish) the ladder in ``out``; the path of its ``ladder.jsonl.gz``."""
    start = time.perf_counter()
    out = table_build.check_build(config, out, SETTINGS_FILE, "a ladder table")
    # a saved ladder of other settings (or a damaged one) is refused before any work
    settings = {**deciding_settings(config), **options.settings()}
    saved = read_saved(out / SETTINGS_FILE, settings, "a ladder table")
    dataset = workspace(config).dataset  # and the proxy logits workers load, computed once here
    _check_sizes(options, dataset)
    students = saved["students"] if saved else _choose_students(options, out, settings)
    # each teacher's logits of the images it is distilled on, computed here once for the workers
    top = options.ladder[-1].train_images
    teacher_acc = {mode: _teacher_signal(config, dataset, mode, images)[1]
                   for mode, sizes in [*((m, {r.train_images for r in options.ladder})
                                         for m in options.teachers),
                                       *((m, {top}) for m in options.top_teachers)]
                   for images in sorted(sizes)}
    save_config(config, out / "config.yaml")
    archs = [s["arch"] for s in students]
    by_arch = {s["arch"]: s for s in students}
    host = device_name(resolve_device(config.proxy.device))
    trainings = Trainings(
        entry=train_ladder_entry, key_of=lambda r: (r["arch"], r["mode"], r["seed"], r["rung"]),
        record=lambda task, outcome: ladder_record(task, outcome, by_arch[task.arch],
                                                   _budget(config, task),
                                                   teacher_acc.get(task.mode), host),
        publish=lambda: _publish(out, archs), size=lambda task: task.samples, unit="sample",
        published=out / LADDER_FILE, load_published=lambda path: load_ladder(path).records)
    run_trainings(config, options.tasks(archs), out, trainings, host, started=start)
    return out / LADDER_FILE


def _check_sizes(options: Options, dataset: Dataset) -> None:
    table_build.check_eval_images(options.eval_images, dataset)
    largest = max(images for images, _ in options.rungs)
    if largest > len(dataset.train):
        raise ConfigError(f"a rung trains on {largest} images, more than the {len(dataset.train)} "
                          f"training images of {dataset.name}")


def _choose_students(options: Options, out: Path, settings: dict) -> list[dict]:
    """The ladder's students, chosen from the table and written to ``ladder.json`` with the
    settings that decide them."""
    path = out / SETTINGS_FILE
    table = load_table(options.table)
    students = choose_students(table, (LABELS, *options.teachers), options.students,
                               options.extremes)
    write_json(path, {"settings": settings, "rungs": [dataclasses.asdict(r)
                                                      for r in options.ladder],
                      "students": students})
    return students


def _budget(config: RunConfig, task: Training) -> dict:
    proxy = config.proxy
    return {"dataset": config.data.name, "train_images": task.train_images,
            "epochs": task.epochs, "batch_size": proxy.batch_size, "lr": proxy.lr,
            "weight_decay": proxy.weight_decay, "schedule": proxy.schedule,
            "augment_padding": proxy.augment_padding, "kd_alpha": proxy.alpha,
            "kd_temperature": proxy.temperature, "eval_images": task.eval_images}


def ladder_record(task: Training, outcome: Outcome, student: dict, budget: dict,
                  teacher_acc: float | None, host: str) -> dict:
    curve = outcome.curve
    if curve is not None:  # five significant digits: the file stays small
        curve = {**curve, **{key: _rounded(curve[key])
                             for key in ("train_loss", "train_ce", "val_acc")}}
    return {**table_record(task, outcome, student, budget, teacher_acc, host),
            "rung": task.rung, "curve": curve}


def _rounded(values: list) -> list:
    return [_rounded(v) if isinstance(v, list) else float(f"{v:.5g}") for v in values]


def _publish(out: Path, archs: Sequence[str]) -> None:
    save_table(read_lines(out / TRAININGS_FILE), out / LADDER_FILE, order=archs,
               fields=LADDER_FIELDS)


# --- what a worker needs: the training images and each teacher's logits of them --------------

_SIGNALS: dict[tuple[str, str, int], tuple[CachedTeacher, float]] = {}  # per process


def _first(split: Split, images: int) -> Split:
    return split.subset(torch.arange(images))  # every split is in seeded random order already


def _teacher_signal(config: RunConfig, dataset: Dataset, mode: str,
                    images: int) -> tuple[CachedTeacher, float]:
    """Zoo teacher ``mode``'s logits of the first ``images`` training images (loaded once per
    process; the driver computes them first, so that workers only read caches) and its test
    accuracy."""
    key = (str(cache_dir(config)), mode, images)
    if key not in _SIGNALS:
        cache = cache_dir(config)
        teacher = load_teacher(dataclasses.replace(config.teacher, name=mode), dataset, cache,
                               progress=config.progress)
        signal = CachedTeacher(teacher, _first(dataset.train, images), config.proxy, cache,
                               progress=config.progress)
        signal.fill(1)  # every epoch's, without augmentation; else the rest on first use
        _SIGNALS[key] = signal, teacher.test_accuracy
    return _SIGNALS[key]


def train_ladder_entry(task: Training, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student at its rung, labels only or with its teacher, keeping the
    learning curve; scored on the first ``eval_images`` validation and test images."""
    def setting() -> tuple:
        dataset = workspace(config).dataset
        signal = None if task.mode == LABELS else _teacher_signal(
            config, dataset, task.mode, task.train_images)[0]
        training = dataclasses.replace(config.proxy, seed=task.seed, epochs=task.epochs,
                                       alpha=config.proxy.alpha if signal else 0.0)
        return (dataset, task.seed, _first(dataset.train, task.train_images),
                _first(dataset.val, task.eval_images), training, signal)

    return train_student(task.arch, setting, lock, curve_every=task.curve_every,
                         test_split=lambda: _first(workspace(config).dataset.test,
                                                   task.eval_images))
