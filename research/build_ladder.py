"""Build the ladder table: the benchmark table's students trained at a ladder of budgets.

A stratified subset of the table's students, trained from the table's own budget (3,000 images x
1 epoch) up to 32 times that many training samples, with labels only and with KD, 2 seeds, each
training's learning curve kept.

    python -m research.build_ladder                     # 32 students, 4 rungs, cls + vgg at
                                                           # every rung, resnet at the top: hours
                                                           # on 2 cores (docs/results.md)
    python -m research.build_ladder --students 4 --extremes 1 --rungs 500x1,500x2 \\
        --top-teachers '' --eval-images 200 --out runs/ladder_tiny   # in a minute

Writes --out/ladder.json (settings, rungs, the students and why each was chosen),
trainings.jsonl (appended as each training finishes), sessions.jsonl and ladder.jsonl.gz (what
akd.tables.load_ladder reads). Rerun the same command after a kill (even kill -9) to train only
what is missing; to continue a shipped ladder, copy its directory and build into the copy.
Report: python -m research.ladder_report.
"""

from __future__ import annotations

import sys

from akd.tables import table_path
from research.common import options_command
from research.studies.table.ladder import Options, build_ladder

main = options_command(
    "build_ladder", __doc__, Options, build_ladder, out="runs/ladder", config=None,
    config_of=lambda args: table_path(args.table).parent / "config.yaml",
    config_help="the table's config.yaml, so that the bottom rung repeats the table's trainings",
    uses="data, space, evaluator, cache_dir, progress as in a search; teacher.training, "
         "teacher.train_images: every teacher's recipe; proxy: the students' recipe (lr, batch "
         "size, schedule, KD alpha and temperature; each rung sets its images and epochs; labels "
         "only: alpha 0)")


if __name__ == "__main__":
    sys.exit(main())
