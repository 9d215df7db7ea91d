"""The benchmark table's report: ``report.md`` with the tables and the answers in words,
``analysis.json`` with every number, and PNG plots (CLS vs KD accuracy, rank-rank, KD gain per
decision, KD gain against latency)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from akd.common import check_out, number, percent, signed, write_json, write_text  # noqa: E402
from akd.tables import LABELS, Table  # noqa: E402

from .analysis import BOOTSTRAP_RESAMPLES, analyze, kd_gains, seed_matrix  # noqa: E402


def write_report(table: Table, space, out: str | Path, source: str = "",
                 resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """Analyze ``table`` (decisions of ``space``) and write the report into ``out``; the
    analysis."""
    out = check_out(out, "report.md", "a table report")
    out.mkdir(parents=True, exist_ok=True)
    result = analyze(table, space, resamples=resamples)
    plots = []
    for teacher in result["teachers"]:
        plots += [_scatter(table, teacher, out / f"cls_vs_{teacher}.png"),
                  _rank_rank(table, LABELS, teacher, out / f"rank_cls_vs_{teacher}.png"),
                  _gain_by_decision(result["decisions"][teacher], teacher,
                                    out / f"kd_gain_by_decision_{teacher}.png"),
                  _gain_vs_latency(table, teacher, out / f"kd_gain_vs_latency_{teacher}.png")]
    for i, a in enumerate(result["teachers"]):
        for b in result["teachers"][i + 1:]:
            plots.append(_rank_rank(table, a, b, out / f"rank_{a}_vs_{b}.png"))
    write_json(out / "analysis.json", result)
    write_text(out / "report.md", markdown(result, [p.name for p in plots], source))
    return result


# --- words and tables -----------------------------------------------------------------------

def _ci(interval: list[float] | None, digits: int = 3) -> str:
    if interval is None:
        return "-"
    return f"[{signed(interval[0], digits)}, {signed(interval[1], digits)}]"


def _ci_percent(interval: list[float] | None) -> str:
    return "-" if interval is None else f"[{percent(interval[0])}, {percent(interval[1])}]"


def verdict(pair: dict) -> str:
    """One sentence: do modes ``a`` and ``b`` rank the students differently beyond the noise?"""
    a, b = pair["a"], pair["b"]
    if pair.get("excess_ci") is None:
        return f"{a} vs {b}: too few students trained twice in both to tell."
    low, high = pair["excess_ci"]
    numbers = (f"two seeds of one mode agree at Spearman {number(pair['same_mode'], 3)}, one "
               f"seed of each at {number(pair['cross_seed'], 3)} (difference "
               f"{signed(pair['excess'])}, 95% interval {_ci(pair['excess_ci'])}); disattenuated "
               f"correlation {number(pair['disattenuated'], 3)} {_ci(pair['disattenuated_ci'])}")
    if low > 0:
        return (f"**{a} and {b} rank the students differently, by more than the noise**: "
                f"{numbers}.")
    return (f"**{a} and {b} do not rank the students differently beyond the noise**: {numbers}; "
            f"a difference this small is within what a second seed changes.")


def markdown(result: dict, plots: list[str], source: str = "") -> str:
    lines = ["# The distillation-aware benchmark table", ""]
    if source:
        lines += [f"Table: `{source}`.", ""]
    lines += [f"{result['students']} students, {result['trainings']} trainings "
              f"({result['failed']} failed); accuracy: {result['metric']}. Intervals are 95% "
              "percentile bootstraps over students, except the mean accuracy's (Student t).", "",
              "| mode | teacher test accuracy | mean student accuracy [95% CI] |",
              "| --- | --- | --- |"]
    for mode, stats in result["mean_acc"].items():
        teacher = result["teacher_test_acc"].get(mode)
        lines.append(f"| {mode} | {percent(teacher) if teacher is not None else '-'} | "
                     f"{percent(stats['mean'])} {_ci_percent(stats['ci95'])} |")
    lines += ["", "## The noise ceiling: seed 0 against seed 1", "",
              "| mode | students | Spearman [95% CI] | Kendall [95% CI] | top-10% overlap | "
              "mean abs. seed difference |", "| --- | --- | --- | --- | --- | --- |"]
    for n in result["noise"]:
        lines.append(f"| {n['mode']} | {n['n']} | {number(n['spearman'], 3)} "
                     f"{_ci(n['spearman_ci'])} | {number(n['kendall'], 3)} {_ci(n['kendall_ci'])}"
                     f" | {percent(n['top_overlap'], 0)} | {percent(n['mean_abs_diff'])} |")
    lines += ["", "## Mode against mode", "",
              "Spearman and Kendall of the students' mean accuracy over both seeds; "
              "disattenuated: divided by the square root of both modes' reliabilities "
              "(Spearman-Brown from the seed-to-seed Spearman); same mode / cross seed: the mean "
              "Spearman of two seeds of one mode, and of one seed of each mode (never the same "
              "seed twice); excess: their difference (above zero: the modes disagree more than "
              "two seeds do).", "",
              "| a | b | students | Spearman [CI] | Kendall [CI] | disattenuated [CI] | same mode "
              "| cross seed | excess [CI] | top-10% overlap (same mode / cross seed) | mean "
              "b - a |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in result["pairs"]:
        if "spearman" not in p:
            lines.append(f"| {p['a']} | {p['b']} | {p['n']} | - | - | - | - | - | - | - | - |")
            continue
        lines.append(
            f"| {p['a']} | {p['b']} | {p['n']} | {number(p['spearman'], 3)} "
            f"{_ci(p['spearman_ci'])} | {number(p['kendall'], 3)} {_ci(p['kendall_ci'])} | "
            f"{number(p['disattenuated'], 3)} {_ci(p['disattenuated_ci'])} | "
            f"{number(p['same_mode'], 3)} | {number(p['cross_seed'], 3)} | "
            f"{signed(p['excess'])} {_ci(p['excess_ci'])} | {percent(p['top_overlap'], 0)} "
            f"({percent(p['top_overlap_same_mode'], 0)} / "
            f"{percent(p['top_overlap_cross_seed'], 0)}) | {signed(p['mean_diff'], 4)} |")
    lines += ["", "Within latency thirds (capacity makes every mode agree across the whole "
              "range; this is the ranking among students of similar cost):", "",
              "| pair | band | students | latency (ms) | Spearman of means | same-mode seeds |",
              "| --- | --- | --- | --- | --- | --- |"]
    for pair, bands in result["bands"].items():
        for band in bands:
            latency = band["latency_ms"]
            span = "-" if latency is None else f"{latency[0]:.2f}-{latency[1]:.2f}"
            lines.append(f"| {pair} | {band['band'] + 1} | {band['n']} | {span} | "
                         f"{number(band['spearman'], 3)} | {number(band['same_mode'], 3)} |")
    lines += ["", "## The AKD paper's questions", ""]
    cls_pairs = [p for p in result["pairs"] if p["a"] == LABELS]
    teacher_pairs = [p for p in result["pairs"] if p["a"] != LABELS]
    lines.append("1. *Is the best student for KD a different one than for labels only?* "
                 + (" ".join(verdict(p) for p in cls_pairs) or "No KD mode has two seeds."))
    lines.append("2. *Do different teachers prefer different students?* "
                 + (" ".join(verdict(p) for p in teacher_pairs)
                    or "Fewer than two teachers have two seeds."))
    for teacher, rows in result["decisions"].items():
        lines += ["", f"## Which choices KD from {teacher} favours", "",
                  "KD gain = KD accuracy minus labels-only accuracy of the same student and seed; "
                  "per decision value, the mean over the (student, stage) pairs that take it.", "",
                  "| field | value | stages | mean KD gain [95% CI] | vs. the mean gain [95% CI] |",
                  "| --- | --- | --- | --- | --- |"]
        for row in rows:
            lines.append(f"| {row['field']} | {row['value']} | {row['stages']} | "
                         f"{signed(row['gain'], 4)} {_ci(row['gain_ci'], 4)} | "
                         f"{signed(row['vs_mean'], 4)} {_ci(row['vs_mean_ci'], 4)} |")
        cost = result["cost"][teacher]
        lines += ["", f"KD gain from {teacher}: mean {signed(cost['mean_gain']['mean'], 4)} "
                  f"{_ci(cost['mean_gain']['ci95'], 4)} over {cost['n']} students; its Spearman "
                  "with " + ", ".join(f"{name} {number(cost[name]['spearman'], 3)} "
                                      f"{_ci(cost[name]['spearman_ci'])}"
                                      for name in ("params", "macs", "latency_ms")) + "."]
    lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


# --- plots ----------------------------------------------------------------------------------

def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def _means(table: Table, a: str, b: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    archs, arrays = seed_matrix(table, [a, b], [0, 1])
    return archs, arrays[a].mean(axis=1), arrays[b].mean(axis=1)


def _scatter(table: Table, teacher: str, path: Path) -> Path:
    archs, cls, kd = _means(table, LABELS, teacher)
    latency = [table.lookup(a).records[0]["latency_ms"] for a in archs]
    figure, ax = plt.subplots(figsize=(5.5, 5))
    points = ax.scatter(cls, kd, c=latency, s=12, cmap="viridis")
    figure.colorbar(points, ax=ax, label="latency (ms)")
    if len(cls):
        low, high = min(cls.min(), kd.min()), max(cls.max(), kd.max())
        ax.plot([low, high], [low, high], "--", color="gray", linewidth=1, label="y = x")
    ax.set(xlabel="labels only: validation accuracy (mean of 2 seeds)",
           ylabel=f"KD from {teacher}: validation accuracy", title=f"CLS vs KD ({teacher})")
    ax.legend(loc="upper left")
    return _save(figure, path)


def _rank_rank(table: Table, a: str, b: str, path: Path) -> Path:
    _, x, y = _means(table, a, b)
    figure, ax = plt.subplots(figsize=(5, 5))
    if len(x):
        ax.scatter(scipy_stats.rankdata(-x), scipy_stats.rankdata(-y), s=10)
    ax.set(xlabel=f"rank with {a} (1 = best)", ylabel=f"rank with {b}",
           title=f"{a} vs {b}: ranks of the mean accuracy")
    return _save(figure, path)


def _gain_by_decision(rows: list[dict], teacher: str, path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows)), 4))
    labels = [f"{r['field']}={r['value']}" for r in rows]
    gains = [r["gain"] for r in rows]
    errors = [[r["gain"] - r["gain_ci"][0] if r["gain_ci"] else 0 for r in rows],
              [r["gain_ci"][1] - r["gain"] if r["gain_ci"] else 0 for r in rows]]
    ax.bar(range(len(rows)), gains, yerr=errors, capsize=2, color="tab:red")
    ax.axhline(0, color="gray", linewidth=1)
    ax.set_xticks(range(len(rows)), labels, rotation=70, ha="right", fontsize=8)
    ax.set(ylabel="mean KD gain (accuracy)", title=f"KD gain from {teacher} per decision value")
    return _save(figure, path)


def _gain_vs_latency(table: Table, teacher: str, path: Path) -> Path:
    gains = kd_gains(table, teacher)
    latency = {r["arch"]: r["latency_ms"] for r in table}
    figure, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter([latency[a] for a in gains], list(gains.values()), s=10)
    ax.axhline(0, color="gray", linewidth=1)
    ax.set(xscale="log", xlabel="latency (ms)", ylabel=f"KD gain from {teacher}",
           title=f"KD gain from {teacher} against latency")
    return _save(figure, path)
