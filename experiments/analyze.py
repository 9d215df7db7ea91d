"""The report of one or several run directories: report.md, CSV tables and PNG figures.

    python experiments/analyze.py runs/demo                      # writes runs/demo/report/
    python experiments/analyze.py runs/vgg runs/resnet --out runs/compare
    akd analyze runs/demo                                        # the same, installed

It reads only the files a run wrote (it never trains), so it works on a finished run, a killed
one and one that is still running; what is missing is listed in the report.
"""

import sys
from pathlib import Path

# runs from a checkout whether or not the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from akd.cli import analyze_main  # noqa: E402  (akd analyze, installed)

if __name__ == "__main__":
    sys.exit(analyze_main())
