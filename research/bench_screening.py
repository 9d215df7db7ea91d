"""Does screening candidates with the KD-accuracy predictor save trainings? Runs the akd search
plainly and screened, per controller and seed, and prints the best true reward against the number
of trained candidates and how many trainings screening saves. Writes screening.json,
screening.md and screening.png into --out; a killed benchmark, run again, resumes.

    python -m research.bench_screening                       # lstm_ppo and random, 3 seeds
    python -m research.bench_screening --controllers random --seeds 1 --out runs/try
    # screening without the shipped table, learning from 8 warm-up trainings; the plain searches
    # are the same as above, so copy them in and they are read back, not run again
    mkdir -p runs/screening-no-table && cp -r runs/screening/*-plain-* runs/screening-no-table/
    python -m research.bench_screening --screening table=null --screening warmup=8 \
        --out runs/screening-no-table
"""

from __future__ import annotations

import sys
from pathlib import Path

from akd.common import number, run_command, signed
from akd.config import load_config, parse_override
from akd.errors import AkdError
from research import PRESETS
from research.common import add_config_option, add_output_options, command_parser, publish
from research.studies.screening_bench import Options, run_benchmark, write_results


def markdown(result: dict) -> str:
    budget = result["budget"]
    marks = sorted({n for n in (4, 8, 12, 16, budget) if n <= budget})
    lines = [f"Best true reward after n trainings (mean over {result['seeds']} seeds); screened: "
             f"{result['factor']} x the batch asked, the batch trained.", "",
             "| controller | search | " + " | ".join(f"n = {n}" for n in marks) + " |",
             "| --- | --- | " + " | ".join("---" for _ in marks) + " |"]
    for controller, summary in result["controllers"].items():
        for kind in ("plain", "screened"):
            curve = summary["mean_curve"][kind]
            lines.append(f"| {controller} | {kind} | "
                         + " | ".join(number(curve[n - 1], 4) for n in marks) + " |")
    lines += ["", "Trainings the screened search needed to reach its plain twin's best (same "
              "controller and seed):", "",
              "| controller | seed | plain best | screened best | screened reaches it after |",
              "| --- | --- | --- | --- | --- |"]
    for controller, summary in result["controllers"].items():
        for pair in summary["seeds"]:
            reached = pair["screened_reaches_plain_best_after"]
            lines.append(f"| {controller} | {pair['seed']} | {number(pair['plain_best'], 4)} | "
                         f"{number(pair['screened_best'], 4)} | "
                         + (f"{reached} of {budget} (saves {budget - reached})" if reached
                            else f"not within {budget}") + " |")
    lines += ["", "Best reward after the whole budget, screened minus plain (paired by seed; 95% t "
              "interval over seeds):", "", "| controller | difference | 95% interval |",
              "| --- | --- | --- |"]
    for controller, summary in result["controllers"].items():
        difference = summary["best_difference"]
        ci = difference["ci95"]
        lines.append(f"| {controller} | {signed(difference['mean'], 4)} | "
                     + (f"[{signed(ci[0], 4)}, {signed(ci[1], 4)}]" if ci else "-") + " |")
    lines += ["", "Wall time per search (mean over seeds; a screened search also measures the "
              "latency of, and predicts, every asked candidate):", "",
              "| controller | plain | screened |", "| --- | --- | --- |"]
    for controller in result["controllers"]:
        cells = []
        for kind in ("plain", "screened"):
            times = [result["seconds"].get(f"{controller}-{kind}-seed{s}")
                     for s in range(result["seeds"])]
            times = [t for t in times if t is not None]
            cells.append(f"{sum(times) / len(times):.0f} s" if times else "-")
        lines.append(f"| {controller} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = command_parser("bench_screening", __doc__)
    add_config_option(parser, PRESETS / "screening" / "default.yaml",
                      "research/presets/screening/default.yaml")
    parser.add_argument("--controllers", default="lstm_ppo,random",
                        help="comma-separated controllers")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--factor", type=int, default=4, help="screening factor")
    parser.add_argument("--screening", action="append", default=[], metavar="KEY=VALUE",
                        help="a search.screening setting of the screened searches only, e.g. "
                             "table=null warmup=8 (repeatable)")
    add_output_options(parser, "runs/screening")
    args = parser.parse_args()

    def work() -> None:
        if args.seeds < 1 or args.factor < 2:
            raise AkdError(f"--seeds must be >= 1 and --factor >= 2, got {args.seeds} and "
                           f"{args.factor}")
        config = load_config(args.config, args.set)
        screening = tuple(parse_override(s, "--screening", "table=null") for s in args.screening)
        options = Options(tuple(c for c in args.controllers.split(",") if c), args.seeds,
                          args.factor, screening)
        result = run_benchmark(config, options, Path(args.out))
        write_results(result, Path(args.out))
        publish(markdown(result), Path(args.out) / "screening.md")
    return run_command(work, interrupted="rerun the same command: finished searches are read "
                       "back, the one in progress resumes")


if __name__ == "__main__":
    sys.exit(main())
