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
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from search_spaces import count_cost

from ..common.cores import CoreLock
from ..common.io import append_line, read_json, read_lines, write_json
from ..common.stats import mean
from ..components import build_space, preflight, run_latency
from ..config import RunConfig, load_config, save_config, search_changes
from ..errors import RunError
from ..execution import Outcome, final_workspace, make_evaluator, train_student, workspace
from ..search import RunDir, Trial, top_trials
from .statistics import (BUDGET_KEYS, MODES, final_records, final_table, run_key, searched_student,
                         summarize, training_budget)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalTask:
    source: str  # "akd", "nas" (the arm that found it) or "reference" (hand-designed)
    rank: int  # 1 = the arm's best by reward
    arch: str
    mode: str  # "cls" (labels only) or "kd"
    seed: int
    save_to: str | None = None  # the file that keeps the trained state dict; None: not kept
    kd: dict[str, float] | None = None  # the KD hyper-parameters the search chose for this
    # student (search.kd), used by its KD runs; None: final.training's
    budget: str | None = None  # the training budget (training_budget): stamped by the stage

    def key(self) -> tuple:
        return run_key(dataclasses.asdict(self))


def weights_file(key: tuple) -> str:
    """Where the final run ``key`` keeps its trained state dict, relative to the run directory
    (one file per budget, so a changed budget never overwrites another's weights)."""
    source, rank, mode, seed, budget = key
    return f"weights/{source}-{rank}-{mode}-seed{seed}" + (f"-{budget}" if budget else "") + ".pt"


def final_task(run: RunDir, source: str, rank: int, arch: str, mode: str, seed: int,
               kd: dict[str, float] | None = None, budget: str | None = None) -> FinalTask:
    """A final training of ``budget`` whose trained weights are kept in ``run``'s weights/."""
    save_to = run.path / weights_file((source, rank, mode, seed, budget))
    return FinalTask(source, rank, arch, mode, seed, save_to=str(save_to), kd=kd, budget=budget)


def config_budget(config: RunConfig) -> str:
    """The training budget of ``config``'s final stage."""
    return training_budget(dataclasses.asdict(config.final))


def final_record(task: FinalTask, outcome: Outcome) -> dict:
    """The final_runs.jsonl line of a finished final training."""
    record = {**dataclasses.asdict(task), "test_acc": outcome.accuracy,
              "val_acc": outcome.test_accuracy, "status": outcome.status,
              "error": outcome.error, "seconds": outcome.seconds}
    if outcome.stopping:  # a training to convergence: how long it ran, which epoch it kept
        record["stopping"] = outcome.stopping
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
        if kd and task.kd:  # the student's searched temperature and alpha
            training = dataclasses.replace(training, **task.kd)
        return (space.dataset, task.seed, space.final_train, space.final_test, training,
                space.final_signal if kd else None)

    # a training with a patience stops on the validation split, held out of the final training
    # set, so the test split is still touched once, at the end
    stop_on = (lambda: final_workspace(config).dataset.val) if config.final.training.patience \
        else None
    # the validation accuracy is kept beside the test accuracy (train_student's second split), so
    # that whatever is chosen from final trainings (a budget, a student) is chosen on it
    return train_student(task.arch, run, lock, save_to=task.save_to, val_split=stop_on,
                         test_split=lambda: final_workspace(config).dataset.val)


def train_final(config: RunConfig, tasks: list[FinalTask],
                path: Path) -> Iterator[tuple[FinalTask, dict]]:
    """Train ``tasks`` on ``config``'s evaluator, appending each record to ``path`` the moment
    it finishes (a killed stage loses no finished training); each task with its record."""
    if not tasks:
        return  # no evaluator (a process pool) started for nothing
    final_workspace(config)  # the teacher's logits of the training set, before any worker
    with make_evaluator(config, evaluate_final, CoreLock()) as evaluator:
        for task in tasks:
            evaluator.submit(task)
        while evaluator.in_flight:
            task, outcome = evaluator.next_finished()
            record = final_record(task, outcome)
            append_line(path, record)
            yield task, record


def train_missing(config: RunConfig, tasks: list[FinalTask], path: Path) -> list[dict]:
    """Train those of ``tasks`` that ``path`` does not record yet at ``config``'s budget (a
    killed stage resumes; a changed budget trains again); every record of ``path`` afterwards."""
    budget = config_budget(config)
    tasks = [dataclasses.replace(t, budget=budget) for t in tasks]
    done = {run_key(r) for r in read_lines(path)}
    for _ in train_final(config, [t for t in tasks if t.key() not in done], path):
        pass
    return read_lines(path)


def run_final(config: RunConfig, out: str | Path) -> dict:
    """Run (or finish) the final stage of the search in ``out``; the content of final.json."""
    run = RunDir(out)
    preflight(config)  # a changed evaluator or device is refused before anything is written
    if not run.trials.exists():
        raise RunError(f"{run.path} holds no search (no trials.jsonl); run the search first")
    if run.config.exists():
        changed = search_changes(load_config(run.config), config)
        if changed:
            raise RunError(f"the config differs from {run.config}'s in {', '.join(changed)}; "
                           "the final stage may change final.* (and where it runs), not the "
                           "search it reads")
    save_config(config, run.config)  # what ran: a changed final budget is recorded
    trials = run.read_trials()
    students = _students(config, trials)
    if not students:
        raise RunError(f"{run.path}: no arm has a successful trial to train")
    budget = config_budget(config)
    # only this budget's records count: a changed final budget trains every student again
    done = {run_key(r): r for r in final_records(run.path) if r["budget"] == budget}
    tasks = [final_task(run, s["source"], s["rank"], s["arch"], mode, seed, s.get("kd"), budget)
             for s in students for mode in MODES for seed in range(config.final.seeds)]
    todo = [t for t in tasks if t.key() not in done]
    kept = run.path / "final.json"
    if not todo and kept.exists() and _budget_of(kept) == budget:
        log.info(f"final stage of {run.path} is already complete; nothing to do")
        result = read_json(kept, ("students",))
        log.info(final_table(result))
        return result
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="final", unit="run",
               disable=not config.progress)
    for task, record in train_final(config, todo, run.final_runs):
        done[task.key()] = record
        bar.update()
    bar.close()
    result = summarize(config, students, list(done.values()))
    write_json(run.path / "final.json", result)
    log.info(final_table(result))
    return result


def _budget_of(final_json: Path) -> str | None:
    """The budget final.json was written for (computed for one from before budgets were kept)."""
    result = read_json(final_json)
    final = result.get("final") or {}
    return result.get("budget") or (training_budget(final) if all(k in final for k in BUDGET_KEYS)
                                    else None)


def _students(config: RunConfig, trials: list[Trial]) -> list[dict]:
    """The top-k of each arm, then the reference student nearest their latency."""
    students = []
    for arm in config.search.arms:
        for rank, trial in enumerate(top_trials([t for t in trials if t.arm == arm],
                                                config.final.top_k), start=1):
            students.append(searched_student(arm, rank, trial))
    space = build_space(config)
    if config.final.references and students and space.hand_designed() is not None:
        students.append(_reference(config, space, students))
    return students


def _reference(config: RunConfig, space, students: list[dict]) -> dict:
    """The hand-designed student nearest the arms' winners in latency, every one of them timed
    now, through this run's latency source on this machine (a search resumed on another host
    recorded its winners' latencies there: comparing those with this host's would pick the
    reference by the difference of the machines)."""
    data = workspace(config).dataset
    options = [space.hand_designed(width) for width in (0.5, 0.75, 1.0, 1.25, 1.5)]
    with run_latency(config, data.input_size, data.num_classes, CoreLock()) as latency:
        target = mean([latency(s["arch"]) for s in students])
        timed = [(latency(str(arch)), arch) for arch in options]
    ms, arch = min(timed, key=lambda pair: abs(pair[0] - target))
    cost = count_cost(arch, data.input_size, data.num_classes)
    return {"source": "reference", "rank": 1, "arch": str(arch), "latency_ms": ms,
            "params": cost.params, "macs": cost.macs, "search_reward": None,
            "search_val_acc": None, "matched_latency_ms": target}
