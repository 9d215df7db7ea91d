"""What the ladder table answers, as numbers: how faithfully each cheap evaluation ranks the
students as the top rung (the longest distillation) does, set against the top rung's own noise.

The target is a student's validation accuracy at the top rung, the mean of its two seeds, under
each mode (labels only, KD from the main teacher). Every rank correlation has a 95% percentile
bootstrap interval over students (the unit a ranking varies over); a student enters a statistic
only when every value it needs was measured (a ladder being built still reports).

* **Rungs against the top**, per mode: Spearman and Kendall of each rung's accuracy (one seed, as
  a search pays for, and the mean of two) with the top rung's two-seed mean, beside the top
  rung's seed-to-seed correlation ``r1``, its Spearman-Brown reliability for the two-seed mean
  ``R2 = 2 r1 / (1 + r1)`` and ``sqrt(R2)``: the correlation an estimator that knew every
  student's noise-free top-rung accuracy would reach with the noisy two-seed target.
* **KD gain per rung**: KD minus labels-only accuracy of the same student and seed, over
  students (Student t interval): the budget from which distillation helps.
* **At the top rung**: labels-only against KD ranking (the AKD paper's first question) with the
  disattenuated correlation and top-k overlaps against the seed-to-seed overlap, each mode's
  best student and whether the two differ beyond the seed noise; the teacher pair where a second
  teacher was trained at the top.
* **Cheap estimators** of the top rung's KD accuracy, each scored the same way with its cost in
  training samples per candidate: each lower rung's KD and labels-only accuracy, the benchmark
  table's own proxy accuracy, the sum of training losses (Ru et al., NeurIPS 2021) of a rung's
  training and of the top rung's first epochs, the top rung's accuracy after its first epochs,
  a power-law extrapolation of that curve, params, MACs and latency, and the DaSS-style predictor
  (fitted on the table, and refitted on the top rung of the other students: k-fold, never scored
  on a student it was fitted on).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Sequence

import numpy as np
from scipy import optimize, stats as scipy_stats

from akd.common import kendall, mean_ci, spearman
from akd.predict import ARCH_PARTS, KDPredictor, NeuralPredictor, Predictor, TreePredictor
from akd.tables import LABELS, Ladder, Table

from .analysis import (BOOTSTRAP_RESAMPLES, bootstrap_ci, compare_modes, kd_gains, reliability,
                       seed_matrix)

SEEDS = (0, 1)
TOP_K = 5  # the top-k sets compared at the top rung (5 of 32 students: about the top 15%)
FOLDS = 8  # of the predictor refitted on the top rung
MIN_STUDENTS = 5  # fewer students give no rank correlation (a ladder still being built)
TRUNCATED_EPOCHS = (1, 2, 4, 8)  # the top rung's first epochs, as cheap estimators
# the predictor's two models set for a few dozen examples: trees whose leaves may hold 3 (the
# default 20 cannot split fewer than 40 students), and the DaSS-style network as it is
SMALL_DATA_MODELS: dict[str, Callable[[], Predictor]] = {
    "trees": lambda: TreePredictor(min_samples_leaf=3), "neural": NeuralPredictor}


# --- the statistics of one estimator against the two-seed target ---------------------------------

def _target_statistics(corr: Callable) -> dict[str, Callable[..., float | None]]:
    """Statistics of an estimator against the target's two seed columns ``t0, t1``: the
    estimator given as one column (``e``) or as two seed columns (``e0, e1``: one seed at a
    time, averaged, and their mean)."""
    def fixed(e, t0, t1):
        return corr(e, (t0 + t1) / 2)

    def one_seed(e0, e1, t0, t1):
        parts = [corr(e0, (t0 + t1) / 2), corr(e1, (t0 + t1) / 2)]
        return None if None in parts else sum(parts) / 2

    def two_seeds(e0, e1, t0, t1):
        return corr((e0 + e1) / 2, (t0 + t1) / 2)

    return {"fixed": fixed, "one_seed": one_seed, "two_seeds": two_seeds}


def score(columns: Sequence[np.ndarray], kind: str,
          resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """Spearman and Kendall of an estimator (``columns``: its column(s) then the target's two
    seed columns, paired by student) with the target's two-seed mean, each with its interval."""
    out = {"n": len(columns[0])}
    for name, corr in (("spearman", spearman), ("kendall", kendall)):
        statistic = _target_statistics(corr)[kind]
        # a rank correlation of a few students is +-1 by chance: say nothing below MIN_STUDENTS
        out[name] = statistic(*columns) if len(columns[0]) >= MIN_STUDENTS else None
        out[f"{name}_ci"] = bootstrap_ci(statistic, columns, resamples=resamples)
    return out


def target_columns(top: Table, mode: str, metric: str = "val_acc"
                   ) -> tuple[list[str], np.ndarray]:
    """The students trained twice at the top rung under ``mode``, and their (students x 2)
    accuracies."""
    archs, arrays = seed_matrix(top, [mode], SEEDS, metric)
    return archs, arrays[mode]


def ceiling(top: Table, mode: str, metric: str = "val_acc",
            resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """The top rung's own noise: seed-to-seed Spearman ``r1`` (with its interval), Kendall, the
    two-seed reliability ``R2`` and ``sqrt(R2)`` (see the module)."""
    archs, t = target_columns(top, mode, metric)
    if len(archs) < 3:
        return {"mode": mode, "n": len(archs)}
    r1 = spearman(t[:, 0], t[:, 1])
    r2 = reliability(r1, 2)
    return {"mode": mode, "n": len(archs), "spearman": r1,
            "spearman_ci": bootstrap_ci(spearman, [t[:, 0], t[:, 1]], resamples=resamples),
            "kendall": kendall(t[:, 0], t[:, 1]),
            "kendall_ci": bootstrap_ci(kendall, [t[:, 0], t[:, 1]], resamples=resamples),
            "reliability_2": r2, "max_correlation": math.sqrt(r2) if r2 else None,
            "mean_abs_diff": float(np.mean(np.abs(t[:, 0] - t[:, 1])))}


# --- rungs against the top ------------------------------------------------------------------------

def _paired(estimator: dict[str, Sequence[float]], target: tuple[list[str], np.ndarray]
            ) -> list[np.ndarray]:
    """The estimator's columns (arch -> one value or seed values) and the target's two seed
    columns over the students both have."""
    archs, t = target
    keep = [i for i, a in enumerate(archs) if a in estimator]
    if not keep:
        return [np.zeros(0), np.zeros(0), np.zeros(0)]
    values = np.array([np.atleast_1d(estimator[archs[i]]) for i in keep], dtype=float)
    return [*values.T, t[keep, 0], t[keep, 1]]


def seed_values(table: Table, mode: str, metric: str = "val_acc") -> dict[str, list[float]]:
    """Student -> its seed 0 and seed 1 ``metric`` under ``mode`` (students trained twice)."""
    archs, arrays = seed_matrix(table, [mode], SEEDS, metric)
    return {a: list(arrays[mode][i]) for i, a in enumerate(archs)}


def rungs_against_top(ladder: Ladder, mode: str, metric: str = "val_acc",
                      resamples: int = BOOTSTRAP_RESAMPLES) -> list[dict]:
    """Each lower rung's ranking (one seed, two seeds) against the top rung's, under ``mode``;
    and the rung's own seed-to-seed Spearman."""
    target = target_columns(ladder.at(-1), mode, metric)
    rows = []
    for rung in ladder.rungs[:-1]:
        values = seed_values(ladder.at(rung.index), mode, metric)
        columns = _paired(values, target)
        own = [np.array([v[0] for v in values.values()]),
               np.array([v[1] for v in values.values()])]
        rows.append({"rung": rung.index, "name": rung.name, "samples": rung.samples,
                     "one_seed": score(columns, "one_seed", resamples),
                     "two_seeds": score(columns, "two_seeds", resamples),
                     "seed_to_seed": spearman(*own) if len(values) >= MIN_STUDENTS else None,
                     "seed_to_seed_ci": bootstrap_ci(spearman, own, resamples=resamples)})
    return rows


def kd_gain_by_rung(ladder: Ladder, teacher: str, metric: str = "val_acc") -> list[dict]:
    """Per rung: the KD gain over students (mean, t interval), the share of students it helps,
    and each mode's mean accuracy."""
    rows = []
    for rung in ladder.rungs:
        table = ladder.at(rung.index)
        gains = list(kd_gains(table, teacher, metric).values())
        rows.append({"rung": rung.index, "name": rung.name, "samples": rung.samples,
                     "gain": mean_ci(gains),
                     "helped": sum(g > 0 for g in gains) / len(gains) if gains else None,
                     "cls_acc": mean_ci(list(table.filter(mode=LABELS).accuracy(metric).values())),
                     "kd_acc": mean_ci(list(table.filter(mode=teacher).accuracy(metric).values()))})
    return rows


# --- at the top rung ------------------------------------------------------------------------------

def best_students(top: Table, mode_a: str, mode_b: str, metric: str = "val_acc") -> dict:
    """Each mode's best student (highest two-seed mean) and, under each mode, how far apart the
    two are: the difference of their two-seed means with a t interval from the seed noise
    pooled over the students both modes have (a mean of two seeds has variance s^2 / 2, so the
    difference of two has s^2). The winners are maxima: their own accuracies are biased up."""
    out: dict = {}
    winners = {}
    full = {mode: target_columns(top, mode, metric) for mode in (mode_a, mode_b)}
    # on the students both modes have (a teacher still being trained has fewer)
    shared = set(full[mode_a][0]) & set(full[mode_b][0])
    if len(shared) < 2:
        return {}
    columns = {}
    for mode, (archs, t) in full.items():
        keep = [i for i, arch in enumerate(archs) if arch in shared]
        columns[mode] = ([archs[i] for i in keep], t[keep])
    for mode, (archs, t) in columns.items():
        winners[mode] = archs[int(np.argmax(t.mean(axis=1)))]
    out["best"] = winners
    out["same"] = winners[mode_a] == winners[mode_b]
    out["n"] = len(shared)
    for mode in (mode_a, mode_b):
        archs, t = columns[mode]
        pooled = float(np.sqrt(np.mean(np.var(t, axis=1, ddof=1))))
        means = dict(zip(archs, t.mean(axis=1)))
        diff = float(means[winners[mode_b]] - means[winners[mode_a]])
        half = float(scipy_stats.t.ppf(0.975, len(archs))) * pooled
        out[mode] = {"acc": {m: float(means[winners[m]]) for m in winners}, "diff": diff,
                     "ci95": [diff - half, diff + half], "seed_sd": pooled,
                     "detectable": half}
    return out


def at_top(ladder: Ladder, teacher: str, metric: str = "val_acc",
           resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    top = ladder.at(-1)
    fraction = TOP_K / max(1, len(top.archs))
    out = {"labels_vs_kd": compare_modes(top, LABELS, teacher, metric, resamples, fraction),
           "best": best_students(top, LABELS, teacher, metric), "top_k": TOP_K, "teachers": []}
    others = [m for m in top.teachers if m != teacher and len(top.seeds(m)) >= 2]
    for other in others:
        out["teachers"].append({"pair": compare_modes(top, teacher, other, metric, resamples,
                                                      fraction),
                                "best": best_students(top, teacher, other, metric)})
    return out


# --- cheap estimators of the top rung's KD accuracy ------------------------------------------------

def loss_sum(curve: dict, epochs: int | None = None, key: str = "train_loss",
             last: bool = False) -> float:
    """Ru et al.'s sum of training losses: over the first ``epochs`` of ``curve`` (all when
    None), or with ``last`` over the last of those epochs only (their SoTL-E, E = 1). Each entry
    of the curve averages ``loss_every`` steps, the epoch's last entry the remainder."""
    steps = curve["steps_per_epoch"]
    every = curve["loss_every"]
    epochs = len(curve[key]) if epochs is None else epochs
    chosen = curve[key][epochs - 1:epochs] if last else curve[key][:epochs]
    total = 0.0
    for entries in chosen:
        sizes = [min(every, steps - i * every) for i in range(len(entries))]
        total += sum(size * value for size, value in zip(sizes, entries))
    return total


def extrapolate(accuracy: Sequence[float], until: int) -> float:
    """The validation accuracy at epoch ``until`` from a power law ``c - a * epoch^-b`` fitted
    to ``accuracy`` (epochs 1, 2, ...; Domhan et al.'s pow3); the last value when the fit fails
    or has fewer points than parameters."""
    x = np.arange(1, len(accuracy) + 1, dtype=float)
    y = np.asarray(accuracy, dtype=float)
    if len(y) < 3:
        return float(y[-1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (c, a, b), _ = optimize.curve_fit(lambda e, c, a, b: c - a * e ** -b, x, y,
                                              p0=(min(1.0, y[-1] + 0.05), 0.1, 0.5),
                                              bounds=([0, -1, 0], [1, 1, 5]), maxfev=2000)
    except (RuntimeError, ValueError):
        return float(y[-1])
    return float(min(1.0, max(0.0, c - a * until ** -b)))


def _curves(table: Table, mode: str) -> dict[str, dict[int, dict]]:
    """Student -> seed -> the training's curve (with ``steps_per_epoch``), for ``mode``."""
    out: dict[str, dict[int, dict]] = {}
    for r in table.filter(mode=mode):
        if r["curve"] is not None and r["seed"] in SEEDS:
            steps = math.ceil(r["budget"]["train_images"] / r["budget"]["batch_size"])
            out.setdefault(r["arch"], {})[r["seed"]] = {**r["curve"], "steps_per_epoch": steps}
    return {a: c for a, c in out.items() if len(c) == len(SEEDS)}


def _per_seed(curves: dict[str, dict[int, dict]], value: Callable[[dict], float]
              ) -> dict[str, list[float]]:
    return {a: [value(c[s]) for s in SEEDS] for a, c in curves.items()}


def estimators(ladder: Ladder, teacher: str, table: Table | None = None, space=None,
               metric: str = "val_acc") -> list[dict]:
    """Every cheap estimator: ``name``, ``family``, ``samples`` (training samples a candidate
    costs, for one seed), ``kind`` (``one_seed``: values per seed; ``fixed``: one value) and
    ``values`` (student -> value(s); higher predicts a better student)."""
    rungs = ladder.rungs
    top_rung = rungs[-1]
    out = []

    def add(name, family, samples, kind, values):
        out.append({"name": name, "family": family, "samples": samples, "kind": kind,
                    "values": values})

    for rung in rungs[:-1]:
        at = ladder.at(rung.index)
        add(f"{rung.name} KD accuracy", "rung accuracy", rung.samples, "one_seed",
            seed_values(at, teacher, metric))
        add(f"{rung.name} labels-only accuracy", "rung accuracy (labels only)", rung.samples,
            "one_seed", seed_values(at, LABELS, metric))
        kd = _curves(at, teacher)
        add(f"{rung.name} KD loss sum", "sum of training losses", rung.samples, "one_seed",
            _per_seed(kd, lambda c: -loss_sum(c)))
        add(f"{rung.name} KD loss sum, CE part", "sum of training losses", rung.samples,
            "one_seed", _per_seed(kd, lambda c: -loss_sum(c, key="train_ce")))
        add(f"{rung.name} labels-only loss sum", "sum of training losses", rung.samples,
            "one_seed", _per_seed(_curves(at, LABELS), lambda c: -loss_sum(c)))
    top_curves = _curves(ladder.at(-1), teacher)
    for epochs in (e for e in TRUNCATED_EPOCHS if e < top_rung.epochs):
        samples = top_rung.train_images * epochs
        head = f"top rung's first {epochs} epoch{'s' if epochs > 1 else ''}"
        add(f"{head}: KD accuracy", "top rung cut short", samples, "one_seed",
            _per_seed(top_curves, lambda c, e=epochs: c["val_acc"][e - 1]))
        add(f"{head}: KD loss sum", "sum of training losses", samples, "one_seed",
            _per_seed(top_curves, lambda c, e=epochs: -loss_sum(c, e)))
        if epochs > 1:
            add(f"{head}: KD loss sum of the last epoch", "sum of training losses", samples,
                "one_seed", _per_seed(top_curves, lambda c, e=epochs: -loss_sum(c, e, last=True)))
        if epochs >= 4:
            add(f"{head}: power law extrapolated", "learning-curve extrapolation", samples,
                "one_seed", _per_seed(top_curves, lambda c, e=epochs: extrapolate(
                    c["val_acc"][:e], top_rung.epochs)))
    records = {r["arch"]: r for r in ladder}
    for name, key in (("params", "params"), ("MACs", "macs"), ("latency", "latency_ms")):
        add(name, "cost", 0, "fixed", {a: r[key] for a, r in records.items()})
    if table is not None and len(table):
        budget = table.records[0]["budget"]
        add(f"benchmark table: {teacher} accuracy", "benchmark table",
            budget["train_images"] * budget["epochs"], "one_seed",
            seed_values(table, teacher, metric))
        if space is not None:
            add("predictor fitted on the table", "predictor", 0, "fixed",
                table_predictor(table, ladder, teacher, space, metric))
    if space is not None:
        for name, model in SMALL_DATA_MODELS.items():
            add(f"predictor refitted on the top rung ({name})", "predictor", 0, "fixed",
                top_rung_predictor(ladder, teacher, space, metric, model=model))
    return out



def table_predictor(table: Table, ladder: Ladder, teacher: str, space,
                    metric: str = "val_acc") -> dict[str, float]:
    """The DaSS-style predictor (gradient-boosted trees on the architecture encoding and cost)
    fitted on the table's ``teacher`` trainings of every student but the ladder's, predicting
    the ladder's: what screening with the shipped table would rank by."""
    held = set(ladder.at(-1).archs)
    train = [r for r in table.filter(mode=teacher) if r["arch"] not in held]
    if not train:
        return {}
    predictor = KDPredictor(space, {}, model="trees", parts=ARCH_PARTS).fit(train, metric)
    first = {r["arch"]: r for r in ladder}
    archs = ladder.at(-1).archs
    return dict(zip(archs, predictor.predict(archs, teacher, [first[a] for a in archs])))


def top_rung_predictor(ladder: Ladder, teacher: str, space, metric: str = "val_acc",
                       folds: int = FOLDS, seed: int = 0,
                       model: Callable[[], Predictor] = SMALL_DATA_MODELS["trees"]
                       ) -> dict[str, float]:
    """The predictor (``model()``, a new one per fold) fitted on the top rung's ``teacher``
    accuracy of the other folds' students (seeded k-fold over students): each student's
    prediction comes from a fit that never saw it."""
    top = ladder.at(-1).filter(mode=teacher)
    archs = top.archs
    if len(archs) < folds:
        return {}
    order = np.random.default_rng(seed).permutation(len(archs))
    first = {r["arch"]: r for r in top}
    out = {}
    for part in np.array_split(order, folds):
        held = {archs[i] for i in part}
        predictor = KDPredictor(space, {}, model=model(), parts=ARCH_PARTS).fit(
            [r for r in top if r["arch"] not in held], metric)
        names = [archs[i] for i in part]
        out.update(zip(names, predictor.predict(names, teacher, [first[a] for a in names])))
    return {a: float(v) for a, v in out.items()}


def difference(a: dict, b: dict, target: tuple[list[str], np.ndarray],
               resamples: int = BOOTSTRAP_RESAMPLES) -> dict | None:
    """Estimator ``a``'s Spearman with the target minus estimator ``b``'s, on the students both
    have, with its paired bootstrap interval over students (the same students resampled for
    both: their errors share the target's noise). None below :data:`MIN_STUDENTS`."""
    archs, t = target
    keep = [i for i, arch in enumerate(archs) if arch in a["values"] and arch in b["values"]]
    if len(keep) < MIN_STUDENTS:
        return None
    columns_a = np.array([np.atleast_1d(a["values"][archs[i]]) for i in keep], dtype=float).T
    columns_b = np.array([np.atleast_1d(b["values"][archs[i]]) for i in keep], dtype=float).T
    score_a = _target_statistics(spearman)[a["kind"]]
    score_b = _target_statistics(spearman)[b["kind"]]
    split = len(columns_a)

    def minus(*columns):
        *own, t0, t1 = columns
        first, second = score_a(*own[:split], t0, t1), score_b(*own[split:], t0, t1)
        return None if first is None or second is None else first - second
    columns = [*columns_a, *columns_b, t[keep, 0], t[keep, 1]]
    return {"n": len(keep), "difference": minus(*columns),
            "ci": bootstrap_ci(minus, columns, resamples=resamples)}


def score_estimators(ladder: Ladder, teacher: str, table: Table | None = None, space=None,
                     metric: str = "val_acc", resamples: int = BOOTSTRAP_RESAMPLES,
                     spread: Collection[str] = ()) -> list[dict]:
    """Each estimator's scores against the top rung's two-seed KD accuracy, best first; with
    ``spread`` (the students chosen for their latency, not for being a mode's best or worst),
    also its Spearman over those alone (``spread``), where the extremes cannot carry it."""
    target = target_columns(ladder.at(-1), teacher, metric)
    archs, t = target
    keep = [i for i, a in enumerate(archs) if a in set(spread)]
    within = ([archs[i] for i in keep], t[keep])
    top = ladder.rungs[-1].samples
    rows = []
    every = estimators(ladder, teacher, table, space, metric)
    # the proxy the table (and so every search) scores candidates by: what a cheap estimator
    # must beat, judged on the same students
    proxy = next((e for e in every if e["family"] == "benchmark table"), None)
    for estimator in every:
        columns = _paired(estimator["values"], target)
        if len(columns[0]) < 3:
            continue
        row = {**{k: v for k, v in estimator.items() if k != "values"},
               "cost": estimator["samples"] / top, **score(columns, estimator["kind"], resamples)}
        columns = _paired(estimator["values"], within)
        if len(columns[0]) >= 5:
            statistic = _target_statistics(spearman)[estimator["kind"]]
            row["spread"] = {"n": len(columns[0]), "spearman": statistic(*columns),
                             "spearman_ci": bootstrap_ci(statistic, columns, resamples=resamples)}
        if proxy is not None and estimator is not proxy:
            row["minus_table_proxy"] = difference(estimator, proxy, target, resamples)
        rows.append(row)
    return sorted(rows, key=lambda r: -(r["spearman"] if r["spearman"] is not None else -2))


def repeat_of_table(ladder: Ladder, table: Table, metric: str = "val_acc") -> list[dict]:
    """The bottom rung against the benchmark table's trainings of the same students at the same
    budget and seed, per mode: equal on the host that built the table, another draw of the noise
    on another (the records name each training's host)."""
    bottom = ladder.at(0)
    rows = []
    for mode in bottom.modes:
        for s in SEEDS:
            mine = bottom.filter(mode=mode, seed=s)
            theirs = {r["arch"]: r for r in table.filter(mode=mode, seed=s)}
            pairs = [(r[metric], theirs[r["arch"]][metric], r["host"] == theirs[r["arch"]]["host"])
                     for r in mine if r["arch"] in theirs]
            if len(pairs) < 3:
                continue
            x, y, same_host = map(list, zip(*pairs))
            rows.append({"mode": mode, "seed": s, "n": len(pairs), "spearman": spearman(x, y),
                         "equal": sum(a == b for a, b in zip(x, y)),
                         "same_host": sum(same_host),
                         "mean_abs_diff": float(np.mean(np.abs(np.array(x) - np.array(y))))})
    return rows


def analyze(ladder: Ladder, table: Table | None = None, space=None, metric: str = "val_acc",
            resamples: int = BOOTSTRAP_RESAMPLES, spread: Collection[str] = ()) -> dict:
    """Everything the ladder's report shows (see the module); ``spread``: the students chosen
    for their latency alone (``ladder.json``), scored apart too."""
    modes = [m for m in ladder.at(-1).modes if m == LABELS or m in ladder.at(0).modes]
    teacher = next(m for m in modes if m != LABELS)
    costs = {}
    for rung in ladder.rungs:
        seconds = [r["seconds"] for r in ladder.at(rung.index)]
        costs[rung.name] = {"samples": rung.samples, "median_seconds": float(np.median(seconds)),
                            "hosts": sorted({r["host"] for r in ladder.at(rung.index)})}
    return {
        "metric": metric, "teacher": teacher, "modes": modes,
        "students": len({r["arch"] for r in ladder}), "trainings": len(ladder),
        "failed": sum(r["status"] != "ok" for r in ladder),
        "rungs": [{"index": r.index, "name": r.name, "train_images": r.train_images,
                   "epochs": r.epochs, "samples": r.samples, **costs[r.name]}
                  for r in ladder.rungs],
        "ceiling": {m: ceiling(ladder.at(-1), m, metric, resamples) for m in modes},
        "against_top": {m: rungs_against_top(ladder, m, metric, resamples) for m in modes},
        "kd_gain": kd_gain_by_rung(ladder, teacher, metric),
        "top": at_top(ladder, teacher, metric, resamples),
        "estimators": score_estimators(ladder, teacher, table, space, metric, resamples,
                                       spread),
        "repeat_of_table": repeat_of_table(ladder, table, metric) if table is not None else [],
    }
