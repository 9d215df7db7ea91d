"""Reading run directories (:mod:`akd.reporting.analysis`) into report.md, CSV tables and PNG
figures (:mod:`akd.reporting.report`, :mod:`akd.reporting.plots`). Never trains or writes into a
run; never imports the search loop or an evaluator."""

from ..common.lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    ".analysis": ("Policy", "Run", "curves", "decision_agreement", "late_trials_policy",
                  "load_run", "pareto_front", "policy_distance", "preferences"),
    ".plots": ("plot_intervals", "plot_lines"),
    ".report": ("write_report",)})

__all__ = ["Policy", "Run", "curves", "decision_agreement", "late_trials_policy", "load_run",
           "pareto_front", "plot_intervals", "plot_lines", "policy_distance", "preferences",
           "write_report"]
