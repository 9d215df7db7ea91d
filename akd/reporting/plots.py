"""The report's figures, drawn headless (matplotlib's Agg backend) into PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import Run, curves, pareto_front  # noqa: E402

ARM_COLORS = {"akd": "tab:red", "nas": "tab:blue"}
CURVES = (("reward", "reward"), ("acc", "validation accuracy"), ("latency", "latency (ms)"))


def _color(arm: str) -> str:
    return ARM_COLORS.get(arm, "tab:gray")


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_curves(run: Run, path: Path) -> Path:
    """Reward, accuracy and latency per controller step: the step's mean (solid) and the best
    so far (dashed; latency has no "best", so only its mean)."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for arm in run.arms:
        rows = curves(run.arm_trials(arm))
        steps = [r["step"] for r in rows]
        for ax, (key, label) in zip(axes, CURVES):
            mean_key = f"{key}_mean_ms" if key == "latency" else f"{key}_mean"
            ax.plot(steps, _values(rows, mean_key), "-o", color=_color(arm), label=f"{arm} mean",
                    markersize=3)
            if key != "latency":
                ax.plot(steps, _values(rows, f"{key}_best_so_far"), "--", color=_color(arm),
                        label=f"{arm} best so far")
            ax.set_xlabel("controller step")
            ax.set_ylabel(label)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{run.name}: search progress")
    return _save(figure, path)


def _values(rows: list[dict], key: str) -> list[float]:
    return [np.nan if r[key] is None else r[key] for r in rows]


def plot_pareto(run: Run, path: Path, target_ms: float | None = None) -> Path:
    """Every finished candidate's accuracy against its latency, each arm's front as a step line."""
    figure, ax = plt.subplots(figsize=(7, 5))
    for arm in run.arms:
        ok = [t for t in run.arm_trials(arm) if t.ok]
        ax.scatter([t.latency_ms for t in ok], [t.val_acc for t in ok], s=14, alpha=0.5,
                   color=_color(arm), label=f"{arm} candidates")
        front = pareto_front(ok)
        ax.step([t.latency_ms for t in front], [t.val_acc for t in front], where="post",
                color=_color(arm), linewidth=2, label=f"{arm} Pareto front")
    if target_ms:
        ax.axvline(target_ms, color="black", linestyle=":", label="reward target T")
    ax.set_xlabel("latency (ms, batch 1)")
    ax.set_ylabel("validation accuracy (proxy training)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{run.name}: accuracy vs latency")
    return _save(figure, path)


def plot_policies(run: Run, path: Path) -> Path:
    """Per arm, a heat map of the learned probability of every choice of every decision, each
    cell labelled with the option it stands for."""
    panels = [(f"{arm} ({policy.source})", _grid(run, policy.marginals), "viridis", 0, 1)
              for arm, policy in run.policies.items()]
    if {"akd", "nas"} <= set(run.policies):  # where the teacher moved the policy
        diff = _grid(run, run.policies["akd"].marginals) - _grid(run, run.policies["nas"].marginals)
        scale = max(0.05, float(np.nanmax(np.abs(diff))))
        panels.append(("akd - nas", diff, "coolwarm", -scale, scale))
    names = [d.name for d in run.space.decisions]
    size = (3.6 * len(panels) + 1, 0.22 * len(names) + 2.5)
    figure, axes = plt.subplots(1, len(panels), figsize=size, squeeze=False)
    figure.subplots_adjust(wspace=0.45)
    for ax, (title, grid, cmap, low, high) in zip(axes[0], panels):
        image = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=low, vmax=high)
        for d, decision in enumerate(run.space.decisions):
            for c, value in enumerate(decision.values):
                ax.text(c, d, _short(value), ha="center", va="center", fontsize=6,
                        color="black" if cmap == "coolwarm" or grid[d, c] > 0.6 else "white")
        ax.set_yticks(range(len(names)), names, fontsize=6)
        ax.set_xticks(range(grid.shape[1]), [str(c) for c in range(grid.shape[1])], fontsize=7)
        ax.set_xlabel("choice")
        ax.set_title(title, fontsize=9)
        figure.colorbar(image, ax=ax, location="bottom", shrink=0.8, pad=0.08 * 42 / len(names),
                        label="probability" if cmap != "coolwarm" else "difference")
    figure.suptitle(f"{run.name}: learned policy per decision")
    return _save(figure, path)


def _grid(run: Run, marginals: list[list[float]]) -> np.ndarray:
    """Decisions x choices; decisions with fewer choices padded with NaN (drawn blank)."""
    grid = np.full((len(marginals), max(run.space.choices)), np.nan)
    for d, probs in enumerate(marginals):
        grid[d, :len(probs)] = probs
    return grid


def _short(value) -> str:
    if isinstance(value, bool):  # the skip decision
        return "skip" if value else "no"
    return str(value).replace("mbconv", "mb").replace("sepconv", "sep")


def plot_distance_matrix(labels: list[str], matrix: list[list[float]], path: Path) -> Path:
    """Policy distance between every pair of (run, arm)."""
    size = 0.6 * len(labels) + 2
    figure, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(np.array(matrix), cmap="magma_r", vmin=0, vmax=1)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    figure.colorbar(image, ax=ax, label="mean total-variation distance")
    ax.set_title("distance between learned policies")
    return _save(figure, path)


def plot_lines(panels: list[tuple[str, str, str, dict[str, list[float]]]], path: Path,
               title: str) -> Path:
    """Side-by-side panels of lines: each (x label, y label, panel title, {label: values}),
    values plotted against 1, 2, ..."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (xlabel, ylabel, name, series) in zip(axes[0], panels):
        for label, values in series.items():
            ax.plot(range(1, len(values) + 1), values, lw=1.6, label=label,
                    color=ARM_COLORS.get(label.split("/")[-1]))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figure.suptitle(title)
    return _save(figure, path)


def plot_intervals(groups: dict[str, dict[str, dict]], path: Path, ylabel: str,
                   title: str) -> Path:
    """Means with their 95% intervals (``mean_ci`` results): one group of points per x position
    (``{x: {series: mean_ci}}``), the series side by side."""
    series = list(dict.fromkeys(name for rows in groups.values() for name in rows))
    figure, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(groups) + 2), 3.8))
    width = 0.7 / max(1, len(series))
    for k, name in enumerate(series):
        xs, means, low, high = [], [], [], []
        for i, rows in enumerate(groups.values()):
            summary = rows.get(name)
            if summary is None or summary.get("mean") is None:
                continue
            ci = summary.get("ci95") or [summary["mean"]] * 2
            xs.append(i + (k - (len(series) - 1) / 2) * width)
            means.append(summary["mean"])
            low.append(summary["mean"] - ci[0])
            high.append(ci[1] - summary["mean"])
        ax.errorbar(xs, means, yerr=[low, high], fmt="o", capsize=4, label=name,
                    color=ARM_COLORS.get(name))
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _save(figure, path)
