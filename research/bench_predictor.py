"""How well the KD-accuracy predictor ranks unseen students and an unseen teacher's students, on
the benchmark table, beside the table's noise ceiling and the zero-cost baselines; with an
ablation of each input. Prints markdown tables and writes predictor.json and predictor.md.

    python -m research.bench_predictor                      # the shipped table
    python -m research.bench_predictor runs/table --out runs/predictor
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from akd.common import number, percent, run_command
from akd.components import build_space
from akd.config import load_config
from akd.tables import load_table, table_path
from research import PRESETS
from research.common import publish
from research.studies.predictor_bench import run_benchmark


def markdown(result: dict) -> str:
    teachers = result["teachers"]
    lines = [f"{result['students']} students; Spearman / Kendall / top-10% precision of the "
             "predicted against the measured mean accuracy.", "",
             "| predictor | " + " | ".join(teachers) + " |",
             "| --- | " + " | ".join("---" for _ in teachers) + " |"]

    def cell(scores: dict) -> str:
        return (f"{number(scores['spearman'], 3)} / {number(scores['kendall'], 3)} / "
                f"{percent(scores['top10_precision'], 0)}")

    lines.append("| noise ceiling (seed 0 vs seed 1, Spearman) | "
                 + " | ".join(number(result["noise_ceiling"][t], 3) for t in teachers) + " |")
    lines.append("| ceiling for the seeds' mean (Spearman-Brown) | "
                 + " | ".join(number(result["mean_ceiling"][t], 3) for t in teachers) + " |")
    for name in next(iter(result["baselines"].values())):
        lines.append(f"| baseline: {name} | "
                     + " | ".join(cell(result["baselines"][t][name]) for t in teachers) + " |")
    for model, scores in result["held_out_architectures"].items():
        lines.append(f"| {model}, held-out students (5-fold) | "
                     + " | ".join(cell(scores[t]) for t in teachers) + " |")
    for name, scores in result["ablation"].items():
        lines.append(f"| ablation ({result['ablation_model']}): {name} | "
                     + " | ".join(cell(scores[t]) for t in teachers)
                     + " |")
    lines += ["", "Held-out teacher (fitted on the other modes plus k of its students):", "",
              "| predictor | teacher | k | Spearman / Kendall / top-10% |",
              "| --- | --- | --- | --- |"]
    for model, scores in result["held_out_teacher"].items():
        for key, value in scores.items():
            teacher, k = key.split("@")
            lines.append(f"| {model} | {teacher} | {k} | {cell(value)} |")
    seconds = result["seconds"]
    lines += ["", f"Took {seconds['probes']:.0f} s for the probes, {seconds['models']:.0f} s for "
              f"the models' folds, {seconds['ablation']:.0f} s for the ablation."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", nargs="?", default="fashion_mnist-small28",
                        help="build directory, table file or shipped name")
    parser.add_argument("--config", help="the table's config (default: config.yaml beside it, "
                                         "else research/presets/table/default.yaml)")
    parser.add_argument("--out", default="runs/predictor", help="output directory")
    args = parser.parse_args()

    def work() -> None:
        source = table_path(args.table)
        table = load_table(source)
        beside = source.parent / "config.yaml"
        default = beside if beside.exists() else PRESETS / "table" / "default.yaml"
        config = load_config(args.config or default)
        result = run_benchmark(config, table, build_space(config), Path(args.out))
        publish(markdown(result), Path(args.out) / "predictor.md")
    return run_command(work, interrupted="rerun the same command: the probes go on from their "
                       "partial file")


if __name__ == "__main__":
    sys.exit(main())
