"""The search: the loop over arms (:mod:`akd.search.loop`), the candidate's evaluation, MnasNet's
reward, the trial record, the run directory and TensorBoard.

Only light modules are imported here, so that readers of run directories (the report) can use
the trial record and the run directory without loading the loop or an evaluator; the loop's
:class:`Search` and :func:`run_search` load on first use.
"""

from ..common.lazy import lazy_exports
from .reward import FAILED_REWARD, mnas_reward
from .rundir import RunDir
from .schedule import Bracket, hyperband_brackets
from .target import TARGET_FILE, recorded_target
from .trial import (TRIAL_FIELDS, Task, Trial, TrialStatus, best_so_far, search_results, top_trials,
                    trials_table)

__getattr__ = lazy_exports(__name__, {".loop": ("Search", "run_search"),
                                      ".candidate": ("evaluate_candidate",)})

__all__ = ["Bracket", "FAILED_REWARD", "RunDir", "Search", "TARGET_FILE", "TRIAL_FIELDS", "Task",
           "Trial", "TrialStatus", "best_so_far", "evaluate_candidate", "hyperband_brackets",
           "mnas_reward", "recorded_target", "run_search", "search_results", "top_trials",
           "trials_table"]
