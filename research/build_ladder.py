"""Build the ladder table: the benchmark table's students trained at a ladder of budgets.

A stratified subset of the table's students, trained from the table's own budget (3,000 images x
1 epoch) up to 32 times that many training samples, with labels only and with KD, 2 seeds, each
training's learning curve kept.

    python -m research.build_ladder                     # 32 students, 4 rungs, cls + vgg at
                                                           # every rung, resnet at the top: hours
                                                           # on 2 cores (docs/results.md)
    python -m research.build_ladder --students 4 --extremes 1 --rungs 500x1,500x2 \\
        --top-teachers '' --eval-images 200 --out runs/ladder_tiny   # in a minute

Writes --out/ladder.json (settings, rungs, the students and why each was chosen),
trainings.jsonl (appended as each training finishes), sessions.jsonl and ladder.jsonl.gz (what
akd.tables.load_ladder reads). Rerun the same command after a kill (even kill -9) to train only
what is missing; to continue a shipped ladder, copy its directory and build into the copy.
Report: python -m research.ladder_report.
"""

from __future__ import annotations

import argparse
import sys
import typing

from akd.common import run_command
from akd.config import load_config
from akd.errors import ConfigError
from akd.tables import table_path
from research.common import (add_build_options, add_config_option, build_overrides, command_parser,
                             names)
from research.studies.table.ladder import Options, build_ladder


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def work() -> None:
        overrides = build_overrides(args)
        config_file = args.config or table_path(args.table).parent / "config.yaml"
        config = load_config(config_file, overrides)
        options = Options(table=args.table, students=args.students, extremes=args.extremes,
                          rungs=_rungs(args.rungs), teachers=names(args.teachers),
                          top_teachers=names(args.top_teachers), seeds=args.seeds,
                          eval_images=args.eval_images, curve_every=args.curve_every)
        build_ladder(config, options, args.out)
    return run_command(work, interrupted="rerun the same command to continue")


def _rungs(text: str) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((int(images), int(epochs)) for images, epochs in
                     (rung.strip().split("x") for rung in text.split(",") if rung.strip()))
    except ValueError:
        raise ConfigError(f"--rungs {text!r}: give IMAGESxEPOCHS pairs joined by commas, e.g. "
                          "3000x1,6000x2") from None


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "build_ladder", __doc__,
        uses="data, space, evaluator, cache_dir, progress as in a search; teacher.training, "
             "teacher.train_images: every teacher's recipe; proxy: the students' recipe (lr, "
             "batch size, schedule, KD alpha and temperature; each rung sets its images and "
             "epochs; labels only: alpha 0)")
    default = Options()
    parser.add_argument("--table", default=default.table,
                        help="the benchmark table whose students are chosen: a shipped name or a "
                             f"table directory (default {default.table})")
    add_config_option(parser, None, "the table's config.yaml, so that the bottom rung repeats "
                      "the table's trainings")
    add_build_options(parser)
    parser.add_argument("--students", type=int, default=default.students,
                        help=f"students of the ladder (default {default.students})")
    parser.add_argument("--extremes", type=int, default=default.extremes,
                        help="the table's N best and N worst under each mode are all included "
                             f"(default {default.extremes})")
    parser.add_argument("--rungs", default=",".join(f"{i}x{e}" for i, e in default.rungs),
                        help="budgets as IMAGESxEPOCHS, cheapest first (default "
                             f"{','.join(f'{i}x{e}' for i, e in default.rungs)})")
    parser.add_argument("--teachers", default=",".join(default.teachers),
                        help="zoo teachers distilled from at every rung (default "
                             f"{','.join(default.teachers)})")
    parser.add_argument("--top-teachers", default=",".join(default.top_teachers),
                        help="more zoo teachers, at the top rung only, trained last (default "
                             f"{','.join(default.top_teachers)}; '' for none)")
    parser.add_argument("--seeds", type=int, default=default.seeds,
                        help=f"trainings per student, rung and mode (default {default.seeds})")
    parser.add_argument("--eval-images", type=int, default=default.eval_images,
                        help="validation and test images each training is scored on (default "
                             f"{default.eval_images}, as the table)")
    parser.add_argument("--curve-every", type=int, default=default.curve_every,
                        help="steps each recorded training loss averages (default "
                             f"{default.curve_every})")
    parser.add_argument("--out", default="runs/ladder",
                        help="output directory (default runs/ladder)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
