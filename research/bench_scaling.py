"""Scale-out: the search on 1 and 2 workers, process pool and Ray, synchronous and asynchronous.

For each backend it runs the same search (final stage off) with 1 worker and with 2, each setting
``--repeats`` times interleaved, and prints the median search loop's wall time (the evaluator's
start-up included), the speed-up of 2 workers over 1, the bound on it that candidate time alone
sets (one worker trains a candidate with both cores' threads, so 2 workers cannot reach 2x), and
the per-candidate overhead: loop time not spent starting workers, training or measuring, per
candidate, (loop - start-up - latency - candidate time / workers) / candidates. A no-op round trip
through each backend's evaluator isolates its own cost per task (Ray: serialising the task,
scheduling it on an actor, returning the outcome). A local Ray instance is started once for the
program, as the command does (on a running cluster there is none to start); its start and stop
are printed apart.

    python -m research.bench_scaling                  # quick budget (about 8 minutes)
    python -m research.bench_scaling --budget demo    # demo's candidates, 8 per arm (~35 min)

Teacher and logit caches are filled before the first timed run; run it on an otherwise idle
machine (two CPU-heavy jobs at once on 2 cores slow both several times).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from akd.common import run_command
from akd.config import PRESETS, load_config
from akd.errors import ConfigError
from akd.execution import Outcome, make_evaluator, workspace
from akd.search import run_search

from .common import check_at_least, command_parser, names

BUDGETS = {"quick": ("quick.yaml", []), "demo": ("demo.yaml", ["search.trials=8"])}


def noop(task, config, lock) -> Outcome:
    return Outcome("ok", 1.0, 0, 0, None, 0.0)


def evaluator_costs(config, tasks: int = 200) -> tuple[float, float]:
    """Seconds to start the evaluator (workers up, workspaces loaded, first task back) and mean
    seconds per no-op task afterwards."""
    start = time.perf_counter()
    with make_evaluator(config, noop) as evaluator:
        evaluator.submit(0)
        evaluator.next_finished()
        startup = time.perf_counter() - start
        start = time.perf_counter()
        for task in range(tasks):
            evaluator.submit(task)
        while evaluator.in_flight:
            evaluator.next_finished()
        return startup, (time.perf_counter() - start) / tasks


def search_seconds(base: list[str], overrides: list[str], preset: str, startup: float) -> dict:
    config = load_config(PRESETS / preset, base + overrides)
    with tempfile.TemporaryDirectory() as out:
        run_search(config, out)
        timing = json.loads((Path(out) / "timing.json").read_text())
    candidates = config.search.trials * len(config.search.arms)
    # the evaluator's start-up is paid once per search, not per candidate
    overhead = (timing["loop_seconds"] - startup - timing["latency_seconds"]
                - timing["candidate_seconds"] / timing["workers"]) / candidates
    return {"loop": timing["loop_seconds"], "per_candidate": timing["candidate_seconds"]
            / candidates, "overhead": overhead}


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("bench_scaling", __doc__)
    parser.add_argument("--budget", choices=BUDGETS, default="quick")
    parser.add_argument("--backends", default="process,ray")
    parser.add_argument("--trials", type=int, help="trials per arm (default: the budget's)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each setting, interleaved; the median is reported")
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args: argparse.Namespace) -> None:
    check_at_least({"--repeats": (args.repeats, 1),
                    **({"--trials": (args.trials, 1)} if args.trials is not None else {})})
    preset, budget = BUDGETS[args.budget]
    base = ["progress=false", "final.enabled=false", *budget]
    if args.trials is not None:
        base.append(f"search.trials={args.trials}")
    backends = names(args.backends)
    unknown = [backend for backend in backends if backend not in ("process", "ray")]
    if unknown or not backends:
        raise ConfigError(f"--backends {args.backends!r}: process and/or ray (the settings "
                          "compared run 2 workers; the serial backend runs one at a time)")
    # every backend's config loaded (and a misspelt one refused) before anything is timed
    configs = {backend: load_config(PRESETS / preset, base + [f"evaluator.backend={backend}",
                                                              "evaluator.workers=2"])
               for backend in backends}
    workspace(load_config(PRESETS / preset, base))  # teacher and logits cached before timing
    settings = ((1, "sync"), (2, "sync"), (2, "async"))
    costs, instance = {}, {}
    for backend in backends:
        config = configs[backend]
        if backend == "ray":  # started once per program (none to start on a running cluster)
            from akd.common import connect
            start = time.perf_counter()
            connect(config.evaluator.address)
            instance["start"] = time.perf_counter() - start
        costs[backend] = evaluator_costs(config)
    runs = {(b, w, m): [] for b in backends for w, m in settings}
    for repeat in tqdm(range(args.repeats), desc="repeats"):
        for backend in backends:
            for workers, mode in settings:
                overrides = [f"evaluator.backend={backend}", f"evaluator.workers={workers}",
                             f"search.asynchronous={mode == 'async'}"]
                run = search_seconds(base, overrides, preset, costs[backend][0])
                runs[backend, workers, mode].append(run)
                tqdm.write(f"{backend} {workers} worker(s) {mode}: {run}")
    if "ray" in backends:
        from akd.common import disconnect
        start = time.perf_counter()
        disconnect()
        instance["stop"] = time.perf_counter() - start

    def median(backend: str, workers: int, mode: str, key: str = "loop") -> float:
        return statistics.median(run[key] for run in runs[backend, workers, mode])

    print(f"\n{args.budget} budget ({' '.join(base[2:]) or 'preset trials'}): search loop "
          f"seconds, median of {args.repeats}")
    print(f"{'backend':<8} {'1 worker':>9} {'2 sync':>8} {'2 async':>8} {'speed-up':>9} "
          f"{'async':>6} {'bound':>6} {'s/cand':>7} {'start-up':>9} {'overhead/cand':>14} "
          f"{'no-op task':>11}")
    for backend in backends:
        one, two, two_async = (median(backend, *s) for s in settings)
        # the speed-up were start-up, idle workers and the driver free: candidate time alone
        bound = median(backend, 1, "sync", "per_candidate") / (
            median(backend, 2, "sync", "per_candidate") / 2)
        startup, noop_seconds = costs[backend]
        print(f"{backend:<8} {one:>9.1f} {two:>8.1f} {two_async:>8.1f} {one / two:>8.2f}x "
              f"{one / two_async:>5.2f}x {bound:>5.2f}x "
              f"{median(backend, 1, 'sync', 'per_candidate'):>7.2f} {startup:>8.1f}s "
              f"{median(backend, 2, 'sync', 'overhead'):>13.3f}s {1000 * noop_seconds:>9.2f}ms")
    if instance:
        print(f"the local Ray instance, once per program and not in the loop times: start "
              f"{instance['start']:.1f} s, stop {instance['stop']:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
