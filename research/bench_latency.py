"""How well the lookup-table predictor ranks students, and how repeatable a measurement is.

Samples architectures from a MnasNet preset, fills a fresh latency table for them (timed),
measures every student whole, and prints the Spearman rank correlation between predicted and
measured latency (goal >= 0.95). Then it measures a median student and a fast one (under 0.5 ms)
``--rounds`` times spread over ``--minutes`` minutes, with the direct and the interleaved method
side by side in every round, and prints each one's coefficient of variation (goal <= 3%): a
shared machine's speed drifts between such moments, which is what the interleaved method cancels.
The benchmark waits for akd trainers through the default CoreLock; anything else running skews
the direct numbers, which is the point of comparing.

    python -m research.bench_latency                 # 100 small28 students at 1x28x28, 1 thread
    python -m research.bench_latency --method direct # the table and students timed directly
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import numpy as np
import torch
from tqdm import tqdm

from search_spaces import build_model

from akd import CoreLock, LatencyCache, LatencyConfig, LatencyTable, latency_of
from akd.latency import device_name, measure_with
from akd.common import run_command
from akd.errors import ConfigError
from research.common import add_space_options, check_at_least, checked_space, command_parser

FAST_ARCH = "cn_r1_k3_s2_c8|cn_r1_k1_s1_c32"  # two layers: well under 0.5 ms at 1x28x28


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("bench_latency", __doc__)
    add_space_options(parser)
    parser.add_argument("--archs", type=int, default=100, help="architectures to sample")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--method", default="interleaved", choices=("interleaved", "direct"),
                        help="how the table and the whole students are timed")
    parser.add_argument("--rounds", type=int, default=10,
                        help="measurements of each repeated student for the CV")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="time the rounds are spread over")
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args) -> None:
    check_at_least({"--archs": (args.archs, 2), "--threads": (args.threads, 1),
                    "--rounds": (args.rounds, 2)})
    if not args.minutes > 0:
        raise ConfigError(f"--minutes {args.minutes}: a time, > 0")
    space = checked_space(args)
    config = LatencyConfig(tuple(args.input), args.threads, args.device, method=args.method)
    rng = np.random.default_rng(args.seed)
    archs = [space.decode(space.sample(rng)) for _ in range(args.archs)]
    print(f"{device_name(config.device)}, {config.threads} thread(s), torch {torch.__version__}, "
          f"python {platform.python_version()}, load average {_load()}")
    print(f"{args.archs} mnasnet/{args.preset} students at input {config.input_size}, "
          f"{config.warmup} warm-up + {config.repeats} timed runs a measurement, {config.method}")

    lock = CoreLock()
    cache = LatencyCache()  # in memory: a fresh calibration and table
    table = LatencyTable(cache, config, num_classes=args.classes, lock=lock)
    start = time.perf_counter()
    table.fill(archs)
    table_seconds = time.perf_counter() - start
    predicted = np.array([table.predict(arch) for arch in archs])

    start = time.perf_counter()
    measured = [latency_of(arch, cache, config, args.classes, lock)
                for arch in tqdm(archs, desc="measuring students", unit="model")]
    measure_seconds = time.perf_counter() - start
    medians = np.array([stats.median_ms for stats in measured])

    print(f"lookup table: {len(table.cache)} entries (layers and classifiers) measured in "
          f"{table_seconds:.1f} s; measuring all {args.archs} students whole took "
          f"{measure_seconds:.1f} s")
    print(f"measured latency: min {medians.min():.3f} / median {np.median(medians):.3f} / "
          f"max {medians.max():.3f} ms; "
          f"{sum(not s.converged for s in measured)} of {args.archs} measurements did not "
          f"converge, {sum(s.attempts > 1 for s in measured)} were re-measured")
    print(f"Spearman rank correlation, predicted vs measured: {spearman(predicted, medians):.4f} "
          "(goal >= 0.95)")
    print(f"predicted / measured: median {np.median(predicted / medians):.3f} "
          f"(range {np.min(predicted / medians):.3f} to {np.max(predicted / medians):.3f})")

    median_arch = str(archs[int(np.argsort(medians)[len(medians) // 2])])
    repeatability(args, config, {"median student": median_arch, "fast student": FAST_ARCH}, lock)
    print(f"load average at the end {_load()}")


def repeatability(args: argparse.Namespace, config: LatencyConfig, students: dict[str, str],
                  lock: CoreLock) -> None:
    """CV of ``args.rounds`` measurements of each student, rounds spread over ``args.minutes``,
    both methods in every round (the interleaved one against one calibration, as in a run)."""
    direct = dataclasses.replace(config, method="direct")
    interleaved = dataclasses.replace(config, method="interleaved")
    with lock.measuring():
        references = LatencyCache().references(config)  # a fresh calibration of the ladder
    models = {name: _student(arch, args) for name, arch in students.items()}
    results = {(name, method): [] for name in students for method in ("direct", "interleaved")}
    rungs = {name: set() for name in students}
    gap = 60 * args.minutes / max(1, args.rounds - 1)
    for round_ in tqdm(range(args.rounds), desc="rounds", unit="round"):
        began = time.monotonic()
        with lock.measuring():
            for name, model in models.items():
                results[name, "direct"].append(measure_with(model, direct).median_ms)
                stats = measure_with(model, interleaved, references)
                results[name, "interleaved"].append(stats.median_ms)
                rungs[name].add(stats.reference)
        if round_ < args.rounds - 1:
            time.sleep(max(0.0, gap - (time.monotonic() - began)))
    ladder = ", ".join(f"{r.name} {r.ms:.3f} ms" for r in references)
    print(f"repeatability: {args.rounds} measurements each, over {args.minutes:g} min, "
          f"{interleaved.blocks} blocks an interleaved one (references: {ladder}); "
          "CV goal <= 3%")
    for (name, method), values in results.items():
        values = np.array(values)
        print(f"  {name:<15} {method:<12} mean {values.mean():.3f} ms, range "
              f"{values.min():.3f}-{values.max():.3f}, CV "
              f"{100 * values.std(ddof=1) / values.mean():.2f}%  {students[name]}"
              + (f" (against {', '.join(sorted(rungs[name]))})" if method == "interleaved"
                 else ""))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of ranks; latencies are continuous, so ties are left unaveraged."""
    rank_a, rank_b = (np.argsort(np.argsort(v)).astype(float) for v in (a, b))
    return float(np.corrcoef(rank_a, rank_b)[0, 1])


def _student(arch, args: argparse.Namespace) -> torch.nn.Module:
    return build_model(arch, num_classes=args.classes, in_channels=args.input[0])


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())
