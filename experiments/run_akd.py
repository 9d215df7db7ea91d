"""The main command of akd: the architecture-aware KD search (see ``--help``).

    python experiments/run_akd.py                 # the demo preset (akd/presets/demo.yaml)
    python experiments/run_akd.py --config quick  # the whole pipeline in about a minute
"""

import sys
from pathlib import Path

# runs from a checkout whether or not the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from akd.cli import main  # noqa: E402  (akd search, installed)

if __name__ == "__main__":
    sys.exit(main())
