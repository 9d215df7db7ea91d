"""Build the distillation-aware benchmark table: a seeded pool of students spread over the space's
cost range, each trained at one fixed proxy budget with labels only and with KD from each
teacher, over seeds; one JSON line per training (validation and test accuracy, measured latency,
params, MACs, seconds, budget).

    python -m research.build_table                          # 300 students, cls + vgg + resnet,
                                                               # 2 seeds: about 90 min on 2 cores
    python -m research.build_table --extra-teachers wide    # and KD from wide, seed 0 only
    python -m research.build_table --config research/presets/table/tiny.yaml --archs 4 \\
        --eval-images 200 --out runs/table_tiny                # in seconds

Writes --out/table.json (settings, pool, latencies), trainings.jsonl (appended as each training
finishes), sessions.jsonl and table.jsonl.gz (what akd.load_table reads). Rerun the same command
after a kill (even kill -9) to train only what is missing; --backend ray, or --set
evaluator.workers=N, to spread it. Report: python -m research.table_report --out DIR.
"""

from __future__ import annotations

import argparse
import sys
import typing

from akd.common import run_command
from akd.config import load_config
from research import PRESETS
from research.common import (add_build_options, add_config_option, build_overrides, command_parser,
                             names)
from research.studies.table.build import Options, build_table

DEFAULT_CONFIG = PRESETS / "table" / "default.yaml"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def work() -> None:
        overrides = build_overrides(args)
        config = load_config(args.config, overrides)
        options = Options(archs=args.archs, seeds=args.seeds, eval_images=args.eval_images,
                          draw_factor=args.draw_factor, pool_from=args.pool_from,
                          teachers=names(args.teachers),
                          extra_teachers=names(args.extra_teachers))
        build_table(config, options, args.out)
    return run_command(work, interrupted="rerun the same command to continue")


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "build_table", __doc__,
        uses="data, space, latency, evaluator, cache_dir, progress as in a search; search.seed: "
             "the pool's seed; teacher.training, teacher.train_images: every teacher's recipe; "
             "proxy: the students' training (KD: its alpha and temperature; labels only: alpha 0)")
    default = Options()
    add_config_option(parser, DEFAULT_CONFIG, "research/presets/table/default.yaml; tiny.yaml "
                      "beside it runs in seconds, for tests")
    add_build_options(parser)
    parser.add_argument("--archs", type=int, default=default.archs,
                        help=f"students in the pool (default {default.archs})")
    parser.add_argument("--teachers", default=",".join(default.teachers),
                        help="comma-separated zoo teachers, every seed (default: "
                             f"{','.join(default.teachers)})")
    parser.add_argument("--extra-teachers", default="",
                        help="more zoo teachers, seed 0 only, trained after the rest")
    parser.add_argument("--seeds", type=int, default=default.seeds,
                        help=f"trainings per student and mode, seeds 0..N-1 (default "
                             f"{default.seeds})")
    parser.add_argument("--eval-images", type=int, default=default.eval_images,
                        help="validation and test images each training is scored on (default "
                             f"{default.eval_images})")
    parser.add_argument("--draw-factor", type=int, default=default.draw_factor,
                        help="the pool is spread over the cost range of this many times --archs "
                             f"seeded samples (default {default.draw_factor})")
    parser.add_argument("--pool-from", metavar="DIR",
                        help="train the first --archs students of the table in DIR (with their "
                             "latencies) instead of drawing a pool: the same students at another "
                             "budget")
    parser.add_argument("--out", default="runs/table",
                        help="output directory (default runs/table)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
