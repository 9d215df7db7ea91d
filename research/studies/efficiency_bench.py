"""Sample efficiency of the search strategies: the best reward against the number of trainings,
AutoKD's claim (20x fewer trainings than earlier NAS) set against the measurement.

Every (strategy, seed) is one real search of the ``akd`` arm into its own run directory under
``out``; a finished one is read back and a killed one resumed, so the benchmark can be stopped and
run again. A strategy is a controller with its options, and optionally another space (``autokd``
over NAGO's generator). From each search's trained trials, in the order they finished, comes its
best-so-far reward; a strategy's trainings to reach the reference strategy's best after the whole
budget (same seed) say how many trainings it needs for what the reference found. Then, with
``final_seeds``, the final stage of each strategy's best student (over its seeds) trained from
scratch with labels only and with KD, ``final_seeds`` times each, so the strategies' students are
compared by test accuracy with intervals, not only by their noisy proxy reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akd.common import mean_ci, read_lines, write_json
from akd.config import RunConfig, with_changes
from akd.errors import ConfigError
from akd.final import FinalTask, train_missing
from akd.search import Trial, best_so_far, recorded_target, top_trials

from .curves import trainings_to_reach
from .runner import (STRATEGIES, Planned, check_strategies, plan_configs, run_searches, seeded,
                     seeded_name, strategy_changes, strategy_config)

PAPER_SPEEDUP = 20  # AutoKD: "20x more sample efficient" than earlier NAS


@dataclass(frozen=True)
class Options:
    strategies: tuple[str, ...] = ("autokd", "tpe", "lstm_ppo", "random")
    seeds: int = 3
    reference: str = "lstm_ppo"  # the strategy whose best the others must reach
    final_seeds: int = 0  # > 0: each strategy's best student trained this often, CLS and KD

    def __post_init__(self) -> None:
        check_strategies(self.strategies)
        if self.reference not in self.strategies:
            raise ConfigError(f"the reference strategy {self.reference!r} is not among "
                              f"{', '.join(self.strategies)}")
        if self.seeds < 1 or self.final_seeds < 0:
            raise ConfigError(f"seeds must be >= 1 and final seeds >= 0, got {self.seeds} and "
                              f"{self.final_seeds}")


run_name = seeded_name  # "<strategy>-seed<i>"


def run_benchmark(base: RunConfig, options: Options, out: Path) -> dict:
    """Run (or read back, or resume) every search, then the final stage; the summary."""
    if base.search.arms != ["akd"]:
        raise ConfigError("the efficiency benchmark searches the akd arm only: set search.arms: "
                          "[akd]")
    own = [s for s in options.strategies if STRATEGIES[s].space is None]
    other = [s for s in options.strategies if STRATEGIES[s].space is not None]

    def plans(strategies: list[str], changes: dict) -> list[Planned]:
        return [plan for s in strategies
                for plan in seeded(s, {**strategy_changes(s), **changes}, options.seeds)]
    plan_configs(base, plans(own + other, {}), out)  # every search checked before any runs
    # the config's own space first: its target latency is then known for the others, so that
    # their rewards mean the same latency trade-off
    found = run_searches(base, plans(own, {}), out)
    target = {}
    if own and other:
        first = run_name(own[0], 0)
        target = {"reward.target_ms": recorded_target(strategy_config(base, own[0]),
                                                      out / first).target_ms}
    run_searches(base, plans(other, target), out, into=found)
    result = summarize(found.trials, options, base.search.trials)
    result["seconds"] = found.seconds
    if options.final_seeds:
        result["final"] = final_comparison(base, found.trials, options, out / "final")
    return result


def summarize(runs: dict[str, list[Trial]], options: Options, budget: int) -> dict:
    curves = {name: best_so_far(trials) for name, trials in runs.items()}
    seeds = range(options.seeds)
    result = {"budget": budget, "seeds": options.seeds, "reference": options.reference,
              "paper_speedup": PAPER_SPEEDUP, "curves": curves, "strategies": {}}
    for strategy in options.strategies:
        rows = []
        for seed in seeds:
            target = curves[run_name(options.reference, seed)][-1]
            curve = curves[run_name(strategy, seed)]
            reached = trainings_to_reach(curve, target)
            rows.append({"seed": seed, "best": curve[-1], "reference_best": target,
                         "reaches_reference_best_after": reached})
        reached = [r["reaches_reference_best_after"] for r in rows]
        hits = [r for r in reached if r is not None]
        result["strategies"][strategy] = {
            "seeds": rows,
            "mean_curve": np.mean([curves[run_name(strategy, s)] for s in seeds], axis=0).tolist(),
            "best": mean_ci([r["best"] for r in rows]),
            # its best minus the reference's, paired by seed
            "difference": mean_ci([r["best"] - r["reference_best"] for r in rows]),
            "reached": len(hits),
            "mean_trainings_to_reach": float(np.mean(hits)) if hits else None,
            # the reference's budget over the trainings this strategy needed: > 1 is fewer
            "speedup": budget / float(np.mean(hits)) if hits else None}
    return result


def final_comparison(base: RunConfig, runs: dict[str, list[Trial]], options: Options,
                     out: Path) -> dict:
    """Each strategy's best student over its seeds, trained ``options.final_seeds`` times with
    labels only and with KD (``final.*`` of ``base``; its searched KD settings, if any), appended
    to ``final_runs.jsonl`` as they finish so a killed stage resumes; test accuracies with
    intervals, and each strategy's KD accuracy minus the reference's, paired by seed."""
    students = {}
    for strategy in options.strategies:
        trials = [t for s in range(options.seeds) for t in runs[run_name(strategy, s)]]
        students[strategy] = top_trials(trials, 1)[0]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "final_runs.jsonl"
    for strategy, trial in students.items():  # each strategy's space, for its student
        # the reward plays no part here
        config = with_changes(strategy_config(base, strategy), {"final.enabled": True})
        train_missing(config, [FinalTask(strategy, 1, trial.arch, mode, seed, kd=trial.kd)
                               for mode in ("cls", "kd") for seed in range(options.final_seeds)],
                      path)
    done = {(r["source"], r["mode"], r["seed"]): r for r in read_lines(path)}
    accuracy = {key: r["test_acc"] for key, r in done.items() if r["status"] == "ok"}
    summary = {}
    for strategy, trial in students.items():
        per_mode = {mode: mean_ci([accuracy[(strategy, mode, s)]
                                   for s in range(options.final_seeds)
                                   if (strategy, mode, s) in accuracy])
                    for mode in ("cls", "kd")}
        paired = [accuracy[(strategy, "kd", s)] - accuracy[(options.reference, "kd", s)]
                  for s in range(options.final_seeds)
                  if (strategy, "kd", s) in accuracy and (options.reference, "kd", s) in accuracy]
        summary[strategy] = {"arch": trial.arch, "latency_ms": trial.latency_ms,
                             "params": trial.params, "search_reward": trial.reward,
                             "kd_settings": trial.kd, **per_mode,
                             "kd_minus_reference": mean_ci(paired)}
    return {"seeds": options.final_seeds, "students": summary}


def write_results(result: dict, out: Path) -> None:
    write_json(out / "efficiency.json", result)
    plot_curves(result, out / "efficiency.png")


def plot_curves(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    for strategy, summary in result["strategies"].items():
        mean = summary["mean_curve"]
        axis.plot(range(1, len(mean) + 1), mean, lw=2, label=strategy)
    reference = result["strategies"][result["reference"]]["best"]["mean"]
    axis.axhline(reference, color="gray", ls="--", lw=1,
                 label=f"{result['reference']}'s best after {result['budget']}")
    axis.set_xlabel("trainings")
    axis.set_ylabel(f"best reward so far (mean of {result['seeds']} seeds)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
