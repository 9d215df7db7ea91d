"""What the ladder table answers: how faithfully each cheap evaluation (a lower rung, the sum of
training losses, a cut-short training, a predictor, the students' cost) ranks the students as the
top rung's long distillation does, set against the top rung's own seed noise; where KD starts to
help; labels against KD at the top. Writes report.md, analysis.json and PNG figures.

    python -m research.ladder_report                  # the shipped ladder, into
                                                         # docs/ladder/ (about a minute)
    python -m research.ladder_report runs/ladder --out runs/ladder/report   # one being built

LADDER is a build directory (its ladder.jsonl.gz, ladder.json and config.yaml), a .jsonl(.gz)
file, or a shipped ladder's name. The benchmark table its students came from (ladder.json's
settings) supplies the table's own accuracies and the predictor's training data.
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

from akd.common import read_json, run_command
from akd.components import build_space
from akd.config import RunConfig, load_config
from akd.errors import RunError
from akd.tables import ladder_path, load_ladder, load_table
from research.common import add_report_options, command_parser
from research.studies.table.ladder_report import write_report

ROOT = Path(__file__).resolve().parents[1]  # the checkout: docs/ladder is the default --out
DEFAULT_LADDER = "fashion_mnist-small28-ladder"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def work() -> None:
        source = ladder_path(args.ladder)
        ladder = load_ladder(source)
        if not len(ladder):
            raise RunError(f"{args.ladder} has no trainings yet; let the build reach the top rung")
        config_file = source.parent / "config.yaml"
        config = load_config(config_file) if config_file.exists() else RunConfig()
        settings = source.parent / "ladder.json"
        table, spread = None, []
        if settings.exists():
            saved = read_json(settings, ("rungs", "settings", "students"))
            planned = saved["rungs"][-1]
            if ladder.rung(-1).index != planned["index"]:
                raise RunError(f"{args.ladder}: the top rung ({planned['train_images']}x"
                               f"{planned['epochs']}) has no trainings yet, and every number "
                               "of the report is against it; let the build reach it")
            table = load_table(saved["settings"]["table"])
            spread = [s["arch"] for s in saved["students"] if s["chosen"] == ["latency spread"]]
        out = Path(args.out) if args.out else (ROOT / "docs" / "ladder"
                                               if args.ladder == DEFAULT_LADDER
                                               else source.parent / "report")
        result = write_report(ladder, out, table, build_space(config), source=str(args.ladder),
                              spread=spread)
        print(f"{result['students']} students, {result['trainings']} trainings: report in "
              f"{out / 'report.md'}")
    return run_command(work)


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("ladder_report", __doc__)
    add_report_options(parser, "ladder", DEFAULT_LADDER,
                       "docs/ladder/ for the shipped ladder, else report/ beside the ladder")
    return parser


if __name__ == "__main__":
    sys.exit(main())
