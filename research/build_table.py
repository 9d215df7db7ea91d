"""Build the distillation-aware benchmark table: a seeded pool of students spread over the space's
cost range, each trained at one fixed proxy budget with labels only and with KD from each
teacher, over seeds; one JSON line per training (validation and test accuracy, measured latency,
params, MACs, seconds, budget).

    python -m research.build_table                          # 300 students, cls + vgg + resnet,
                                                               # 2 seeds: about 90 min on 2 cores
    python -m research.build_table --extra-teachers wide    # and KD from wide, seed 0 only
    python -m research.build_table --config research/presets/table/tiny.yaml --archs 4 \\
        --eval-images 200 --out runs/table_tiny                # in seconds

Writes --out/table.json (settings, pool, latencies), trainings.jsonl (appended as each training
finishes), sessions.jsonl and table.jsonl.gz (what akd.load_table reads). Rerun the same command
after a kill (even kill -9) to train only what is missing; --backend ray, or --set
evaluator.workers=N, to spread it. Report: python -m research.table_report --out DIR.
"""

from __future__ import annotations

import sys

from research import PRESETS
from research.common import options_command
from research.studies.table.build import Options, build_table

main = options_command(
    "build_table", __doc__, Options, build_table, out="runs/table",
    config=PRESETS / "table" / "default.yaml",
    config_help="research/presets/table/default.yaml; tiny.yaml beside it runs in seconds, for "
                "tests",
    uses="data, space, latency, evaluator, cache_dir, progress as in a search; search.seed: the "
         "pool's seed; teacher.training, teacher.train_images: every teacher's recipe; proxy: the "
         "students' training (KD: its alpha and temperature; labels only: alpha 0)")


if __name__ == "__main__":
    sys.exit(main())
