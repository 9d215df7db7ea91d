"""Every number of the study, from the files its parts wrote (a study directory, or the copy
:func:`research.studies.study.keep` makes), with the search as the unit of inference.

- **The AKD gain** of a twin search is the AKD paper's [KD - CLS](akd winner) - [KD - CLS](nas
  winner), paired by training seed; it is estimated over the twin searches (each contributes the
  mean over its training seeds, so search-to-search variation and retraining noise are both in
  the interval): a t interval over searches, and a two-level bootstrap (searches resampled, then
  training seeds within each) beside it. With it, the smallest difference the design could have
  detected: the effect a two-sided test at 5% finds with 80% power, given the searches' spread.
- **Against hand design**: each winner against the hand-designed student nearest it in the
  re-timed latency, on top-budget KD test accuracy and on the reward of that accuracy at the
  re-timed latency (one target for all: the median re-timed latency of the first twin's target
  sample); a t interval over searches.
- **Strategies**: each strategy's searches (lstm_ppo's are the twins' akd arms) on the reward and
  the KD accuracy of their winners, minus lstm_ppo's with a Welch interval over searches.
- **Same and different teachers**: the total-variation distance between the policies of two
  searches' akd arms (the last quarter of the candidates they sampled), for pairs with the same
  and with different teachers, against random pairs simulated without training, and an exact
  permutation test of "different-teacher pairs are farther apart than same-teacher pairs".
- **Convergence**: the LSTM policies' entropy as a share of the uniform policy's, and how it fell
  per bracket; the budget a linear continuation of that fall would need to reach half of uniform.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path
from statistics import fmean, median

import dacite
import numpy as np
from scipy import stats

from akd import load_ladder
from akd.arms import searched_with
from akd.common import mean_ci, read_json, read_lines, total_variation
from akd.components import build_space
from akd.config import load_config
from akd.reporting import late_trials_policy, policy_distance
from akd.search import TARGET_FILE, RunDir, Trial, best_so_far, mnas_reward, top_trials

from .study import (FINAL_RUNS, RETIMED, StudyOptions, nearest_reference, planned_searches,
                    student_key)

BOOTSTRAP = 10_000  # resamples of the two-level bootstrap
RANDOM_PAIRS = 2000  # simulated pairs of random searches behind the "random pairs" figures
POWER = 0.8  # of the smallest detectable difference
HALF_UNIFORM = 0.5  # the entropy share a converging controller is extrapolated to
MATCHED = 0.1  # a winner within 10% of its hand-designed reference's latency is "matched"
LADDER = "fashion_mnist-small28-ladder"  # the shipped ladder: the final budget's validation check


# ---- small statistics ------------------------------------------------------------------------

def detectable(std: float | None, n: int) -> float | None:
    """The smallest mean difference a two-sided one-sample t test at 5% detects with 80% power,
    for ``n`` values of this standard deviation."""
    if std is None or n < 2:
        return None
    return float((stats.t.ppf(0.975, n - 1) + stats.t.ppf(POWER, n - 1)) * std / math.sqrt(n))


def over_searches(values: list[float]) -> dict:
    """Mean with its t interval over searches, and the smallest detectable difference."""
    result = mean_ci(values)
    return {**result, "detectable": detectable(result["std"], result["n"])}


def welch(a: list[float], b: list[float]) -> dict:
    """mean(a) - mean(b) with a Welch t interval, and the smallest difference it detects."""
    if len(a) < 2 or len(b) < 2:
        return {"mean": None, "ci95": None, "detectable": None, "n": [len(a), len(b)]}
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else 1.0
    diff = fmean(a) - fmean(b)
    half = float(stats.t.ppf(0.975, df)) * se
    return {"mean": diff, "ci95": [diff - half, diff + half], "n": [len(a), len(b)],
            "detectable": float((stats.t.ppf(0.975, df) + stats.t.ppf(POWER, df)) * se)}


def two_level_bootstrap(groups: list[list[float]], seed: int = 0) -> list[float] | None:
    """95% percentile interval of the mean of group means, resampling groups (searches) and
    then values (training seeds) within each."""
    if len(groups) < 2 or any(not g for g in groups):
        return None
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(g, dtype=float) for g in groups]
    means = np.empty(BOOTSTRAP)
    for r in range(BOOTSTRAP):
        picked = rng.integers(0, len(arrays), len(arrays))
        means[r] = np.mean([rng.choice(arrays[i], len(arrays[i])).mean() for i in picked])
    return [float(v) for v in np.percentile(means, [2.5, 97.5])]


# ---- reading the files -----------------------------------------------------------------------

def _trials(path: Path) -> list[Trial]:
    return RunDir(path).read_trials(repair=False)


def _first_trainings(trials: list[Trial]) -> list[Trial]:
    """Each candidate's first training: the candidates a controller sampled, in order."""
    seen, first = set(), []
    for t in sorted(trials, key=lambda t: (t.step, t.candidate_id, t.rung or 0, t.seed or 0)):
        if t.candidate_id not in seen:
            seen.add(t.candidate_id)
            first.append(t)
    return first


def policy_entropy(path: Path, arm: str, choices: tuple[int, ...]) -> list[float] | None:
    """The LSTM policy's entropy after each controller step, as a share of the uniform
    policy's (None for controllers without one)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(path / "tensorboard" / arm), size_guidance={"scalars": 0})
    events.Reload()
    if "controller/policy_entropy" not in events.Tags()["scalars"]:
        return None
    uniform = sum(math.log(n) for n in choices)
    return [e.value / uniform for e in events.Scalars("controller/policy_entropy")]


def final_runs(out: Path) -> dict[tuple[str, str], list[dict]]:
    """(student key, mode) -> its successful final trainings, by seed."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in read_lines(out / FINAL_RUNS, repair=False):
        if r["status"] == "ok":
            runs.setdefault((r["source"], r["mode"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in runs.items()}


def accuracies(runs: dict, arch: str, mode: str, split: str = "test_acc") -> dict[str, float]:
    """seed (as text, as JSON keeps it) -> the final accuracy of ``arch`` in ``mode``."""
    return {str(r["seed"]): r[split] for r in runs.get((student_key(arch), mode), [])}


# ---- the summary -----------------------------------------------------------------------------

def summarize(out: str | Path) -> dict:
    """Every number of the study from the files in ``out``."""
    out = Path(out)
    options = dacite.from_dict(StudyOptions, read_json(out / "options.json"))
    searches = planned_searches(options)
    first = load_config(RunDir(out / searches[0].folder).config)
    space = build_space(first)
    retimed = read_json(out / RETIMED)
    runs = final_runs(out)
    ms = retimed["latency_ms"]
    target = median(ms[a] for a in retimed["target_sample"])
    reward = dataclasses.replace(first.reward, target_ms=target)

    def reward_of(accuracy: float | None, arch: str) -> float | None:
        return None if accuracy is None else mnas_reward(accuracy, ms[arch], reward)

    per_search = {}
    for s in searches:
        path = out / s.folder
        trials = _trials(path)
        arms = {}
        for arm in s.arms:
            mine = [t for t in trials if t.arm == arm]
            best = top_trials(mine, 1)[0]
            kd = accuracies(runs, best.arch, "kd")
            cls = accuracies(runs, best.arch, "cls")
            kd_mean = fmean(kd.values()) if kd else None
            arms[arm] = {
                "arch": best.arch, "search_reward": best.reward, "search_val_acc": best.val_acc,
                "search_latency_ms": best.latency_ms, "latency_ms": ms[best.arch],
                "trainings": len(mine), "candidates": len({t.candidate_id for t in mine}),
                "samples": sum(t.samples or 0 for t in mine),
                "curve": best_so_far(mine),
                "entropy": policy_entropy(path, arm, space.choices),
                "kd": kd, "cls": cls, "kd_mean": kd_mean,
                "cls_mean": fmean(cls.values()) if cls else None,
                "kd_val": accuracies(runs, best.arch, "kd", "val_acc"),
                "cls_val": accuracies(runs, best.arch, "cls", "val_acc"),
                "reward": reward_of(kd_mean, best.arch),
                "reference": nearest_reference(retimed, best.arch)}
        per_search[s.folder] = {"kind": s.kind, "teacher": s.teacher, "strategy": s.strategy,
                                "seed": s.seed, "arms": arms,
                                "seconds": _seconds(path)}
    return {"options": read_json(out / "options.json"),
            "setup": _setup(out / searches[0].folder, first, target, retimed),
            "parts": _parts(out), "searches": per_search,
            "references": _references(retimed, runs, reward_of),
            "gain": akd_gain(per_search),
            "hand_design": hand_design(per_search, retimed, runs, reward_of),
            "strategies": strategies(per_search, options),
            "teachers": teachers(out, per_search, options, space),
            "convergence": convergence(per_search, first),
            "budget_check": budget_check(first)}


def _seconds(path: Path) -> dict | None:
    """The search's wall time and the part of it spent measuring latency (its last session's;
    a latency read from the cache costs nothing)."""
    timing = path / "timing.json"
    if not timing.exists():
        return None
    recorded = json.loads(timing.read_text())
    return {"total": recorded["total_seconds"], "latency": recorded["latency_seconds"]}


def _setup(first_search: Path, config, target: float, retimed: dict) -> dict:
    schedule = config.search.schedule
    recorded = read_json(first_search / TARGET_FILE)
    return {"dataset": config.data.name, "space": config.space.preset or config.space.name,
            "schedule": {"name": schedule.name, "rungs": list(schedule.rungs), "eta": schedule.eta,
                         "top_seeds": schedule.top_seeds},
            "proxy_images": config.data.proxy_size, "batch_size": config.search.batch_size,
            "budget_samples": config.search.trials * config.data.proxy_size * config.proxy.epochs,
            "alpha": config.proxy.alpha, "temperature": config.proxy.temperature,
            "search_target_ms": recorded["target_ms"], "retimed_target_ms": target,
            "retiming": {"host": retimed["host"], "seconds": retimed["seconds"],
                         "students": len(retimed["latency_ms"])},
            "final": {"train_images": config.final.train_images,
                      "epochs": config.final.training.epochs,
                      "batch_size": config.final.training.batch_size,
                      "test_images": config.final.test_images}}


def _parts(out: Path) -> dict:
    """Each part's seconds in all and per machine, over the sittings that finished it (a
    sitting killed part-way records none), and the final trainings' own seconds summed over
    every training, whichever sitting ran it."""
    parts: dict[str, dict] = {}
    for line in read_lines(out / "parts.jsonl", repair=False):
        part = parts.setdefault(line["part"], {"seconds": 0.0, "machines": {}})
        part["seconds"] += line["seconds"]
        part["machines"][line["host"]] = part["machines"].get(line["host"], 0.0) + line["seconds"]
    trainings = [r["seconds"] for r in read_lines(out / FINAL_RUNS, repair=False)
                 if r.get("seconds") is not None]
    if "final trainings" in parts:
        parts["final trainings"].update(trainings=len(trainings),
                                        training_seconds=float(sum(trainings)))
    return parts


def _references(retimed: dict, runs: dict, reward_of) -> dict:
    result = {}
    for width, arch in retimed["references"].items():
        kd, cls = accuracies(runs, arch, "kd"), accuracies(runs, arch, "cls")
        kd_mean = fmean(kd.values()) if kd else None
        result[width] = {"arch": arch, "latency_ms": retimed["latency_ms"][arch], "kd": kd,
                         "cls": cls, "kd_mean": kd_mean,
                         "cls_mean": fmean(cls.values()) if cls else None,
                         "reward": reward_of(kd_mean, arch), "trained": bool(kd)}
    return result


def akd_gain(per_search: dict) -> dict:
    """Over the twin searches: the AKD gain, and the akd winner's KD accuracy minus the nas
    winner's (the product's question), each per search (mean over its paired training seeds)."""
    gains, gain_groups, kd_diffs, kd_groups, same = [], [], [], [], 0
    for s in per_search.values():
        if s["kind"] != "twin":
            continue
        akd, nas = s["arms"]["akd"], s["arms"]["nas"]
        seeds = sorted(set(akd["kd"]) & set(akd["cls"]) & set(nas["kd"]) & set(nas["cls"]))
        if not seeds:
            continue
        per_seed = [(akd["kd"][k] - akd["cls"][k]) - (nas["kd"][k] - nas["cls"][k])
                    for k in seeds]
        diff = [akd["kd"][k] - nas["kd"][k] for k in seeds]
        gains.append(fmean(per_seed))
        gain_groups.append(per_seed)
        kd_diffs.append(fmean(diff))
        kd_groups.append(diff)
        same += akd["arch"] == nas["arch"]
    return {"gain": {**over_searches(gains), "per_search": gains,
                     "bootstrap95": two_level_bootstrap(gain_groups)},
            "kd_difference": {**over_searches(kd_diffs), "per_search": kd_diffs,
                              "bootstrap95": two_level_bootstrap(kd_groups)},
            "same_winner": same,
            "variance": variance_components(kd_groups)}


def variance_components(groups: list[list[float]]) -> dict | None:
    """The spread of a per-search quantity between searches and between training seeds within
    one (one-way random effects, method of moments)."""
    groups = [g for g in groups if len(g) >= 2]
    if len(groups) < 2:
        return None
    k = len(groups[0])
    if any(len(g) != k for g in groups):
        return None
    within = fmean(float(np.var(g, ddof=1)) for g in groups)
    between_means = float(np.var([fmean(g) for g in groups], ddof=1))
    return {"within_sd": math.sqrt(within),
            "between_sd": math.sqrt(max(0.0, between_means - within / k))}


def hand_design(per_search: dict, retimed: dict, runs: dict, reward_of) -> dict:
    """For each group of winners (the twins' akd and nas arms, each strategy's searches): the
    winner minus its nearest hand-designed student, on KD accuracy and on the reward."""
    groups: dict[str, dict[str, list]] = {}
    for name, s in per_search.items():
        for arm, a in s["arms"].items():
            if s["kind"] == "teacher" or a["kd_mean"] is None:
                continue
            group = arm if s["kind"] == "twin" else s["strategy"]
            ref = a["reference"]
            kd = accuracies(runs, ref, "kd")
            if not kd:
                continue
            ref_kd = fmean(kd.values())
            g = groups.setdefault(group, {"accuracy": [], "reward": [], "latency_ratio": [],
                                          "searches": []})
            g["accuracy"].append(a["kd_mean"] - ref_kd)
            g["reward"].append(a["reward"] - reward_of(ref_kd, ref))
            g["latency_ratio"].append(retimed["latency_ms"][a["arch"]]
                                      / retimed["latency_ms"][ref])
            g["searches"].append(name)
    return {group: {"accuracy": over_searches(g["accuracy"]),
                    "reward": over_searches(g["reward"]),
                    "latency_ratio": mean_ci(g["latency_ratio"]),
                    # the winners within MATCHED of their reference's latency: an accuracy
                    # comparison that latency does not tilt
                    "matched_accuracy": over_searches(
                        [d for d, r in zip(g["accuracy"], g["latency_ratio"])
                         if abs(r - 1) <= MATCHED]),
                    "per_search": {"accuracy": g["accuracy"], "reward": g["reward"],
                                   "searches": g["searches"]}}
            for group, g in groups.items()}


def strategies(per_search: dict, options: StudyOptions) -> dict:
    """Each strategy's winners over its searches, and its difference to lstm_ppo's."""
    found: dict[str, dict[str, list]] = {}
    for s in per_search.values():
        if s["kind"] == "teacher":
            continue
        a = s["arms"]["akd"]
        if a["kd_mean"] is None:
            continue
        f = found.setdefault(s["strategy"], {"reward": [], "kd": [], "latency": [],
                                             "search_reward": []})
        f["reward"].append(a["reward"])
        f["kd"].append(a["kd_mean"])
        f["latency"].append(a["latency_ms"])
        f["search_reward"].append(a["search_reward"])
    base = found.get("lstm_ppo")
    result = {}
    for strategy in ["lstm_ppo", *options.strategies]:
        if strategy not in found:
            continue
        f = found[strategy]
        result[strategy] = {
            "searches": len(f["kd"]), "reward": over_searches(f["reward"]),
            "kd": over_searches(f["kd"]), "latency_ms": mean_ci(f["latency"]),
            "search_reward": mean_ci(f["search_reward"]), "values": f}
        if strategy != "lstm_ppo" and base:
            result[strategy]["minus_lstm_ppo"] = {
                "reward": welch(f["reward"], base["reward"]), "kd": welch(f["kd"], base["kd"])}
    return result


def random_pairs(choices: tuple[int, ...], late: int, pairs: int = RANDOM_PAIRS,
                 seed: int = 0) -> dict:
    """Policy distance (the late-candidates estimator, ``late`` candidates) of two random
    searches, over ``pairs`` seeded simulated pairs: mean and the central 95% of the pairs."""
    rng = np.random.default_rng(seed)
    tvs = []
    for _ in range(pairs):
        draws = [rng.integers(0, choices, size=(late, len(choices))) for _ in range(2)]
        tvs.append(float(np.mean([total_variation(*[np.bincount(d[:, k], minlength=n) / late
                                                    for d in draws])
                                  for k, n in enumerate(choices)])))
    return {"pairs": pairs, "late_candidates": late, "mean": float(np.mean(tvs)),
            "central95": [float(v) for v in np.percentile(tvs, [2.5, 97.5])]}


def teachers(out: Path, per_search: dict, options: StudyOptions, space) -> dict:
    """Policy distance between akd arms of the same and of different teachers (and between the
    twins' nas arms), against random pairs; an exact permutation test of the teacher labels."""
    policies, late = {}, []
    for name, s in per_search.items():
        if s["strategy"] != "lstm_ppo":
            continue
        trials = _trials(out / name)
        for arm in s["arms"]:
            sampled = _first_trainings([t for t in trials if t.arm == arm])
            key = "labels" if arm == searched_with(distills=False) else s["teacher"]
            policies[(name, arm)] = (key, late_trials_policy(arm, sampled, space.choices))
            late.append(max(1, math.ceil(0.25 * len(sampled))))
    keys = sorted(policies)
    distance = {}
    for a, b in itertools.combinations(keys, 2):
        (ka, pa), (kb, pb) = policies[a], policies[b]
        if (ka == "labels") != (kb == "labels"):
            continue
        distance[(a, b)] = policy_distance(pa, pb)["mean_tv"]

    def kind(a, b) -> str:
        ka, kb = policies[a][0], policies[b][0]
        return "labels only" if ka == "labels" else ("same teacher" if ka == kb
                                                     else "different teachers")
    kinds = {}
    for name in ("same teacher", "different teachers", "labels only"):
        values = [d for (a, b), d in distance.items() if kind(a, b) == name]
        kinds[name] = {"pairs": len(values), "mean": fmean(values) if values else None}
    akd = [k for k in keys if policies[k][0] != "labels"]
    labels = [policies[k][0] for k in akd]
    observed = _teacher_statistic(akd, labels, distance)
    counts = {t: labels.count(t) for t in dict.fromkeys(labels)}
    permuted = []
    if len(counts) == 2 and all(c >= 2 for c in counts.values()):
        teacher, n = next(iter(counts.items()))
        for chosen in itertools.combinations(range(len(akd)), n):
            relabel = [teacher if i in chosen else "other" for i in range(len(akd))]
            permuted.append(_teacher_statistic(akd, relabel, distance))
    p = (float(np.mean([v >= observed - 1e-12 for v in permuted]))
         if permuted and observed is not None else None)
    return {"kinds": kinds, "random": random_pairs(space.choices, int(round(median(late)))),
            "different_minus_same": observed, "permutations": len(permuted), "p_value": p,
            "pairs": [{"a": f"{a[0]}/{a[1]}", "b": f"{b[0]}/{b[1]}", "kind": kind(a, b),
                       "policy_tv": d} for (a, b), d in distance.items()]}


def _teacher_statistic(searches: list, labels: list[str], distance: dict) -> float | None:
    same, different = [], []
    for (i, a), (j, b) in itertools.combinations(enumerate(searches), 2):
        d = distance.get((a, b), distance.get((b, a)))
        (same if labels[i] == labels[j] else different).append(d)
    if not same or not different:
        return None
    return fmean(different) - fmean(same)


def convergence(per_search: dict, config) -> dict:
    """The LSTM arms' final entropy share, its fall per controller step, and the budget a linear
    continuation of that fall would need to reach half the uniform policy's entropy."""
    final, fall, steps = [], [], []
    for s in per_search.values():
        for a in s["arms"].values():
            entropy = a["entropy"]
            if not entropy:
                continue
            final.append(entropy[-1])
            steps.append(len(entropy))
            if len(entropy) >= 2:
                fall.append((entropy[0] - entropy[-1]) / (len(entropy) - 1))
    per_step = mean_ci(fall)
    samples_per_step = (config.search.trials * config.data.proxy_size * config.proxy.epochs
                        / max(steps)) if steps else None
    needed = None
    if final and per_step["mean"] and per_step["mean"] > 0:
        more = (fmean(final) - HALF_UNIFORM) / per_step["mean"]
        needed = {"steps": more, "samples": more * samples_per_step}
    return {"arms": len(final), "final_entropy": mean_ci(final), "fall_per_step": per_step,
            "steps": max(steps) if steps else 0, "samples_per_step": samples_per_step,
            "to_half_uniform": needed}


def budget_check(config) -> dict:
    """The final budget against its half on validation, from the shipped ladder when the budget
    is one of its rungs and its half another: each mode's mean validation accuracy at both over
    the ladder's students (empty when the ladder does not hold them)."""
    ladder = load_ladder(LADDER)
    rungs = {r.name: i for i, r in enumerate(ladder.rungs)}
    images, epochs = config.final.train_images, config.final.training.epochs
    full, half = f"{images}x{epochs}", f"{images}x{epochs // 2}"
    if full not in rungs or half not in rungs or config.data.name != "fashion_mnist":
        return {}
    result = {"half": half, "full": full}
    for mode in ("cls", "vgg"):
        means = {name: ladder.at(rungs[name]).filter(mode=mode).accuracy()
                 for name in (half, full)}
        common = sorted(set(means[half]) & set(means[full]))
        diffs = [means[full][a] - means[half][a] for a in common]
        result[mode] = {"students": len(common),
                        "half": fmean(means[half][a] for a in common),
                        "full": fmean(means[full][a] for a in common),
                        "doubling_gain": mean_ci(diffs)}
    return result
