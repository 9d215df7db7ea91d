"""How many trainings does each search strategy need? AutoKD's BO over families, TPE, MnasNet's
LSTM (PPO) and random search on the same task, 3 seeds each: the best reward against the number
of trainings, the trainings each needs to reach lstm_ppo's best after the whole budget (beside
AutoKD's claimed 20x), then each strategy's best student trained from scratch with labels only and
with KD. Writes efficiency.json, efficiency.md and efficiency.png into --out; a killed benchmark,
run again, resumes.

    python experiments/bench_efficiency.py                      # autokd, tpe, lstm_ppo, random
    python experiments/bench_efficiency.py --strategies autokd,autokd-nago,lstm_ppo --seeds 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout whether or not the package is installed

from akd.config import PRESETS, load_config  # noqa: E402
from akd.formatting import number, signed  # noqa: E402
from akd.io import write_text  # noqa: E402
from akd.logs import run_command  # noqa: E402
from akd.studies.efficiency_bench import (STRATEGIES, Options, run_benchmark,  # noqa: E402
                                          write_results)


def interval(summary: dict, digits: int = 4, difference: bool = True) -> str:
    """A mean and its 95% interval; signed for a difference."""
    show = (lambda v: signed(v, digits)) if difference else (lambda v: number(v, digits))
    ci = summary["ci95"]
    return f"{show(summary['mean'])} [{show(ci[0])}, {show(ci[1])}]" if ci else \
        show(summary["mean"])


def markdown(result: dict) -> str:
    budget, reference = result["budget"], result["reference"]
    marks = sorted({n for n in (4, 8, 12, 16, budget) if n <= budget})
    lines = [f"Best reward after n trainings (mean over {result['seeds']} seeds):", "",
             "| strategy | " + " | ".join(f"n = {n}" for n in marks) + " |",
             "| --- | " + " | ".join("---" for _ in marks) + " |"]
    for strategy, summary in result["strategies"].items():
        curve = summary["mean_curve"]
        lines.append(f"| {strategy} | " + " | ".join(number(curve[n - 1], 4) for n in marks)
                     + " |")
    lines += ["", f"Trainings to reach {reference}'s best after {budget} (same seed), and its "
              f"budget over that mean (AutoKD reports {result['paper_speedup']}x fewer "
              "trainings than earlier NAS):", "",
              "| strategy | reached it | trainings, per seed | mean | x fewer | best minus "
              f"{reference}'s, 95% interval |", "| --- | --- | --- | --- | --- | --- |"]
    for strategy, summary in result["strategies"].items():
        per_seed = ", ".join(str(r["reaches_reference_best_after"] or "-")
                             for r in summary["seeds"])
        mean = summary["mean_trainings_to_reach"]
        speedup = summary["speedup"]
        lines.append(f"| {strategy} | {summary['reached']} of {result['seeds']} | {per_seed} | "
                     f"{number(mean, 1) if mean else '-'} | "
                     f"{number(speedup, 2) + 'x' if speedup else '-'} | "
                     f"{interval(summary['difference'])} |")
    final = result.get("final")
    if final:
        lines += ["", f"Each strategy's best student, trained from scratch {final['seeds']} "
                  "times with labels only (CLS) and with KD (test accuracy, mean and 95% "
                  "interval):", "",
                  f"| strategy | CLS | KD | KD minus {reference}'s (paired by seed) | latency "
                  "ms | params | student |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for strategy, s in final["students"].items():
            paired = s["kd_minus_reference"]
            lines.append(f"| {strategy} | {interval(s['cls'], difference=False)} | "
                         f"{interval(s['kd'], difference=False)} | "
                         f"{interval(paired) if paired['n'] and strategy != reference else '-'}"
                         f" | {number(s['latency_ms'], 3)} | {s['params']:,} | `{s['arch']}` |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(PRESETS / "efficiency" / "default.yaml"))
    parser.add_argument("--strategies", default="autokd,tpe,lstm_ppo,random",
                        help=f"comma-separated, from {', '.join(STRATEGIES)}")
    parser.add_argument("--reference", default="lstm_ppo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--final-seeds", type=int, default=3,
                        help="trainings of each strategy's best, CLS and KD (0: none)")
    parser.add_argument("--out", default="runs/efficiency", help="output directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")
    args = parser.parse_args()

    def work() -> None:
        config = load_config(args.config, args.set)
        options = Options(tuple(s for s in args.strategies.split(",") if s), args.seeds,
                          args.reference, args.final_seeds)
        result = run_benchmark(config, options, Path(args.out))
        write_results(result, Path(args.out))
        text = markdown(result)
        write_text(Path(args.out) / "efficiency.md", text)
        print(text)
    return run_command(work, interrupted="rerun the same command: finished searches are read "
                       "back, the one in progress resumes")


if __name__ == "__main__":
    sys.exit(main())
