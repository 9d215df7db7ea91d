"""What the benchmark table answers: the noise ceiling, labels vs KD and teacher vs teacher set
against it, the choices KD favours; report.md, analysis.json and PNG plots.

    python -m research.table_report                         # the table that ships with akd
    python -m research.table_report runs/table              # a table being built, or built
    python -m research.table_report table.jsonl.gz --out report/

TABLE is a build directory (its table.jsonl.gz and config.yaml), a .jsonl(.gz) file, or a shipped
table's name. The space that decodes the students' decisions comes from the config.yaml beside
the table (default: the default config's space).
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

from akd.common import run_command
from akd.components import build_space
from akd.config import RunConfig, load_config
from akd.tables import load_table, table_path
from research.common import add_report_options, command_parser
from research.studies.table.report import write_report

DEFAULT_TABLE = "fashion_mnist-small28"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def work() -> None:
        source = table_path(args.table)
        table = load_table(source)
        config_file = source.parent / "config.yaml"
        config = load_config(config_file) if config_file.exists() else RunConfig()
        out = Path(args.out) if args.out else source.parent / "report"
        result = write_report(table, build_space(config), out, source=str(args.table))
        print(f"{result['students']} students, {result['trainings']} trainings: report in "
              f"{out / 'report.md'}")
    return run_command(work)


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("table_report", __doc__)
    add_report_options(parser, "table", DEFAULT_TABLE, "report/ beside the table")
    return parser


if __name__ == "__main__":
    sys.exit(main())
