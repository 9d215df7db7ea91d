"""The architecture-knowledge experiment: the AKD paper's motivation table, as a command.

A fixed set of students at similar latency (sampled from the space, latency measured and cached),
each trained on the proxy split with labels only (CLS) and distilled from each zoo teacher, over
seeds; their validation accuracy and rank per column, and the rank correlation (Spearman, Kendall)
between every pair of columns. Writes results.jsonl, ranking.csv, correlation.csv and
arch_knowledge.md into --out; rerunning the same command after a kill finishes what is missing.

    python -m research.arch_knowledge                       # 5 students, 4 teachers, 2 seeds
    python -m research.arch_knowledge --teachers resnet,vgg --students 4 --seeds 3
    python -m research.arch_knowledge --config research/presets/arch_knowledge/tiny.yaml \\
        --out runs/arch_knowledge_tiny                         # in seconds

Default budget (research/presets/arch_knowledge/default.yaml): Fashion-MNIST, every teacher
trained 1 epoch on 20,000 images, students 2 epochs on 5,000 proxy images, 64 sampled
architectures: 50 student trainings. How long it takes, and on which machine:
docs/results.md#architecture-knowledge; a second run with the teachers and latencies cached
reproduces every accuracy of the first.
"""

from __future__ import annotations

import argparse
import sys
import typing

from akd.common import run_command
from akd.config import load_config
from research import PRESETS
from research.common import add_config_option, command_parser
from research.studies.arch_knowledge import Options, run_experiment

DEFAULT_CONFIG = PRESETS / "arch_knowledge" / "default.yaml"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def work() -> None:
        config = load_config(args.config, args.set)
        options = Options(students=args.students, seeds=args.seeds, samples=args.samples,
                          teachers=tuple(t.strip() for t in args.teachers.split(",") if t.strip()))
        run_experiment(config, options, args.out)
    return run_command(work, interrupted="rerun the same command to continue")


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "arch_knowledge", __doc__,
        uses="data, space, latency, cache_dir, progress as in a search; search.seed: the "
             "sampling seed; teacher.training, teacher.train_images: every teacher's budget "
             "(--teachers names them); proxy: the students' training (KD: its alpha and "
             "temperature; CLS: alpha 0)")
    default = Options()
    add_config_option(parser, DEFAULT_CONFIG, "research/presets/arch_knowledge/default.yaml; "
                      "tiny.yaml beside it runs in seconds, for tests")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one config key (repeatable), e.g. --set proxy.epochs=3")
    parser.add_argument("--students", type=int, default=default.students,
                        help=f"students at similar latency (default {default.students})")
    parser.add_argument("--teachers", default=",".join(default.teachers),
                        help="comma-separated zoo teachers (default: "
                             f"{','.join(default.teachers)})")
    parser.add_argument("--seeds", type=int, default=default.seeds,
                        help="trainings per student and column, seeds 0..N-1 (default "
                             f"{default.seeds})")
    parser.add_argument("--samples", type=int, default=default.samples,
                        help="architectures sampled to choose the students from (default "
                             f"{default.samples})")
    parser.add_argument("--out", default="runs/arch_knowledge",
                        help="output directory (default runs/arch_knowledge)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
