"""What the benchmark table answers: the noise ceiling, labels vs KD and teacher vs teacher set
against it, the choices KD favours; report.md, analysis.json and PNG plots.

    python experiments/table_report.py                         # the table that ships with akd
    python experiments/table_report.py runs/table              # a table being built, or built
    python experiments/table_report.py table.jsonl.gz --out report/

TABLE is a build directory (its table.jsonl.gz and config.yaml), a .jsonl(.gz) file, or a shipped
table's name. The space that decodes the students' decisions comes from the config.yaml beside
the table (default: the default config's space).
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout whether or not the package is installed

from akd.components import build_space  # noqa: E402
from akd.config import RunConfig, load_config  # noqa: E402
from akd.logs import run_command  # noqa: E402
from akd.tables import load_table  # noqa: E402
from akd.tables import table_path  # noqa: E402
from akd.studies.table.report import write_report  # noqa: E402

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
    parser = argparse.ArgumentParser(prog="table_report.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", nargs="?", default=DEFAULT_TABLE,
                        help=f"build directory, table file or shipped name (default "
                             f"{DEFAULT_TABLE})")
    parser.add_argument("--out", help="report directory (default: report/ beside the table)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
