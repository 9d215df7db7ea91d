"""The research behind akd's documents, apart from the tool: the study, the benchmark and ladder
tables, the predictor, screening and efficiency benchmarks, the architecture-knowledge
experiment, their presets and reports (timm's ``train.py`` and torchvision's ``references/``
keep such code the same way: beside the package, not in it).

Not installed: run its commands from a checkout's root, ``python -m research.<command>`` (e.g.
``python -m research.run_study``). It is built on akd's public API only, the names a package of
akd exports (``from akd.search import Trial``), never a module inside one; a test checks that,
and that the wheel holds none of it.
"""

from pathlib import Path

PRESETS = Path(__file__).resolve().parent / "presets"  # the research's run configs
