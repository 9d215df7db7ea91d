"""The final stage: the best students of each arm retrained from scratch with and without KD
(:mod:`akd.final.stage`), and the statistics of what it found (:mod:`akd.final.statistics`).

Only the statistics are imported here, so that the report can use them without loading an
evaluator; the stage's names load on first use.
"""

from ..common.lazy import lazy_exports
from .statistics import (MODES, final_records, final_table, gain_metric, run_key, searched_student,
                         statistics_of, student_macs, summarize, table_2x2, training_budget)

__getattr__ = lazy_exports(__name__, {".stage": ("FinalTask", "config_budget", "final_task",
                                                 "run_final", "train_final", "train_missing")})

__all__ = ["FinalTask", "MODES", "config_budget", "final_records", "final_table", "final_task",
           "gain_metric", "run_final", "run_key", "searched_student", "statistics_of",
           "student_macs", "summarize", "table_2x2", "train_final", "train_missing",
           "training_budget"]
