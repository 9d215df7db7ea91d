"""The final stage: the best students of each arm trained from scratch, with and without KD.

For the top ``final.top_k`` architectures of each arm (by reward) and, when the space has one, the
hand-designed reference student at a similar latency, train from scratch on the training set with
labels only (CLS) and with KD from the teacher, once per seed, and test each on the test split.
Each finished training is appended to ``final_runs.jsonl`` as it finishes (so a killed final stage
resumes where it stopped), and the state dict of each that succeeded is kept in
``weights/<source>-<rank>-<mode>-seed<seed>.pt`` (the record's ``weights``) for export.
``final.json`` then holds every run, the AKD paper's gain metric
``[KD(AKDNet) - CLS(AKDNet)] - [KD(NASNet) - CLS(NASNet)]`` over seeds with a 95% confidence
interval, and its 2x2 table (searched by hard label / distillation x trained by hard label /
distillation).
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from search_spaces import count_cost, get_space

from .board import top_trials
from .config import RunConfig
from .evaluation import Outcome, final_workspace, train_student, workspace
from .evaluator import make_evaluator
from .latency_lock import CoreLock
from .rundir import RunDir
from .search import latency_source, space_kwargs

MODES = ("cls", "kd")
# Two-sided 95% Student t quantiles by degrees of freedom (any statistics table); beyond 30 the
# normal quantile is within 2%.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}


@dataclass(frozen=True)
class FinalTask:
    source: str  # "akd", "nas" (the arm that found it) or "reference" (hand-designed)
    rank: int  # 1 = the arm's best by reward
    arch: str
    mode: str  # "cls" (labels only) or "kd"
    seed: int
    save_to: str | None = None  # the file that keeps the trained state dict; None: not kept

    def key(self) -> tuple:
        return run_key(dataclasses.asdict(self))


def run_key(run: dict) -> tuple:
    """What identifies a final run, in a task or in a final_runs.jsonl record."""
    return (run["source"], run["rank"], run["mode"], run["seed"])


def weights_file(key: tuple) -> str:
    """Where the final run ``key`` keeps its trained state dict, relative to the run directory."""
    source, rank, mode, seed = key
    return f"weights/{source}-{rank}-{mode}-seed{seed}.pt"


def final_task(run: RunDir, source: str, rank: int, arch: str, mode: str, seed: int
               ) -> FinalTask:
    """A final training whose trained weights are kept in ``run``'s weights/ folder."""
    return FinalTask(source, rank, arch, mode, seed,
                     save_to=str(run.path / weights_file((source, rank, mode, seed))))


def final_record(task: FinalTask, outcome: Outcome) -> dict:
    """The final_runs.jsonl line of a finished final training."""
    record = {**dataclasses.asdict(task), "test_acc": outcome.accuracy, "status": outcome.status,
              "error": outcome.error, "seconds": outcome.seconds}
    kept = record.pop("save_to") and outcome.status == "ok"
    record["weights"] = weights_file(task.key()) if kept else None
    return record


def evaluate_final(task: FinalTask, config: RunConfig, lock: CoreLock | None = None) -> Outcome:
    """Train ``task``'s student from scratch on the training set; its test accuracy."""
    def run() -> tuple:
        space = final_workspace(config)  # in a worker: reads the logits the driver cached
        kd = task.mode == "kd"
        training = dataclasses.replace(config.final.training, seed=task.seed,
                                       alpha=config.final.training.alpha if kd else 0.0)
        return (space.dataset, task.seed, space.final_train, space.dataset.test, training,
                space.final_signal if kd else None)

    return train_student(task.arch, run, lock, save_to=task.save_to)


def run_final(config: RunConfig, out: str | Path) -> dict:
    """Run (or finish) the final stage of the search in ``out``; the content of final.json."""
    run = RunDir(out)
    if not run.trials.exists():
        raise ValueError(f"{run.path} holds no search (no trials.jsonl); run the search first")
    trials = run.read_trials()
    students = _students(config, trials)
    if not students:
        raise ValueError(f"{run.path}: no arm has a successful trial to train")
    done = {run_key(r): r for r in run.read_lines(run.final_runs)}
    tasks = [final_task(run, s["source"], s["rank"], s["arch"], mode, seed)
             for s in students for mode in MODES for seed in range(config.final.seeds)]
    todo = [t for t in tasks if t.key() not in done]
    if not todo and (run.path / "final.json").exists():
        print(f"final stage of {run.path} is already complete; nothing to do")
        result = json.loads((run.path / "final.json").read_text())
        print(final_table(result))
        return result
    final_workspace(config)  # the teacher's logits of the training set, before any worker
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="final", unit="run",
               disable=not config.progress)
    with make_evaluator(config, CoreLock(), evaluate_final) as evaluator:
        for task in todo:
            evaluator.submit(task)
        while evaluator.in_flight:
            task, outcome = evaluator.next_finished()
            record = final_record(task, outcome)
            run.append_line(run.final_runs, record)
            done[task.key()] = record
            bar.update()
    bar.close()
    result = summarize(config, students, list(done.values()))
    run.write_json(run.path / "final.json", result)
    print(final_table(result))
    return result


def _students(config: RunConfig, trials: list[dict]) -> list[dict]:
    """The top-k of each arm, then the reference student nearest their latency."""
    students = []
    for arm in config.search.arms:
        for rank, trial in enumerate(top_trials([t for t in trials if t["arm"] == arm],
                                                config.final.top_k), start=1):
            students.append(searched_student(arm, rank, trial))
    space = get_space(config.space.name, **space_kwargs(config))
    if config.final.references and students and hasattr(space, "hand_designed"):
        students.append(_reference(config, space, students))
    return students


def searched_student(arm: str, rank: int, trial: dict) -> dict:
    """A final-stage student from ``arm``'s trial of that reward rank."""
    return {"source": arm, "rank": rank, "arch": trial["arch"], "latency_ms": trial["latency_ms"],
            "params": trial["params"], "flops": trial["flops"], "search_reward": trial["reward"],
            "search_val_acc": trial["val_acc"]}


def _reference(config: RunConfig, space, students: list[dict]) -> dict:
    data = workspace(config).dataset
    target = statistics.mean(s["latency_ms"] for s in students)
    options = [space.hand_designed(width) for width in (0.5, 0.75, 1.0, 1.25, 1.5)]
    with latency_source(config, data.input_size, data.num_classes, CoreLock()) as latency:
        timed = [(latency(str(arch)), arch) for arch in options]
    ms, arch = min(timed, key=lambda pair: abs(pair[0] - target))
    cost = count_cost(arch, data.input_size, data.num_classes)
    return {"source": "reference", "rank": 1, "arch": str(arch), "latency_ms": ms,
            "params": cost.params, "flops": cost.macs, "search_reward": None,
            "search_val_acc": None}


def summarize(config: RunConfig, students: list[dict], runs: list[dict]) -> dict:
    """final.json's content from the students and their finished runs."""
    by_key = {run_key(r): r for r in runs}
    for student in students:
        student["runs"] = [by_key[k] for k in sorted(by_key)
                           if k[:2] == (student["source"], student["rank"])]
    return {"final": dataclasses.asdict(config.final), "students": students,
            **statistics_of(students)}


def statistics_of(students: list[dict]) -> dict:
    """Each student's mean CLS and KD accuracy over its successful runs (set on the student),
    and the gain metric and 2x2 table of the arms' best: final.json's statistics."""
    for student in students:
        for mode in MODES:
            accs = [r["test_acc"] for r in student.get("runs", [])
                    if r.get("mode") == mode and r.get("status") == "ok"]
            student[f"{mode}_mean"] = statistics.mean(accs) if accs else None
    best = {s["source"]: s for s in students if s.get("rank") == 1}
    return {"gain": gain_metric(best), "table_2x2": table_2x2(best)}


def gain_metric(best: dict) -> dict | None:
    """[KD(AKDNet) - CLS(AKDNet)] - [KD(NASNet) - CLS(NASNet)], paired by seed: ``best`` maps
    "akd" and "nas" to their best student with its runs; seeds missing a run are left out."""
    if "akd" not in best or "nas" not in best:
        return None
    acc = {(s, r["mode"], r["seed"]): r["test_acc"] for s in ("akd", "nas")
           for r in best[s]["runs"] if r["status"] == "ok"}
    per_seed = [(acc["akd", "kd", seed] - acc["akd", "cls", seed])
                - (acc["nas", "kd", seed] - acc["nas", "cls", seed])
                for seed in sorted({seed for _, _, seed in acc})
                if all((s, m, seed) in acc for s in ("akd", "nas") for m in MODES)]
    return {"per_seed": per_seed, **mean_ci(per_seed),
            "same_architecture": best["akd"]["arch"] == best["nas"]["arch"]}


def mean_ci(values: list[float]) -> dict:
    """Mean, sample standard deviation and a two-sided 95% t confidence interval."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = statistics.mean(values)
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = statistics.stdev(values)
    half = _t95(n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def _t95(df: int) -> float:
    if df > max(_T95):
        return 1.96
    return _T95[max(k for k in _T95 if k <= df)]  # the next lower tabled df: conservative


def table_2x2(best: dict) -> dict:
    """Test accuracy of each arm's best, by how it was searched and how it was trained."""
    rows = {"hard_label": best.get("nas"), "distillation": best.get("akd")}
    return {searched: {f"trained_{'hard_label' if m == 'cls' else 'distillation'}":
                       (student or {}).get(f"{m}_mean") for m in MODES}
            for searched, student in rows.items()}


def final_table(result: dict) -> str:
    lines = ["", "final stage: test accuracy, mean over seeds",
             f"{'student':<12} {'CLS':>8} {'KD':>8} {'KD-CLS':>8} {'latency':>8}  architecture"]
    for s in result["students"]:
        cls, kd = s["cls_mean"], s["kd_mean"]
        diff = f"{kd - cls:+.4f}" if cls is not None and kd is not None else "-"
        lines.append(f"{s['source'] + ' #' + str(s['rank']):<12} {_pct(cls):>8} {_pct(kd):>8} "
                     f"{diff:>8} {s['latency_ms']:>6.3f}ms  {s['arch']}")
    gain = result["gain"]
    if gain and gain["mean"] is not None:
        ci = gain["ci95"]
        lines.append(f"AKD gain [KD-CLS](akd) - [KD-CLS](nas): {gain['mean']:+.4f} over "
                     f"{gain['n']} seeds" + (f", 95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci
                                              else ""))
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
