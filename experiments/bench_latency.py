"""How well the lookup-table predictor ranks students, and how repeatable a measurement is.

Samples architectures from a MnasNet preset, fills a fresh latency table for them (timed),
measures every student whole, and prints the Spearman rank correlation between predicted and
measured latency (goal >= 0.95), then the coefficient of variation of repeated measurements of the
median student (goal <= 3%). Numbers only mean something on a quiet machine: the benchmark waits
for akd trainers through the default CoreLock, but anything else running skews them.

    python experiments/bench_latency.py            # 100 small28 students at 1x28x28, 1 thread
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from tqdm import tqdm

from akd import CoreLock, LatencyCache, LatencyConfig, LatencyStats, LatencyTable
from akd.latency import device_name, measure_with
from common import add_space_options  # noqa: E402  (beside this script)
from search_spaces import build_model, get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_space_options(parser)
    parser.add_argument("--archs", type=int, default=100, help="architectures to sample")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10,
                        help="measurements of the median student for the CV")
    args = parser.parse_args()

    config = LatencyConfig(tuple(args.input), args.threads, args.device)
    space = get_space("mnasnet", preset=args.preset)
    rng = np.random.default_rng(args.seed)
    archs = [space.decode(space.sample(rng)) for _ in range(args.archs)]
    print(f"{device_name(config.device)}, {config.threads} thread(s), torch {torch.__version__}, "
          f"python {platform.python_version()}, load average {_load()}")
    print(f"{args.archs} mnasnet/{args.preset} students at input {config.input_size}, "
          f"{config.warmup} warm-up + {config.repeats} timed runs a measurement")

    lock = CoreLock()
    table = LatencyTable(LatencyCache(), config, num_classes=args.classes, lock=lock)
    start = time.perf_counter()
    table.fill(archs)
    table_seconds = time.perf_counter() - start
    predicted = np.array([table.predict(arch) for arch in archs])

    start = time.perf_counter()
    measured = [_measure(_student(arch, args), config, lock)
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

    median_arch = archs[int(np.argsort(medians)[len(medians) // 2])]
    model = _student(median_arch, args)
    repeated = np.array([_measure(model, config, lock).median_ms
                         for _ in tqdm(range(args.repeats), desc="repeating", unit="measurement")])
    print(f"repeatability: {args.repeats} measurements of the median student: mean "
          f"{repeated.mean():.3f} ms, CV {100 * repeated.std(ddof=1) / repeated.mean():.2f}% "
          f"(goal <= 3%)  {median_arch}")
    print(f"load average at the end {_load()}")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of ranks; latencies are continuous, so ties are left unaveraged."""
    rank_a, rank_b = (np.argsort(np.argsort(v)).astype(float) for v in (a, b))
    return float(np.corrcoef(rank_a, rank_b)[0, 1])


def _measure(model: torch.nn.Module, config: LatencyConfig, lock: CoreLock) -> LatencyStats:
    with lock.measuring():
        return measure_with(model, config)


def _student(arch, args: argparse.Namespace) -> torch.nn.Module:
    return build_model(arch, num_classes=args.classes, in_channels=args.input[0])


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
