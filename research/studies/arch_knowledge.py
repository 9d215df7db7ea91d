"""The architecture-knowledge experiment: do teachers agree on which student learns best?

The AKD paper's motivation table. A fixed set of students at similar latency is drawn from the
search space: many architectures are sampled with a seed, their latencies measured (cached), the
ones nearest the median latency kept as a pool, and from it the students chosen greedily to
differ in as many decisions as possible (ops, kernels, widths...), so the set is diverse while
latency is held about constant. Every student is then trained on the proxy split with labels only
(CLS) and distilled from each zoo teacher (KD, the teacher's cached logits), once per seed, with
the shared trainer (``akd.evaluation.train_student``), and tested on the validation split.

Out come the students' ranking per column (CLS and each teacher) and the rank correlation
(Spearman's rho, Kendall's tau-b) between every pair of columns. Each finished training is
appended to ``results.jsonl`` as it finishes, so a killed run, rerun, skips what is done.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from search_spaces import count_cost

from akd.common import (CoreLock, append_line, check_out, csv_cell, kendall, option, percent, read_lines,
                        signed, spearman, write_atomic, write_json, write_text)
from akd.components import build_space, run_latency
from akd.config import RunConfig, cache_dir, save_config
from akd.data import Dataset, load_dataset
from akd.distill import TEACHERS, CachedTeacher, load_teacher
from akd.errors import ConfigError, RunError
from akd.execution import train_student

from ..common import check_teachers
from .saved import deciding_settings, read_saved

log = logging.getLogger(__name__)

LABELS = "CLS"  # the column of the label-only trainings
POOL_FACTOR = 4  # the pool the students are chosen from: this many times as many, by latency


@dataclass(frozen=True)
class Options:
    """What the experiment trains; each field is also its command's ``--flag``."""

    students: int = option(5, help="students at similar latency, chosen from the sampled ones")
    teachers: tuple[str, ...] = option(tuple(TEACHERS), help="comma-separated zoo teachers to "
                                                             "distil from")
    seeds: int = option(2, help="trainings per student and column, seeds 0..N-1")
    samples: int = option(64, help="architectures sampled (seed: search.seed) to choose the "
                                   "students from")

    def __post_init__(self) -> None:
        check_teachers({"--teachers": self.teachers})
        if not self.teachers or len(set(self.teachers)) != len(self.teachers):
            raise ConfigError(f"--teachers {','.join(self.teachers)!r} must name one or more "
                              f"distinct zoo teachers from {', '.join(TEACHERS)}")
        if self.students < 2:
            raise ConfigError(f"--students must be >= 2 to rank anything, got {self.students}")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {self.seeds}")
        if self.samples < self.students:
            raise ConfigError(f"--samples ({self.samples}) must be >= --students "
                              f"({self.students})")


def run_experiment(config: RunConfig, options: Options, out: str | Path) -> dict:
    """Run (or finish) the experiment into ``out``; the summary that the tables show."""
    if not config.proxy.alpha > 0:
        raise ConfigError(f"proxy.alpha = {config.proxy.alpha} leaves the KD trainings without "
                          "the teacher; use an alpha in (0, 1]")
    start = time.perf_counter()
    out = check_out(out, "students.json", "an architecture-knowledge experiment")
    dataset = load_dataset(config.data, cache_dir(config))
    lock = CoreLock()
    students = _students(config, options, dataset, out, lock)
    save_config(config, out / "config.yaml")
    results = out / "results.jsonl"
    done = {(r["teacher"], r["arch"], r["seed"]) for r in read_lines(results)}
    todo = {column: [(s, seed) for s in students for seed in range(options.seeds)
                     if (column, s["arch"], seed) not in done]
            for column in (None, *options.teachers)}
    total = len(todo) * len(students) * options.seeds
    bar = tqdm(total=total, initial=total - sum(map(len, todo.values())), desc="trainings",
               unit="run", disable=not config.progress)
    for column, pending in todo.items():
        if not pending:
            continue
        bar.set_postfix(signal=column or LABELS)
        signal, teacher_acc = _teacher_signal(config, column, dataset) if column else (None, None)
        for student, seed in pending:
            outcome = train_student(student["arch"], _setting(config, dataset, seed, signal), lock)
            append_line(results, {
                "teacher": column, "mode": "kd" if column else "cls", "student": student["id"],
                "arch": student["arch"], "seed": seed, "val_acc": outcome.accuracy,
                "status": outcome.status, "error": outcome.error, "seconds": outcome.seconds,
                "teacher_test_acc": teacher_acc})
            bar.update()
    bar.close()
    summary = summarize(students, read_lines(results), options.teachers, options.seeds)
    write_outputs(summary, out)
    log.info(markdown_tables(summary))
    log.info(f"\n{describe(summary)}\n\nwritten to {out}/ in {time.perf_counter() - start:.0f} s")
    return summary


def _setting(config: RunConfig, dataset: Dataset, seed: int, signal: CachedTeacher | None):
    """The ``setting`` of ``train_student``: the proxy training, KD when ``signal`` is given."""
    training = dataclasses.replace(config.proxy, seed=seed,
                                   alpha=config.proxy.alpha if signal is not None else 0.0)
    return lambda: (dataset, seed, dataset.proxy, dataset.val, training, signal)


def _teacher_signal(config: RunConfig, name: str, dataset: Dataset) -> tuple[CachedTeacher, float]:
    """Zoo teacher ``name`` (trained with ``config.teacher``'s budget, or from the cache) and its
    logits of the proxy split; and its test accuracy."""
    cache = cache_dir(config)
    teacher = load_teacher(dataclasses.replace(config.teacher, name=name), dataset, cache,
                           progress=config.progress)
    tqdm.write(f"teacher {name}: test accuracy {teacher.test_accuracy:.4f} "
               f"({teacher.description})")
    signal = CachedTeacher(teacher, dataset.proxy, config.proxy, cache, progress=config.progress)
    signal.fill(config.proxy.epochs)
    return signal, teacher.test_accuracy


# --- choosing the students --------------------------------------------------------------------

def _settings(config: RunConfig, options: Options) -> dict:
    """What decides the students and their accuracies (teachers and seeds only add trainings)."""
    return {**deciding_settings(config), "students": options.students,
            "samples": options.samples}


def _students(config: RunConfig, options: Options, dataset: Dataset, out: Path,
              lock: CoreLock) -> list[dict]:
    """The experiment's students: chosen now, or read back from ``out`` when resuming."""
    path = out / "students.json"
    settings = _settings(config, options)
    saved = read_saved(path, settings, "an experiment")
    if saved is not None:
        return saved["students"]
    space = build_space(config)
    rng = np.random.default_rng(config.search.seed)
    sampled = {}  # arch string -> decisions, first draw kept, in draw order
    for _ in range(options.samples):
        decisions = space.sample(rng)
        sampled.setdefault(str(space.decode(decisions)), decisions)
    if len(sampled) < options.students:
        raise RunError(f"only {len(sampled)} distinct architectures among {options.samples} "
                       f"samples of the {config.space.name} space; lower --students or raise "
                       "--samples")
    archs = list(sampled)
    with run_latency(config, dataset.input_size, dataset.num_classes, lock) as latency:
        latencies = [latency(arch) for arch in tqdm(archs, desc="latency", unit="arch",
                                                    disable=not config.progress)]
    chosen = choose_students(latencies, [sampled[a] for a in archs], options.students)
    students = []
    for number, index in enumerate(chosen, start=1):
        cost = count_cost(archs[index], dataset.input_size, dataset.num_classes)
        students.append({"id": f"S{number}", "arch": archs[index],
                         "decisions": sampled[archs[index]], "latency_ms": latencies[index],
                         "params": cost.params, "macs": cost.macs})
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, {"settings": settings, "sampled": len(archs),
                      "median_latency_ms": statistics.median(latencies), "students": students})
    return students


def choose_students(latencies: Sequence[float], decisions: Sequence[Sequence[int]],
                    n: int) -> list[int]:
    """Indices of ``n`` diverse students at similar latency.

    The pool is the ``POOL_FACTOR * n`` samples nearest the median latency; the first student is
    the nearest, each next one the pool member whose smallest Hamming distance (in decisions) to
    those already chosen is largest, the nearer to the median on a tie.
    """
    median = statistics.median(latencies)
    pool = sorted(range(len(latencies)), key=lambda i: (abs(latencies[i] - median), i))
    pool = pool[:POOL_FACTOR * n]
    chosen = [pool[0]]
    while len(chosen) < n:
        # max() keeps the first of equals, and the pool is in order of nearness
        chosen.append(max((i for i in pool if i not in chosen), key=lambda i: min(
            sum(a != b for a, b in zip(decisions[i], decisions[j])) for j in chosen)))
    return chosen


# --- rankings and rank correlations -----------------------------------------------------------

def summarize(students: list[dict], results: list[dict], teachers: Sequence[str],
              seeds: int) -> dict:
    """Per student and column (CLS, each teacher): the mean validation accuracy over the
    successful seeds, its spread over seeds, the rank (1 = best; a tie goes to the earlier
    student, a student with no successful training has none); and the rank correlation of every
    pair of columns over the students both ranked."""
    columns = [LABELS, *teachers]
    accs: dict[tuple[str, str], list[float]] = {}
    teacher_acc = {}
    for r in results:
        column = r["teacher"] or LABELS
        if column in columns and r["seed"] < seeds and r["status"] == "ok":
            accs.setdefault((column, r["arch"]), []).append(r["val_acc"])
        if r["teacher"]:
            teacher_acc[r["teacher"]] = r["teacher_test_acc"]
    rows = [{**s, "acc": {}, "seed_std": {}, "rank": {}} for s in students]
    for column in columns:
        for row in rows:
            values = accs.get((column, row["arch"]), [])
            row["acc"][column] = statistics.mean(values) if values else None
            row["seed_std"][column] = statistics.stdev(values) if len(values) > 1 else None
        for row, rank in zip(rows, ordinal_ranks([row["acc"][column] for row in rows])):
            row["rank"][column] = rank
    pairs = []
    for a, b in itertools.combinations(columns, 2):
        both = [(row["acc"][a], row["acc"][b]) for row in rows
                if row["acc"][a] is not None and row["acc"][b] is not None]
        x, y = [p[0] for p in both], [p[1] for p in both]
        pairs.append({"a": a, "b": b, "n": len(both), "spearman": spearman(x, y),
                      "kendall": kendall(x, y)})
    return {"columns": columns, "seeds": seeds, "students": rows, "correlations": pairs,
            "teacher_test_acc": {t: teacher_acc.get(t) for t in teachers}}


def ordinal_ranks(values: Sequence[float | None]) -> list[int | None]:
    """1 for the largest value, 2 for the next...; ties by position; None stays unranked."""
    order = sorted((i for i, v in enumerate(values) if v is not None), key=lambda i: -values[i])
    ranks: list[int | None] = [None] * len(values)
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    return ranks


# --- outputs ----------------------------------------------------------------------------------

def write_outputs(summary: dict, out: Path) -> None:
    """ranking.csv, correlation.csv and arch_knowledge.md (tables and the paragraph)."""
    columns = summary["columns"]

    def ranking(handle) -> None:
        writer = csv.writer(handle)
        writer.writerow(["student", "arch", "latency_ms", "params", "macs"]
                        + [f"{c}_{what}" for c in columns for what in ("acc", "rank")])
        for row in summary["students"]:
            writer.writerow([row["id"], row["arch"], f"{row['latency_ms']:.4f}", row["params"],
                             row["macs"]] + [csv_cell(row[what][c]) for c in columns
                                             for what in ("acc", "rank")])

    def correlation(handle) -> None:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "n", "spearman", "kendall"])
        for p in summary["correlations"]:
            writer.writerow([p["a"], p["b"], p["n"], csv_cell(p["spearman"]),
                             csv_cell(p["kendall"])])
    write_atomic(out / "ranking.csv", ranking, mode="w", newline="")
    write_atomic(out / "correlation.csv", correlation, mode="w", newline="")
    teachers = ", ".join(f"{t} {percent(a)}" for t, a in summary["teacher_test_acc"].items())
    text = (f"# Architecture knowledge\n\n{len(summary['students'])} students at similar latency,"
            f" each trained with labels only (CLS) and distilled from each teacher, "
            f"{summary['seeds']} seed(s) each; validation accuracy (mean over seeds) and rank "
            f"(1 = best). Teachers' test accuracy: {teachers}.\n\n{markdown_tables(summary)}\n\n"
            f"{describe(summary)}\n")
    write_text(out / "arch_knowledge.md", text)


def markdown_tables(summary: dict) -> str:
    columns = summary["columns"]
    head = ["student", "latency ms", "params k", "MMACs", *columns, "architecture"]
    rows = [[r["id"], f"{r['latency_ms']:.3f}", f"{r['params'] / 1e3:.1f}",
             f"{r['macs'] / 1e6:.2f}",
             *[f"{percent(r['acc'][c])} ({r['rank'][c] or '-'})" for c in columns],
             f"`{r['arch']}`"] for r in summary["students"]]
    pairs = [[p["a"], p["b"], str(p["n"]), signed(p["spearman"]), signed(p["kendall"])]
             for p in summary["correlations"]]
    return "\n\n".join([_markdown(head, rows),
                        _markdown(["", "vs", "students", "Spearman rho", "Kendall tau"], pairs)])


def describe(summary: dict) -> str:
    """One paragraph in words: do the teachers agree, and how KD's ranking differs from CLS's."""
    rows, teachers = summary["students"], summary["columns"][1:]
    best = {c: next((r["id"] for r in rows if r["rank"][c] == 1), None)
            for c in summary["columns"]}
    rho = {(p["a"], p["b"]): p["spearman"] for p in summary["correlations"]}
    picks: dict[str, list[str]] = {}
    for t in teachers:
        picks.setdefault(best[t], []).append(t)
    if len(picks) == 1:
        words = [f"The {len(teachers)} teachers all distil {best[teachers[0]]} best."
                 if len(teachers) > 1 else f"Teacher {teachers[0]} distils {best[teachers[0]]} "
                                           "best."]
    else:
        words = ["The teachers disagree on the best student: " + "; ".join(
            f"{', '.join(ts)} {'pick' if len(ts) > 1 else 'picks'} {s}"
            for s, ts in picks.items()) + "."]
    between = [v for (a, b), v in rho.items() if a != LABELS and v is not None]
    if between:
        words.append(f"Between teachers, Spearman's rho averages {statistics.mean(between):+.2f}"
                     f" (from {min(between):+.2f} to {max(between):+.2f}).")
    versus = {b: v for (a, b), v in rho.items() if a == LABELS and v is not None}
    if versus:
        furthest = min(versus, key=versus.get)
        words.append(f"Against the label-only ranking (best: {best[LABELS]}), rho averages "
                     f"{statistics.mean(versus.values()):+.2f} over the teachers and is lowest "
                     f"for {furthest} ({versus[furthest]:+.2f}); "
                     f"{sum(best[t] != best[LABELS] for t in teachers)} of {len(teachers)} "
                     "teachers make another student best.")
    gains = [r["acc"][t] - r["acc"][LABELS] for r in rows for t in teachers
             if r["acc"][t] is not None and r["acc"][LABELS] is not None]
    if gains:
        words.append(f"KD changes a student's accuracy by {statistics.mean(gains) * 100:+.2f} "
                     f"points on average ({min(gains) * 100:+.2f} to {max(gains) * 100:+.2f}).")
    words.append(_noise(summary))
    return " ".join(words)


def _noise(summary: dict) -> str:
    """How far the rankings can be trusted at this budget."""
    n = len(summary["students"])
    step = 12 / (n * (n * n - 1))  # rho moves this much when two neighbours swap
    text = f"With {n} students one swap of neighbours moves rho by {step:.2f}"
    stds = [s for r in summary["students"] for s in r["seed_std"].values() if s is not None]
    spreads = [statistics.stdev(values) for c in summary["columns"]
               if len(values := [r["acc"][c] for r in summary["students"]
                                 if r["acc"][c] is not None]) > 1]
    if stds and spreads:
        return (f"{text}; accuracies vary by {statistics.mean(stds) * 100:.2f} points between "
                f"seeds (standard deviation) against {statistics.mean(spreads) * 100:.2f} "
                "between students, so ranks closer than that are not resolved at this budget.")
    return f"{text}; with one seed the noise between seeds is not measured (use --seeds 2 or more)."


def _markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
