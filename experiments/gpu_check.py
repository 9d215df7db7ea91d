"""The prepared GPU check (docs/gpu.md): ``python experiments/gpu_check.py`` on a machine with one
CUDA GPU, ``--dry-run`` anywhere (see ``--help``).

It runs from a checkout, installed or not. On a bare GPU machine whose Python lacks some of akd's
dependencies, the wheels of ``make gpu-bundle`` (``gpu_bundle/wheels/``) are installed into
``gpu_bundle/site`` first, offline, and put on the path: nothing is downloaded.
"""

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout whether or not the package is installed
NEEDED = ("dacite", "fvcore", "yaml", "tqdm", "scipy", "onnx", "onnxruntime", "PIL")


def bring_missing() -> None:
    """Install what this Python lacks from the bundle's wheels, offline; one line if it can't."""
    bundle = ROOT / "gpu_bundle"
    site = bundle / "site"
    if site.is_dir():
        sys.path.insert(1, str(site))
    missing = [name for name in NEEDED if find_spec(name) is None]
    if not missing:
        return
    wheels = sorted((bundle / "wheels").glob("*.whl"))
    if not wheels:
        sys.exit(f"error: this Python lacks {', '.join(missing)}; make the bundle with `make "
                 "gpu-bundle` on a machine with pip access and copy gpu_bundle/ along "
                 "(docs/gpu.md)")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--no-compile", "--target", str(site), *map(str, wheels)], check=True)
    sys.path.insert(1, str(site))
    still = [name for name in NEEDED if find_spec(name) is None]
    if still:
        sys.exit(f"error: still missing after installing gpu_bundle/wheels: {', '.join(still)}")
    print(f"installed {len(wheels)} wheels from gpu_bundle/wheels into {site}")


if __name__ == "__main__":
    bring_missing()
    from research.gpu_check import main  # after the bundle: it imports akd

    sys.exit(main())
