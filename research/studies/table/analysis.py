"""What the benchmark table answers, as numbers: the AKD paper's questions set against the noise.

* The noise ceiling of a mode (labels only, or KD from one teacher): how well two seeds of the
  same training agree on the ranking of the students (Spearman, Kendall).
* Mode against mode (labels vs KD, teacher vs teacher): the rank correlation of the students'
  mean accuracy over seeds, with a bootstrap 95% interval over students, and the same correlation
  disattenuated by the noise ceilings (Spearman's correction: ``r / sqrt(R_a * R_b)``, where
  ``R`` is the reliability of a mean of ``k`` seeds, ``k r1 / (1 + (k - 1) r1)`` from the
  seed-to-seed correlation ``r1`` by Spearman-Brown). A disattenuated value near 1 says the two
  modes rank the students alike up to the noise.
* The like-for-like test: the correlation of one seed of mode A with the *other* seed of mode B
  against the correlation of two seeds of one mode; the difference (same-mode minus cross-mode)
  with its bootstrap interval says whether the modes disagree more than two seeds do.
* The top-10% sets: their overlap between modes, against the overlap two seeds of one mode reach.
* Which choices KD favours: per decision field and value, the mean KD gain (KD minus labels-only
  accuracy of the same student and seed) over the stages that take it, with a bootstrap interval;
  and the gain's rank correlation with params, MACs and latency.

Every interval resamples students (``scipy.stats.bootstrap``, percentile method, a fixed seed),
so numbers are reproducible from the table alone.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as scipy_stats

from akd.common import CONFIDENCE, kendall, mean_ci, spearman
from akd.tables import LABELS, Table

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
TOP_FRACTION = 0.10


def bootstrap_ci(statistic: Callable[..., float], samples: Sequence[Sequence[float]],
                 seed: int = BOOTSTRAP_SEED,
                 resamples: int = BOOTSTRAP_RESAMPLES) -> list[float] | None:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling the paired samples'
    positions (students) together; None when it is undefined (too few students, or a statistic
    that is undefined on most resamples)."""
    arrays = [np.asarray(s, dtype=float) for s in samples]
    if len(arrays[0]) < 3:
        return None

    def defined(*resampled: np.ndarray) -> float:
        value = statistic(*resampled)
        return math.nan if value is None else value

    with warnings.catch_warnings():  # a degenerate resample is None above, and said so below
        warnings.simplefilter("ignore")
        result = scipy_stats.bootstrap(arrays, defined, paired=True, vectorized=False,
                                       n_resamples=resamples, method="percentile",
                                       confidence_level=CONFIDENCE,
                                       rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return None if math.isnan(low) or math.isnan(high) else [float(low), float(high)]


def reliability(seed_correlation: float | None, seeds: int) -> float | None:
    """Spearman-Brown: the reliability of a mean of ``seeds`` trainings whose single trainings
    correlate ``seed_correlation``; None when it is undefined or not positive."""
    if seed_correlation is None or seed_correlation <= 0:
        return None
    return seeds * seed_correlation / (1 + (seeds - 1) * seed_correlation)


def disattenuate(correlation: float | None, reliability_a: float | None,
                 reliability_b: float | None) -> float | None:
    """Spearman's correction for attenuation; None when a part is undefined. It may exceed 1
    when the noise estimate is itself noisy: read that as "no disagreement beyond the noise"."""
    if correlation is None or not reliability_a or not reliability_b:
        return None
    return correlation / math.sqrt(reliability_a * reliability_b)


def top_overlap(x: Sequence[float], y: Sequence[float], fraction: float = TOP_FRACTION) -> float:
    """The share of the top ``fraction`` of students by ``x`` that are also in the top by ``y``
    (ties broken by position)."""
    k = max(1, round(fraction * len(x)))
    top_x = set(sorted(range(len(x)), key=lambda i: (-x[i], i))[:k])
    top_y = set(sorted(range(len(y)), key=lambda i: (-y[i], i))[:k])
    return len(top_x & top_y) / k


# --- arrays out of the table --------------------------------------------------------------------

def seed_matrix(table: Table, modes: Sequence[str], seeds: Sequence[int],
                metric: str = "val_acc") -> tuple[list[str], dict[str, np.ndarray]]:
    """The students with a successful training for every ``mode`` and ``seed``, and per mode an
    array (students x seeds) of ``metric``."""
    values = {(r["mode"], r["seed"], r["arch"]): r[metric] for r in table.filter()
              if r["mode"] in modes and r["seed"] in seeds and r[metric] is not None}
    archs = [a for a in table.archs
             if all((m, s, a) in values for m in modes for s in seeds)]
    return archs, {m: np.array([[values[(m, s, a)] for s in seeds] for a in archs])
                   for m in modes}


def noise_ceiling(table: Table, mode: str, metric: str = "val_acc",
                  resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """Seed 0 against seed 1 within ``mode``: Spearman, Kendall (each with an interval), the
    top-10% overlap, and the mean absolute accuracy difference of a student's two seeds."""
    archs, arrays = seed_matrix(table, [mode], [0, 1], metric)
    a = arrays[mode]
    if len(archs) < 2:
        return {"mode": mode, "n": len(archs), "spearman": None, "kendall": None,
                "spearman_ci": None, "kendall_ci": None, "top_overlap": None,
                "mean_abs_diff": None}
    x, y = a[:, 0], a[:, 1]
    return {"mode": mode, "n": len(archs), "spearman": spearman(x, y), "kendall": kendall(x, y),
            "spearman_ci": bootstrap_ci(spearman, [x, y], resamples=resamples),
            "kendall_ci": bootstrap_ci(kendall, [x, y], resamples=resamples),
            "top_overlap": top_overlap(x, y), "mean_abs_diff": float(np.mean(np.abs(x - y)))}


def _pair_statistics() -> dict[str, Callable[..., float | None]]:
    """Statistics of two modes over students, each a function of the four seed columns
    (a0, a1, b0, b1), so that one bootstrap resamples them together."""
    def mean_corr(a0, a1, b0, b1, corr=spearman):
        return corr((a0 + a1) / 2, (b0 + b1) / 2)

    def dis(a0, a1, b0, b1):
        return disattenuate(mean_corr(a0, a1, b0, b1), reliability(spearman(a0, a1), 2),
                            reliability(spearman(b0, b1), 2))

    def cross(a0, a1, b0, b1):  # one seed of each mode, never the same seed twice
        parts = [spearman(a0, b1), spearman(a1, b0)]
        return None if None in parts else sum(parts) / 2

    def same(a0, a1, b0, b1):
        parts = [spearman(a0, a1), spearman(b0, b1)]
        return None if None in parts else sum(parts) / 2

    def excess(a0, a1, b0, b1):  # how much more two seeds of one mode agree than two modes
        s, c = same(a0, a1, b0, b1), cross(a0, a1, b0, b1)
        return None if s is None or c is None else s - c

    return {"spearman": mean_corr,
            "kendall": lambda a0, a1, b0, b1: mean_corr(a0, a1, b0, b1, corr=kendall),
            "disattenuated": dis, "cross_seed": cross, "same_mode": same, "excess": excess}


def compare_modes(table: Table, mode_a: str, mode_b: str, metric: str = "val_acc",
                  resamples: int = BOOTSTRAP_RESAMPLES, fraction: float = TOP_FRACTION) -> dict:
    """Mode ``a`` against mode ``b`` over the students trained twice in both (see the module);
    the top sets are the best ``fraction`` of the students."""
    archs, arrays = seed_matrix(table, [mode_a, mode_b], [0, 1], metric)
    result: dict = {"a": mode_a, "b": mode_b, "n": len(archs)}
    if len(archs) < 3:
        return result
    a, b = arrays[mode_a], arrays[mode_b]
    columns = [a[:, 0], a[:, 1], b[:, 0], b[:, 1]]
    for name, statistic in _pair_statistics().items():
        result[name] = statistic(*columns)
        result[f"{name}_ci"] = bootstrap_ci(statistic, columns, resamples=resamples)
    mean_a, mean_b = a.mean(axis=1), b.mean(axis=1)
    result["top_overlap"] = top_overlap(mean_a, mean_b, fraction)
    result["top_overlap_cross_seed"] = (top_overlap(a[:, 0], b[:, 1], fraction)
                                        + top_overlap(a[:, 1], b[:, 0], fraction)) / 2
    result["top_overlap_same_mode"] = (top_overlap(a[:, 0], a[:, 1], fraction)
                                       + top_overlap(b[:, 0], b[:, 1], fraction)) / 2
    result["mean_diff"] = float(np.mean(mean_b - mean_a))
    return result


def within_cost_bands(table: Table, mode_a: str, mode_b: str, bands: int = 3,
                      metric: str = "val_acc") -> list[dict]:
    """The mode-vs-mode rank correlation of mean accuracy within each latency band (equal-count
    thirds by default): capacity alone makes any two modes agree across the whole range, so
    this is where a disagreement about similar-cost students shows."""
    archs, arrays = seed_matrix(table, [mode_a, mode_b], [0, 1], metric)
    latency = {r["arch"]: r["latency_ms"] for r in table}
    order = sorted(range(len(archs)), key=lambda i: latency[archs[i]])
    out = []
    for band, members in enumerate(np.array_split(np.array(order, dtype=int), bands)):
        a, b = arrays[mode_a][members], arrays[mode_b][members]
        lat = [latency[archs[i]] for i in members]
        out.append({"band": band, "n": len(members),
                    "latency_ms": [min(lat), max(lat)] if lat else None,
                    "spearman": spearman(a.mean(axis=1), b.mean(axis=1)) if len(members) else None,
                    "same_mode": _pair_statistics()["same_mode"](
                        a[:, 0], a[:, 1], b[:, 0], b[:, 1]) if len(members) else None})
    return out


# --- which choices KD favours -------------------------------------------------------------------

def kd_gains(table: Table, teacher: str, metric: str = "val_acc") -> dict[str, float]:
    """Student -> KD gain: ``teacher``'s accuracy minus the labels-only accuracy, per seed (the
    same seed starts both from the same weights and batch order), averaged over the seeds both
    have."""
    cls = {(r["arch"], r["seed"]): r[metric] for r in table.filter(mode=LABELS)}
    per_arch: dict[str, list[float]] = {}
    for r in table.filter(mode=teacher):
        base = cls.get((r["arch"], r["seed"]))
        if base is not None and r[metric] is not None:
            per_arch.setdefault(r["arch"], []).append(r[metric] - base)
    return {arch: sum(g) / len(g) for arch, g in per_arch.items()}


FIELD_NAMES = {"op": "op", "kernel": "kernel", "se": "SE", "skip": "skip", "channels": "width",
               "layers": "depth"}  # a decision field -> what the report calls it


def decision_labels(space, decisions: Sequence[int]) -> list[tuple[str, str]]:
    """Per stage decision its ``(field, value)`` as the report names them: the op, kernel, SE
    ratio and skip as chosen, the width as its multiplier of the stage's base channels and the
    depth as the offset from its base layer count, so that values pool across stages."""
    return [_label(space, decision, index) for decision, index in zip(space.decisions, decisions)]


def _label(space, decision, index: int) -> tuple[str, str]:
    stage, field = decision.name.split(".")
    if field == "channels":  # the nominal multiplier: the median over stages of channels / base
        ratios = [d.values[index] / space.skeleton[int(d.name.split(".")[0][1:])].channels
                  for d in space.decisions if d.name.endswith(".channels")]
        return FIELD_NAMES[field], f"{float(np.median(ratios)):.2f}x"
    value = decision.values[index]
    if field == "layers":
        return FIELD_NAMES[field], f"{value - space.skeleton[int(stage[1:])].layers:+d}"
    return FIELD_NAMES[field], str(value)


def all_labels(space) -> list[tuple[str, str]]:
    """Every ``(field, value)`` of the space, by field, values in the space's order (depth and
    width from the smallest)."""
    labels = dict.fromkeys(_label(space, d, i) for d in space.decisions
                           for i in range(len(d.values)))
    fields = list(FIELD_NAMES.values())

    def order(key: tuple[str, str]) -> tuple:
        field, value = key
        numeric = field in ("width", "depth")
        return fields.index(field), float(value.rstrip("x")) if numeric else 0
    return sorted(labels, key=order)  # stable: the other fields keep the space's order


def gain_by_decision(table: Table, teacher: str, space, metric: str = "val_acc",
                     resamples: int = BOOTSTRAP_RESAMPLES) -> list[dict]:
    """Per decision field and value: the mean KD gain over the (student, stage) pairs that take
    it, with a bootstrap interval over students, and its difference from the mean gain."""
    gains = kd_gains(table, teacher, metric)
    decisions = {r["arch"]: r["decisions"] for r in table}
    archs = [a for a in table.archs if a in gains]
    if not archs:
        return []
    labels = {a: decision_labels(space, decisions[a]) for a in archs}
    keys = [key for key in all_labels(space) if any(key in labels[a] for a in archs)]
    counts = np.array([[labels[a].count(key) for key in keys] for a in archs], dtype=float)
    g = np.array([gains[a] for a in archs])
    overall = float(g.mean())
    rows = []

    def weighted(gain, count):
        total = count.sum()
        return float((gain * count).sum() / total) if total else None

    def versus(gain, count):  # against the mean gain of the same (resampled) students
        value = weighted(gain, count)
        return None if value is None else value - float(gain.mean())

    for j, (field, value) in enumerate(keys):
        column = [g, counts[:, j]]
        rows.append({"field": field, "value": value, "stages": int(counts[:, j].sum()),
                     "gain": weighted(*column),
                     "gain_ci": bootstrap_ci(weighted, column, resamples=resamples),
                     "vs_mean": weighted(*column) - overall,
                     "vs_mean_ci": bootstrap_ci(versus, column, resamples=resamples)})
    return rows


def gain_against_cost(table: Table, teacher: str, metric: str = "val_acc",
                      resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """Rank correlation of the KD gain with params, MACs and latency, each with an interval."""
    gains = kd_gains(table, teacher, metric)
    cost = {r["arch"]: r for r in table}
    archs = [a for a in table.archs if a in gains]
    g = [gains[a] for a in archs]
    out = {"n": len(archs), "mean_gain": mean_ci(g)}
    for name in ("params", "macs", "latency_ms"):
        x = [cost[a][name] for a in archs]
        out[name] = {"spearman": spearman(g, x),
                     "spearman_ci": bootstrap_ci(spearman, [g, x], resamples=resamples)}
    return out


def analyze(table: Table, space, metric: str = "val_acc",
            resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """Everything the report shows, for the modes trained with two seeds or more; every
    interval from ``resamples`` bootstrap resamples."""
    modes = [m for m in table.modes if len(table.seeds(m)) >= 2]
    teachers = [m for m in modes if m != LABELS]
    return {
        "metric": metric, "students": len(table.archs), "trainings": len(table),
        "failed": sum(r["status"] != "ok" for r in table), "modes": modes,
        "teacher_test_acc": {t: next(r["teacher_test_acc"] for r in table.filter(teacher=t))
                             for t in table.teachers if len(table.filter(teacher=t))},
        "mean_acc": {m: mean_ci(list(table.filter(mode=m).accuracy(metric).values()))
                     for m in table.modes},
        "noise": [noise_ceiling(table, m, metric, resamples) for m in modes],
        "pairs": [compare_modes(table, a, b, metric, resamples)
                  for a, b in itertools.combinations(modes, 2)],
        "bands": {f"{a} vs {b}": within_cost_bands(table, a, b, metric=metric)
                  for a, b in itertools.combinations(modes, 2)},
        "decisions": {t: gain_by_decision(table, t, space, metric, resamples)
                      for t in table.teachers},
        "cost": {t: gain_against_cost(table, t, metric, resamples) for t in table.teachers},
        "teachers": teachers,
    }
