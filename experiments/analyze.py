"""The report of one or several run directories: report.md, CSV tables and PNG figures.

    python experiments/analyze.py runs/demo                      # writes runs/demo/report/
    python experiments/analyze.py runs/vgg runs/resnet --out runs/compare

It reads only the files a run wrote (it never trains), so it works on a finished run, a killed
one and one that is still running; what is missing is listed in the report.
"""

import argparse
import sys
from pathlib import Path

# runs from a checkout whether or not the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from akd.logs import run_command  # noqa: E402
from akd.reporting.report import analyze  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories to report on")
    parser.add_argument("--out", help="output directory (default: RUN_DIR/report for one run, "
                                      "a report/ folder beside the first run for several)")
    args = parser.parse_args(argv)

    def work() -> None:
        report = analyze(args.runs, args.out)
        print(f"report: {report} (with CSV tables and PNG figures beside it)")
    return run_command(work)


if __name__ == "__main__":
    sys.exit(main())
