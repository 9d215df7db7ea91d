"""Export the best student of a run to TorchScript and ONNX, checked (see ``--help``).

    python experiments/export.py runs/demo                  # writes runs/demo/export/
    python experiments/export.py runs/demo --source nas --out nasnet
"""

import sys
from pathlib import Path

# runs from a checkout whether or not the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from akd.cli import export_main  # noqa: E402  (akd export, installed)

if __name__ == "__main__":
    sys.exit(export_main())
