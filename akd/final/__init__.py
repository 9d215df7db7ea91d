"""The final stage: the best students of each arm retrained from scratch with and without KD
(:mod:`akd.final.stage`), and the statistics of what it found (:mod:`akd.final.statistics`).

Only the statistics are imported here, so that the report can use them without loading an
evaluator.
"""

from .statistics import (MODES, final_table, gain_metric, run_key, searched_student,
                         statistics_of, student_macs, summarize, table_2x2)

__all__ = ["MODES", "final_table", "gain_metric", "run_key", "searched_student", "statistics_of",
           "student_macs", "summarize", "table_2x2"]
