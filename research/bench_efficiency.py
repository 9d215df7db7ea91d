"""How many trainings does each search strategy need? AutoKD's BO over families, TPE, MnasNet's
LSTM (PPO) and random search on the same task, 3 seeds each: the best reward against the number
of trainings, the trainings each needs to reach lstm_ppo's best after the whole budget (beside
AutoKD's claimed 20x), then each strategy's best student trained from scratch with labels only and
with KD. Writes efficiency.json, efficiency.md and efficiency.png into --out; a killed benchmark,
run again, resumes.

    python -m research.bench_efficiency                      # autokd, tpe, lstm_ppo, random
    python -m research.bench_efficiency --strategies autokd,autokd-nago,lstm_ppo --seeds 1
"""

from __future__ import annotations

import sys
from pathlib import Path

from akd.common import interval, number, run_command, write_json
from akd.components import build_space
from akd.config import load_config
from akd.tables import load_table
from research import PRESETS
from research.common import add_config_option, add_output_options, command_parser, publish
from research.studies.efficiency_bench import Options, run_benchmark, write_results
from research.studies.runner import STRATEGIES
from research.studies.table_efficiency import Options as TableOptions, run_on_table


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


def table_markdown(result: dict) -> str:
    budget, reference = result["budget"], result["reference"]
    marks = sorted({n for n in (10, 25, 50, budget) if n <= budget})
    lines = [f"On the benchmark table ({result['pool']} students, reward from the {result['mode']} "
             f"accuracy, a lookup per training; the pool's best mean reward "
             f"{number(result['pool_best'], 4)}): the best noise-free reward (mean over the "
             f"table's seeds) among the students looked up in n lookups, mean over "
             f"{result['seeds']} searches", "",
             "| strategy | " + " | ".join(f"n = {n}" for n in marks)
             + f" | found the pool's best | reached {reference}'s best | mean lookups | x fewer |",
             "| --- | " + " | ".join("---" for _ in marks) + " | --- | --- | --- | --- |"]
    for strategy, s in result["strategies"].items():
        curve = s["mean_curve"]
        lines.append(f"| {strategy} | " + " | ".join(number(curve[n - 1], 4) for n in marks)
                     + f" | {s['found_pool_best']} of {result['seeds']} | {s['reached']} of "
                     f"{result['seeds']} | "
                     f"{number(s['mean_lookups_to_reach'], 1) if s['speedup'] else '-'} | "
                     f"{number(s['speedup'], 2) + 'x' if s['speedup'] else '-'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = command_parser("bench_efficiency", __doc__)
    add_config_option(parser, PRESETS / "efficiency" / "default.yaml",
                      "research/presets/efficiency/default.yaml")
    parser.add_argument("--strategies", default="autokd,tpe,lstm_ppo,random",
                        help=f"comma-separated, from {', '.join(STRATEGIES)}")
    parser.add_argument("--reference", default="lstm_ppo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--final-seeds", type=int, default=3,
                        help="trainings of each strategy's best, CLS and KD (0: none)")
    parser.add_argument("--table", metavar="NAME_OR_PATH",
                        help="instead: the same comparison on a benchmark table, a lookup per "
                             "training (e.g. fashion_mnist-small28); seconds, not hours")
    parser.add_argument("--table-mode", default="vgg",
                        help="the table's accuracy the reward uses: cls or a teacher")
    parser.add_argument("--budget", type=int, default=100, help="--table: lookups per search")
    add_output_options(parser, "runs/efficiency")
    args = parser.parse_args()

    def work() -> None:
        config = load_config(args.config, args.set)
        strategies = tuple(s for s in args.strategies.split(",") if s)
        if args.table:
            on_table(config, strategies)
            return
        options = Options(strategies, args.seeds, args.reference, args.final_seeds)
        result = run_benchmark(config, options, Path(args.out))
        write_results(result, Path(args.out))
        publish(markdown(result), Path(args.out) / "efficiency.md")

    def on_table(config, strategies) -> None:
        table = load_table(args.table)
        options = TableOptions(strategies, args.seeds, args.budget, mode=args.table_mode,
                               reference=args.reference)
        result = run_on_table(table, config, build_space(config), options)
        write_json(Path(args.out) / "efficiency-table.json", result)
        publish(table_markdown(result), Path(args.out) / "efficiency-table.md")

    return run_command(work, interrupted="rerun the same command: finished searches are read "
                       "back, the one in progress resumes")


if __name__ == "__main__":
    sys.exit(main())
