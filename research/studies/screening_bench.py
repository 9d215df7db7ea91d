"""Does screening with the predictor save trainings? The best true reward against the number of
trained candidates, screened against not screened, per controller, over seeds.

Every (controller, seed, screened or not) is one real search of the ``akd`` arm into its own run
directory under ``out``; a finished one is read back, a killed one resumed, so the benchmark can
be stopped and started again. From each run's trained trials, in the order they finished, comes
its best-so-far reward after 1, 2, ... trainings. A screened search "saves" trainings when it
reaches the best reward its unscreened twin (same controller and seed) reached with the whole
budget in fewer trainings; it "does not reach" it when it never gets there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from akd.common import mean_ci, write_json
from akd.config import RunConfig
from akd.errors import ConfigError
from akd.search import Trial, best_so_far

from .curves import trainings_to_reach
from .runner import run_searches, seeded, seeded_name


@dataclass(frozen=True)
class Options:
    controllers: tuple[str, ...] = ("lstm_ppo", "random")
    seeds: int = 3
    factor: int = 4  # screening: ask factor x batch, train the batch
    screening: tuple[tuple[str, object], ...] = ()  # further search.screening settings of the
    # screened searches only (e.g. table None), so the plain searches stay the same


def run_name(controller: str, screened: bool, seed: int) -> str:
    return seeded_name(f"{controller}-{'screened' if screened else 'plain'}", seed)


def run_benchmark(base: RunConfig, options: Options, out: Path) -> dict:
    """Run (or read back, or resume) every search of the benchmark; the curves and savings."""
    if base.search.arms != ["akd"]:
        raise ConfigError("the screening benchmark searches the akd arm only: set search.arms: "
                          "[akd]")
    screening = {f"search.screening.{key}": value for key, value in options.screening}
    plans = []
    for controller in options.controllers:
        changes = {"controller": {"name": controller, "options": {}}}
        plans += seeded(f"{controller}-plain", {**changes, "search.screening.factor": 1},
                        options.seeds)
        # the screened searches alone get the further screening settings (e.g. table None)
        plans += seeded(f"{controller}-screened", {**changes, **screening,
                                                   "search.screening.factor": options.factor},
                        options.seeds)
    found = run_searches(base, plans, out)
    result = summarize(found.trials, options, base.search.trials)
    result["seconds"] = found.seconds
    return result


def summarize(runs: dict[str, list[Trial]], options: Options, budget: int) -> dict:
    curves = {name: best_so_far(trials) for name, trials in runs.items()}
    result = {"budget": budget, "factor": options.factor, "seeds": options.seeds,
              "curves": curves, "controllers": {}}
    for controller in options.controllers:
        pairs = []
        for seed in range(options.seeds):
            plain = curves[run_name(controller, False, seed)]
            screened = curves[run_name(controller, True, seed)]
            reached = trainings_to_reach(screened, plain[-1])
            pairs.append({"seed": seed, "plain_best": plain[-1], "screened_best": screened[-1],
                          "screened_reaches_plain_best_after": reached,
                          "saved": None if reached is None else budget - reached})
        mean = {kind: np.mean([curves[run_name(controller, kind == "screened", s)]
                               for s in range(options.seeds)], axis=0).tolist()
                for kind in ("plain", "screened")}
        reached = [p["screened_reaches_plain_best_after"] for p in pairs]
        result["controllers"][controller] = {
            "seeds": pairs, "mean_curve": mean,
            # screened minus plain best reward, paired by seed, with a t interval over seeds
            "best_difference": mean_ci([p["screened_best"] - p["plain_best"] for p in pairs]),
            "mean_plain_best": float(np.mean([p["plain_best"] for p in pairs])),
            "mean_screened_best": float(np.mean([p["screened_best"] for p in pairs])),
            "reached": sum(r is not None for r in reached),
            "mean_saved": (float(np.mean([budget - r for r in reached if r is not None]))
                           if any(r is not None for r in reached) else None)}
    return result


def write_results(result: dict, out: Path) -> None:
    write_json(out / "screening.json", result)
    plot_curves(result, out / "screening.png")


def plot_curves(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    controllers = list(result["controllers"])
    figure, axes = plt.subplots(1, len(controllers), figsize=(5 * len(controllers), 3.6),
                                squeeze=False, sharey=True)
    for axis, controller in zip(axes[0], controllers):
        summary = result["controllers"][controller]
        for kind, colour in (("plain", "tab:gray"), ("screened", "tab:blue")):
            for seed in range(result["seeds"]):
                curve = result["curves"][f"{controller}-{kind}-seed{seed}"]
                axis.plot(range(1, len(curve) + 1), curve, color=colour, alpha=0.3, lw=0.8)
            mean = summary["mean_curve"][kind]
            axis.plot(range(1, len(mean) + 1), mean, color=colour, lw=2,
                      label=f"{kind} (mean of {result['seeds']} seeds)")
        axis.set_title(controller)
        axis.set_xlabel("trained candidates")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("best reward so far")
    axes[0][0].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
