"""The final stage's statistics: each student's mean accuracy by mode, the AKD paper's gain
metric ``[KD(AKDNet) - CLS(AKDNet)] - [KD(NASNet) - CLS(NASNet)]`` over seeds with its 95%
interval, and its 2x2 table (searched by hard label / distillation x trained by hard label /
distillation). ``final.json`` and the report both derive them here, from the runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..arms import searched_with
from ..common.formatting import fraction
from ..common.io import read_json, read_lines
from ..common.stats import mean, mean_ci
from ..config import RunConfig
from ..distill.trainer import training_recipe
from ..search.trial import Trial

MODES = ("cls", "kd")  # labels only, and distilled from the teacher


BUDGET_KEYS = ("train_images", "test_images", "training")  # what decides a final training


def run_key(run: dict) -> tuple:
    """What identifies a final run, in a task or in a final_runs.jsonl record: the student, the
    mode, the seed and the training budget ("": a record of unknown budget)."""
    return (run["source"], run["rank"], run["mode"], run["seed"], run.get("budget") or "")


def training_budget(final: dict) -> str:
    """A final stage's training budget as a short digest of ``final.train_images``,
    ``final.test_images`` and ``final.training`` (``final`` as final.json records it): records
    of another budget are never reused, so a changed budget trains again."""
    chosen = {key: final[key] for key in BUDGET_KEYS}
    # a training option added later, at the value that means what trainings did before it
    # existed, is left out: the budgets of runs made before it stay what they were
    chosen["training"] = training_recipe(chosen["training"])
    chosen = json.dumps(chosen, sort_keys=True)
    return hashlib.sha256(chosen.encode()).hexdigest()[:10]


def final_records(run_path: Path, repair: bool = True) -> list[dict]:
    """The records of ``final_runs.jsonl``, each with its budget: a record from before budgets
    were kept takes the budget its run's final.json recorded (None when there is none)."""
    records = read_lines(run_path / "final_runs.jsonl", repair)
    legacy = None
    if any("budget" not in r for r in records) and (run_path / "final.json").exists():
        final = read_json(run_path / "final.json").get("final") or {}
        legacy = training_budget(final) if all(k in final for k in BUDGET_KEYS) else None
    return [r if "budget" in r else {**r, "budget": legacy} for r in records]


def searched_student(arm: str, rank: int, trial: Trial | None, arch: str | None = None) -> dict:
    """A final-stage student from ``arm``'s trial of that reward rank; with ``trial`` None, a
    student of architecture ``arch`` whose search record is not at hand (costs unknown)."""
    if trial is None:
        return {"source": arm, "rank": rank, "arch": arch, "latency_ms": None, "params": None,
                "macs": None, "search_reward": None, "search_val_acc": None, "kd": None}
    return {"source": arm, "rank": rank, "arch": trial.arch, "latency_ms": trial.latency_ms,
            "params": trial.params, "macs": trial.macs, "search_reward": trial.reward,
            "search_val_acc": trial.val_acc, "kd": trial.kd}


def student_macs(student: dict) -> int | None:
    """A final-stage student's MACs (``final.json`` before 0.2 called them ``flops``)."""
    return student.get("macs", student.get("flops"))


def summarize(config: RunConfig, students: list[dict], runs: list[dict]) -> dict:
    """final.json's content from the students and their finished runs."""
    by_key = {run_key(r): r for r in runs}
    for student in students:
        student["runs"] = [by_key[k] for k in sorted(by_key)
                           if k[:2] == (student["source"], student["rank"])]
    final = dataclasses.asdict(config.final)
    return {"final": final, "budget": training_budget(final), "students": students,
            **statistics_of(students)}


def statistics_of(students: list[dict]) -> dict:
    """Each student's mean CLS and KD accuracy over its successful runs (set on the student),
    and the gain metric and 2x2 table of the arms' best: final.json's statistics."""
    for student in students:
        for mode in MODES:
            accs = [r["test_acc"] for r in student.get("runs", [])
                    if r.get("mode") == mode and r.get("status") == "ok"]
            student[f"{mode}_mean"] = mean(accs)
    best = {s["source"]: s for s in students if s.get("rank") == 1}
    return {"gain": gain_metric(best), "table_2x2": table_2x2(best)}


def gain_metric(best: dict) -> dict | None:
    """[KD(AKDNet) - CLS(AKDNet)] - [KD(NASNet) - CLS(NASNet)], paired by seed: ``best`` maps
    each arm to its best student with its runs (AKDNet: the arm that searched with the teacher,
    NASNet: the one that searched with labels); seeds missing a run are left out."""
    akd, nas = searched_with(distills=True), searched_with(distills=False)
    if akd not in best or nas not in best:
        return None
    acc = {(s, r["mode"], r["seed"]): r["test_acc"] for s in (akd, nas)
           for r in best[s]["runs"] if r["status"] == "ok"}
    per_seed = [(acc[akd, "kd", seed] - acc[akd, "cls", seed])
                - (acc[nas, "kd", seed] - acc[nas, "cls", seed])
                for seed in sorted({seed for _, _, seed in acc})
                if all((s, m, seed) in acc for s in (akd, nas) for m in MODES)]
    return {"per_seed": per_seed, **mean_ci(per_seed),
            "same_architecture": best[akd]["arch"] == best[nas]["arch"]}


def table_2x2(best: dict) -> dict:
    """Test accuracy of each arm's best, by how it was searched and how it was trained."""
    rows = {"hard_label": best.get(searched_with(distills=False)),
            "distillation": best.get(searched_with(distills=True))}
    return {searched: {f"trained_{'hard_label' if m == 'cls' else 'distillation'}":
                       (student or {}).get(f"{m}_mean") for m in MODES}
            for searched, student in rows.items()}


def final_table(result: dict) -> str:
    sample = result.get("final", {}).get("test_images")
    on = f" on a seeded sample of {sample:,} test images" if sample else ""
    lines = ["", f"final stage: test accuracy{on}, mean over seeds",
             f"{'student':<12} {'CLS':>8} {'KD':>8} {'KD-CLS':>8} {'latency':>8}  architecture"]
    for s in result["students"]:
        cls, kd = s["cls_mean"], s["kd_mean"]
        diff = f"{kd - cls:+.4f}" if cls is not None and kd is not None else "-"
        name = f"{s['source']} #{s['rank']}"
        searched = s.get("kd")  # the KD hyper-parameters its KD runs used, when searched
        lines.append(f"{name:<12} {fraction(cls):>8} {fraction(kd):>8} {diff:>8} "
                     f"{s['latency_ms']:>6.3f}ms  {s['arch']}"
                     + (f"  (KD {kd_settings(searched)})" if searched else ""))
    gain = result["gain"]
    if gain and gain["mean"] is not None:
        ci = gain["ci95"]
        interval = f", 95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""
        lines.append(f"AKD gain [KD-CLS](akd) - [KD-CLS](nas): {gain['mean']:+.4f} over "
                     f"{gain['n']} seeds{interval}")
    return "\n".join(lines)


def kd_settings(kd: dict[str, float]) -> str:
    """Searched KD hyper-parameters in words, e.g. "T = 3.61, alpha = 0.9"."""
    names = {"temperature": "T", "alpha": "alpha"}
    return ", ".join(f"{names.get(k, k)} = {v:g}" for k, v in kd.items())
