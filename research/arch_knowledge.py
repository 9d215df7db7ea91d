"""The architecture-knowledge experiment: the AKD paper's motivation table, as a command.

A fixed set of students at similar latency (sampled from the space, latency measured and cached),
each trained on the proxy split with labels only (CLS) and distilled from each zoo teacher, over
seeds; their validation accuracy and rank per column, and the rank correlation (Spearman, Kendall)
between every pair of columns. Writes results.jsonl, ranking.csv, correlation.csv and
arch_knowledge.md into --out; rerunning the same command after a kill finishes what is missing.

    python -m research.arch_knowledge                       # 5 students, 4 teachers, 2 seeds
    python -m research.arch_knowledge --teachers resnet,vgg --students 4 --seeds 3
    python -m research.arch_knowledge --config research/presets/arch_knowledge/tiny.yaml \\
        --out runs/arch_knowledge_tiny                         # in seconds

Default budget (research/presets/arch_knowledge/default.yaml): Fashion-MNIST, every teacher
trained 1 epoch on 20,000 images, students 2 epochs on 5,000 proxy images, 64 sampled
architectures: 50 student trainings. How long it takes, and on which machine:
docs/results.md#architecture-knowledge; a second run with the teachers and latencies cached
reproduces every accuracy of the first.
"""

from __future__ import annotations

import sys

from research import PRESETS
from research.common import options_command
from research.studies.arch_knowledge import Options, run_experiment

main = options_command(
    "arch_knowledge", __doc__, Options, run_experiment, out="runs/arch_knowledge", backend=False,
    config=PRESETS / "arch_knowledge" / "default.yaml",
    config_help="research/presets/arch_knowledge/default.yaml; tiny.yaml beside it runs in "
                "seconds, for tests",
    uses="data, space, latency, cache_dir, progress as in a search; search.seed: the sampling "
         "seed; teacher.training, teacher.train_images: every teacher's budget (--teachers names "
         "them); proxy: the students' training (KD: its alpha and temperature; CLS: alpha 0)")


if __name__ == "__main__":
    sys.exit(main())
