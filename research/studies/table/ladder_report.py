"""The ladder table's report: ``report.md`` with the tables, ``analysis.json`` with every number,
and PNG figures (rank agreement with the top rung against cost, KD gain per rung, the cheap
estimators, labels against KD at the top rung, the top rung's learning curves)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from akd.common import (check_out, interval, number, percent, signed, write_json,  # noqa: E402
                        write_text)
from akd.tables import LABELS, Ladder, Table  # noqa: E402

from .analysis import BOOTSTRAP_RESAMPLES  # noqa: E402
from .ladder_analysis import analyze, target_columns  # noqa: E402


def write_report(ladder: Ladder, out: str | Path, table: Table | None = None, space=None,
                 source: str = "", resamples: int = BOOTSTRAP_RESAMPLES,
                 spread: Sequence[str] = ()) -> dict:
    """Analyze ``ladder`` (against the benchmark ``table`` its students come from, decisions of
    ``space``; ``spread``: the students chosen for their latency alone) and write the report
    into ``out``; the analysis."""
    out = check_out(out, "report.md", "a ladder report")
    out.mkdir(parents=True, exist_ok=True)
    result = analyze(ladder, table, space, resamples=resamples, spread=spread)
    plots = [_rank_against_cost(result, out / "ladder_rank.png"),
             _kd_gain(result, out / "ladder_kd_gain.png"),
             _estimators(result, out / "ladder_estimators.png"),
             _top_scatter(ladder, result["teacher"], out / "ladder_top_cls_vs_kd.png"),
             _curves(ladder, result["modes"], out / "ladder_curves.png")]
    write_json(out / "analysis.json", result)
    write_text(out / "report.md", markdown(result, [p.name for p in plots if p], source))
    return result


# --- words and tables ---------------------------------------------------------------------------

def _ci(values: list[float] | None, digits: int = 3) -> str:
    if values is None:
        return "-"
    return f"[{number(values[0], digits)}, {number(values[1], digits)}]"


def _corr(stats: dict, key: str = "spearman") -> str:
    return f"{number(stats.get(key), 3)} {_ci(stats.get(f'{key}_ci'))}"


def _samples(samples: int) -> str:
    return f"{samples:,}"


def markdown(result: dict, plots: list[str], source: str = "") -> str:
    teacher = result["teacher"]
    lines = ["# The ladder table: how a cheap evaluation ranks students against a long "
             "distillation", ""]
    if source:
        lines += [f"Ladder: `{source}`.", ""]
    lines += [f"{result['students']} students, {result['trainings']} trainings "
              f"({result['failed']} failed); accuracy: {result['metric']} (validation). The "
              f"target is each student's top-rung accuracy, mean of 2 seeds. Intervals: 95% "
              "percentile bootstrap over students, except mean accuracies and gains (Student t "
              "over students) and the best-student differences (t, pooled seed noise).", "",
              "| rung | images x epochs | training samples | x the bottom | median s a "
              "training | hosts |", "|---|---|---|---|---|---|"]
    bottom = result["rungs"][0]["samples"]
    for r in result["rungs"]:
        lines.append(f"| {r['index']} | {r['train_images']:,} x {r['epochs']} | "
                     f"{_samples(r['samples'])} | {r['samples'] / bottom:g} | "
                     f"{r['median_seconds']:.1f} | {', '.join(r['hosts'])} |")
    lines += ["", *_against_top(result), *_gain(result), *_top(result, teacher),
              *_estimator_table(result), *_repeat(result)]
    lines += ["## Figures", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


def _against_top(result: dict) -> list[str]:
    lines = ["## Each rung against the top rung", ""]
    for mode in result["modes"]:
        c = result["ceiling"][mode]
        if "spearman" not in c:
            lines += [f"{mode}: too few students trained twice at the top rung yet.", ""]
            continue
        lines += [f"**{mode}** ({c['n']} students). The top rung's own noise: seed 0 against "
                  f"seed 1 Spearman {_corr(c)}, Kendall {_corr(c, 'kendall')}, mean absolute "
                  f"difference {percent(c['mean_abs_diff'])}; the 2-seed mean's reliability "
                  f"(Spearman-Brown) {number(c['reliability_2'], 3)}, so an estimator that knew "
                  "each student's noise-free top-rung accuracy would reach Spearman about "
                  f"{number(c['max_correlation'], 3)} with this target.", "",
                  "| rung | samples | students | 1 seed: Spearman | Kendall | 2 seeds: Spearman "
                  "| Kendall | the rung's seed-to-seed Spearman |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in result["against_top"][mode]:
            one, two = row["one_seed"], row["two_seeds"]
            lines.append(f"| {row['name']} | {_samples(row['samples'])} | {one['n']} | "
                         f"{_corr(one)} | "
                         f"{_corr(one, 'kendall')} | {_corr(two)} | {_corr(two, 'kendall')} | "
                         f"{number(row['seed_to_seed'], 3)} {_ci(row['seed_to_seed_ci'])} |")
        lines.append("")
    return lines


def _gain(result: dict) -> list[str]:
    lines = [f"## KD gain per rung ({result['teacher']} minus labels only, same student and "
             "seed)", "", "| rung | students | labels only | KD | KD gain [95% CI] | students it "
             "helps |", "|---|---|---|---|---|---|"]
    for row in result["kd_gain"]:
        lines.append(f"| {row['name']} | {row['gain']['n']} | {percent(row['cls_acc']['mean'])} | "
                     f"{percent(row['kd_acc']['mean'])} | {interval(row['gain'])} | "
                     f"{percent(row['helped'], 0)} |")
    return lines + [""]


def _pair_lines(pair: dict, best: dict, a: str, b: str, k: int) -> list[str]:
    if "spearman" not in pair:
        return [f"{a} against {b}: too few students trained twice in both.", ""]
    ci = pair["excess_ci"]
    verdict = ("the interval is above zero: the modes disagree beyond the noise"
               if ci and ci[0] > 0 else "the interval holds zero: no disagreement beyond the "
               "noise shown" if ci else "no interval")
    lines = [f"- {pair.get('n', '?')} students. Rank correlation of the 2-seed means: Spearman "
             f"{_corr(pair)}, Kendall {_corr(pair, 'kendall')}; disattenuated by both modes' seed "
             f"noise {_corr(pair, 'disattenuated')} (1: no disagreement beyond the noise).",
             f"- One seed of each mode against two seeds of one mode: Spearman "
             f"{number(pair['cross_seed'], 3)} against {number(pair['same_mode'], 3)}; the "
             f"difference {signed(pair['excess'])} {_ci(ci)} ({verdict}).",
             f"- Top {k} overlap: {percent(pair['top_overlap'], 0)} between the modes' 2-seed "
             f"means, {percent(pair['top_overlap_cross_seed'], 0)} between one seed of each, "
             f"{percent(pair['top_overlap_same_mode'], 0)} between two seeds of one mode.",
             f"- Mean accuracy difference ({b} minus {a}): {signed(pair['mean_diff'])}."]
    if best:
        same = "the same student" if best["same"] else "different students"
        lines.append(f"- Best students: {a} `{best['best'][a]}`, {b} `{best['best'][b]}` "
                     f"({same}).")
        if not best["same"]:
            for mode in (a, b):
                d = best[mode]
                lines.append(f"  - Under {mode}: {b}'s best minus {a}'s best "
                             f"{signed(d['diff'])} {_ci(d['ci95'], 4)} (seed SD "
                             f"{number(d['seed_sd'], 4)}; a difference under "
                             f"{number(d['detectable'], 4)} is not distinguishable from the "
                             "noise).")
    return lines + [""]


def _top(result: dict, teacher: str) -> list[str]:
    top = result["top"]
    lines = [f"## At the top rung: labels only against KD from {teacher}", ""]
    lines += _pair_lines(top["labels_vs_kd"], top["best"], LABELS, teacher, top["top_k"])
    for other in top["teachers"]:
        b = other["pair"]["b"]
        lines += [f"## At the top rung: {teacher} against {b}", ""]
        lines += _pair_lines(other["pair"], other["best"], teacher, b, top["top_k"])
    return lines


def _estimator_table(result: dict) -> list[str]:
    lines = [f"## Cheap estimators of the top rung's KD accuracy ({result['teacher']})", "",
             "Scored against the top rung's 2-seed mean. Cost: the training samples one "
             "candidate costs, as a share of one top-rung training; '1 seed' estimators are "
             "scored one seed at a time (what a search pays for), averaged over the two. "
             "Negative: the estimator ranks the other way round. The students include each "
             "mode's best and worst at the table's budget, which widen the spread and so every "
             "correlation; the spread column leaves them out. 'Minus the table's proxy': its "
             "Spearman minus that of the benchmark table's own training (the proxy every "
             "search scores candidates by) on the same students, with a paired bootstrap "
             "interval over students; an interval that holds 0 is not distinguishable from "
             "the proxy, and its half-width is about the smallest difference these students "
             "could show.", "",
             "| estimator | family | cost | seeds | Spearman [95% CI] | Kendall [95% CI] | n | "
             "Spearman, latency-spread students only | minus the table's proxy [95% CI] |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in result["estimators"]:
        seeds = "1" if row["kind"] == "one_seed" else "-"
        spread = row.get("spread")
        within = f"{_corr(spread)} (n {spread['n']})" if spread else "-"
        versus = row.get("minus_table_proxy")
        minus = (interval({"mean": versus["difference"], "ci95": versus["ci"]}, 3)
                 if versus and versus["difference"] is not None else "-")
        lines.append(f"| {row['name']} | {row['family']} | {row['cost']:.3g} | {seeds} | "
                     f"{_corr(row)} | {_corr(row, 'kendall')} | {row['n']} | {within} | "
                     f"{minus} |")
    lines += ["", "The best estimator up to each cost (those whose Spearman interval reaches its "
              "value are not distinguishable from it):", "",
              "| cost up to | best estimator | Spearman | not distinguishable from it |",
              "|---|---|---|---|"]
    for cost, best, others in frontier(result["estimators"]):
        lines.append(f"| {cost:.3g} | {best['name']} | {_corr(best)} | "
                     f"{', '.join(others) or '-'} |")
    return lines + [""]


def frontier(rows: list[dict]) -> list[tuple[float, dict, list[str]]]:
    """For each cost an estimator has: the best-scoring estimator costing at most that, and the
    cheaper-or-equal ones whose interval reaches its Spearman."""
    out = []
    for cost in sorted({r["cost"] for r in rows}):
        affordable = [r for r in rows if r["cost"] <= cost and r["spearman"] is not None]
        if not affordable:
            continue
        best = max(affordable, key=lambda r: r["spearman"])
        if out and out[-1][1] is best:
            continue
        others = [r["name"] for r in affordable if r is not best and r["spearman_ci"]
                  and r["spearman_ci"][1] >= best["spearman"]]
        out.append((cost, best, others))
    return out


def _repeat(result: dict) -> list[str]:
    rows = result["repeat_of_table"]
    if not rows:
        return []
    lines = ["## The bottom rung repeats the benchmark table's trainings", "",
             "Same students, budget, seed and code as the table; a training repeats exactly on "
             "the host that made it, and on another CPU the same seed is another draw of the "
             "noise.", "",
             "| mode | seed | students | same host | equal accuracies | Spearman | mean abs "
             "difference |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['seed']} | {r['n']} | {r['same_host']} | "
                     f"{r['equal']} | {number(r['spearman'], 3)} | "
                     f"{percent(r['mean_abs_diff'])} |")
    return lines + [""]


# --- figures ------------------------------------------------------------------------------------

def _errorbar(ax, x, stats: list[dict], label: str, **style) -> None:
    kept = [(x_, s) for x_, s in zip(x, stats) if s["spearman"] is not None]
    if not kept:  # too few students at every rung yet
        return
    x, stats = [x_ for x_, _ in kept], [s for _, s in kept]
    y = [s["spearman"] for s in stats]
    low = [y_ - s["spearman_ci"][0] if s["spearman_ci"] else 0 for y_, s in zip(y, stats)]
    high = [s["spearman_ci"][1] - y_ if s["spearman_ci"] else 0 for y_, s in zip(y, stats)]
    ax.errorbar(x, y, yerr=[low, high], label=label, capsize=3, marker="o", **style)


def _rank_against_cost(result: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, mode in enumerate(result["modes"]):
        rows = result["against_top"][mode]
        if not rows:
            continue
        x = np.array([r["samples"] for r in rows], dtype=float)
        colour = f"C{i}"
        _errorbar(ax, x, [r["one_seed"] for r in rows], f"{mode}, 1 seed", color=colour)
        _errorbar(ax, x * 1.08, [r["two_seeds"] for r in rows], f"{mode}, 2 seeds",
                  color=colour, linestyle="--")
        limit = result["ceiling"][mode].get("max_correlation")
        if limit:
            ax.axhline(limit, color=colour, linestyle=":", linewidth=1,
                       label=f"{mode}: noise-free limit")
    ax.set_xscale("log")
    ax.set_xlabel("training samples per candidate")
    ax.set_ylabel("Spearman with the top rung (2-seed mean)")
    ax.set_title("How a cheaper rung ranks the students")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _kd_gain(result: dict, path: Path) -> Path:
    rows = result["kd_gain"]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    x = [r["samples"] for r in rows]
    y = [r["gain"]["mean"] * 100 for r in rows]
    err = [[(r["gain"]["mean"] - r["gain"]["ci95"][0]) * 100 if r["gain"]["ci95"] else 0
            for r in rows],
           [(r["gain"]["ci95"][1] - r["gain"]["mean"]) * 100 if r["gain"]["ci95"] else 0
            for r in rows]]
    ax.errorbar(x, y, yerr=err, marker="o", capsize=3)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel(f"KD ({result['teacher']}) minus labels only, points")
    ax.set_title("Where distillation starts to help (mean over students, 95% CI)")
    return _save(fig, path)


def _estimators(result: dict, path: Path) -> Path:
    rows = [r for r in result["estimators"] if r["spearman"] is not None][::-1]
    fig, ax = plt.subplots(figsize=(10, max(3, 0.24 * len(rows) + 1)))
    families = sorted({r["family"] for r in rows})
    for i, r in enumerate(rows):
        ci = r["spearman_ci"] or [r["spearman"], r["spearman"]]
        colour = f"C{families.index(r['family']) % 10}"
        ax.plot(ci, [i, i], color=colour, linewidth=2)
        ax.plot(r["spearman"], i, "o", color=colour)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['name']} (cost {r['cost']:.2g})" for r in rows], fontsize=7)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_xlabel("Spearman with the top rung's KD accuracy (95% CI)")
    ax.set_title("Cheap estimators (cost: a share of one top-rung training)", fontsize=9)
    handles = [plt.Line2D([], [], color=f"C{i % 10}", marker="o", label=f)
               for i, f in enumerate(families)]
    ax.legend(handles=handles, fontsize=7, loc="lower left")
    return _save(fig, path)


def _top_scatter(ladder: Ladder, teacher: str, path: Path) -> Path | None:
    cls, kd = _means(ladder.at(-1), LABELS), _means(ladder.at(-1), teacher)
    archs = [a for a in cls if a in kd]
    if not archs:
        return None
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    x, y = [cls[a] for a in archs], [kd[a] for a in archs]
    ax.scatter(x, y, s=14)
    low, high = min(x + y), max(x + y)
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("labels only (2-seed mean)")
    ax.set_ylabel(f"KD from {teacher} (2-seed mean)")
    ax.set_title("Top rung: each student")
    return _save(fig, path)


def _means(top: Table, mode: str) -> dict[str, float]:
    archs, t = target_columns(top, mode)
    return dict(zip(archs, t.mean(axis=1)))


def _curves(ladder: Ladder, modes: list[str], path: Path) -> Path | None:
    top = ladder.at(-1)
    fig, axes = plt.subplots(1, len(modes), figsize=(4.2 * len(modes), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, mode in zip(axes, modes):
        for r in top.filter(mode=mode, seed=0):
            if r["curve"]:
                acc = r["curve"]["val_acc"]
                ax.plot(range(1, len(acc) + 1), acc, linewidth=0.8, alpha=0.6)
        ax.set_title(f"{mode}, seed 0")
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    return _save(fig, path)
