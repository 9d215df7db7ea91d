"""The study: does searching with the teacher find students that learn more from it?

One command runs every part into one directory, each part resumable after ``kill -9`` (a finished
part is read back, a killed search resumes, a final training already recorded is not redone):

1. **Searches.** The twin search (``akd`` arm with the first teacher, ``nas`` arm with labels
   only) for every search seed, and the ``akd`` arm alone with each further teacher (the ``nas``
   arm does not depend on the teacher, so its twin would be the same search again).
2. **Final budget.** The main search's best ``akd`` student trained with labels only and with KD
   at each epoch count of ``final_epochs``; the chosen budget is the first count after which
   doubling gains less than ``tolerance`` in both modes (the largest if none): "converged" as
   the study uses the word.
3. **Final stage** of the main twin search at that budget: the AKD paper's 2x2 table and gain
   metric over ``final_seeds`` seeds, with the hand-designed reference at the same latency.
4. **Strategies** on the same task and budget (the ``akd`` arm, the first teacher, seed 0):
   ``lstm_ppo`` (the main search itself), the same with predictor screening, ``autokd`` and
   random search; each one's best student distilled ``final_seeds`` times at the final budget.

The summary (:func:`summarize`) reads only files the parts wrote, so it can be recomputed from
the files kept in the repository (:func:`keep`); the third question (do searches with the same
teacher converge to similar students, and with different teachers not?) is answered there from
the searches' trials, against random pairs drawn without training.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import dacite
import numpy as np

from search_spaces import SearchSpace

from akd.arms import searched_with
from akd.common import (append_line, check_out, mean_ci, read_json, read_lines, total_variation,
                        write_json)
from akd.components import build_space
from akd.config import RunConfig, load_config, load_config_and_section, with_changes
from akd.distill import TEACHERS, resolve_device
from akd.errors import ConfigError, RunError
from akd.final import FinalTask, run_final, statistics_of, train_missing
from akd.latency import device_name
from akd.reporting import decision_agreement, late_trials_policy, policy_distance
from akd.search import TARGET_FILE, RunDir, Trial, best_so_far, recorded_target, top_trials

from .curves import trainings_to_reach
from .runner import STRATEGIES, Planned, plan_configs, run_searches, strategy_changes

log = logging.getLogger(__name__)

SCREENED = "+screening"  # a strategy name's suffix: the same strategy with predictor screening
RANDOM_PAIRS = 2000  # simulated pairs of random searches behind the "random pairs" figures


@dataclass(frozen=True)
class StudyOptions:
    """The study's own settings (the ``study:`` section of its preset)."""

    teachers: list[str] = field(default_factory=lambda: ["vgg", "resnet"])  # the first: main
    search_seeds: int = 2  # searches per teacher
    final_seeds: int = 5  # trainings of every final student per mode
    final_epochs: list[int] = field(default_factory=lambda: [1, 2, 4])  # budgets probed
    probe_seeds: int = 2  # trainings per mode and budget of the probe
    tolerance: float = 0.005  # a doubling that gains less has converged
    strategies: list[str] = field(
        default_factory=lambda: ["lstm_ppo", "lstm_ppo+screening", "autokd", "random"])
    screening: dict = field(default_factory=lambda: {"factor": 4})  # search.screening of the
    # screened strategies

    def __post_init__(self) -> None:
        if not self.teachers or len(set(self.teachers)) < len(self.teachers):
            raise ConfigError(f"study.teachers must name distinct teachers, got {self.teachers}")
        unknown = [t for t in self.teachers if t not in TEACHERS]
        if unknown:
            raise ConfigError(f"unknown teacher {unknown[0]!r} in study.teachers; allowed: "
                              f"{', '.join(TEACHERS)}")
        if self.search_seeds < 2:
            raise ConfigError("study.search_seeds must be >= 2: the same teacher's searches are "
                              f"compared across seeds; got {self.search_seeds}")
        if self.final_seeds < 2 or self.probe_seeds < 1:
            raise ConfigError(f"study.final_seeds must be >= 2 (an interval) and probe_seeds "
                              f">= 1, got {self.final_seeds} and {self.probe_seeds}")
        epochs = self.final_epochs
        if not epochs or any(not isinstance(e, int) or e < 1 for e in epochs) \
                or sorted(set(epochs)) != list(epochs):
            raise ConfigError(f"study.final_epochs must be increasing epoch counts >= 1, got "
                              f"{epochs}")
        if not 0 <= self.tolerance < 1:
            raise ConfigError(f"study.tolerance must be in [0, 1), got {self.tolerance}")
        unknown = [s for s in self.strategies if s.removesuffix(SCREENED) not in STRATEGIES
                   or STRATEGIES[s.removesuffix(SCREENED)].space is not None]
        if unknown or "lstm_ppo" not in self.strategies:
            allowed = [s for s, v in STRATEGIES.items() if v.space is None]
            raise ConfigError(f"study.strategies must include lstm_ppo (the main search) and "
                              f"name strategies of the config's space, optionally with "
                              f"{SCREENED}: {', '.join(allowed)}; got {self.strategies}")


def load_study(path: str | Path, overrides: list[str] = ()) -> tuple[RunConfig, StudyOptions]:
    """The searches' config and the study's options from a study preset (``study.key=value``
    overrides go to the options)."""
    config, own = load_config_and_section(path, overrides, "study")
    try:
        options = dacite.from_dict(StudyOptions, own, config=dacite.Config(strict=True))
    except dacite.DaciteError as error:
        raise ConfigError(f"study: {error}") from None
    check_study(config, options)
    return config, options


def check_study(config: RunConfig, options: StudyOptions) -> None:
    if sorted(config.search.arms) != ["akd", "nas"]:
        raise ConfigError("the study's searches are twin searches: set search.arms: [akd, nas]")
    if config.search.kd.searched:
        raise ConfigError("the study compares students at fixed KD settings: leave search.kd "
                          "unset")


# ---- where each part lives -------------------------------------------------------------------

def search_name(teacher: str, seed: int) -> str:
    return f"{teacher}-seed{seed}"


def search_dir(out: Path, teacher: str, seed: int) -> Path:
    return out / "searches" / search_name(teacher, seed)


def strategy_dir(out: Path, options: StudyOptions, strategy: str) -> Path:
    """The main search for lstm_ppo (the same search), a search of its own for the others."""
    if strategy == "lstm_ppo":
        return search_dir(out, options.teachers[0], 0)
    return out / "strategies" / strategy.replace("+", "-")


def search_changes(options: StudyOptions, teacher: str, seed: int) -> dict:
    """A twin search's changes of the base config (the main teacher's searches have both arms,
    the other teachers' the akd arm only)."""
    arms = ["akd", "nas"] if teacher == options.teachers[0] else ["akd"]
    return {"teacher.name": teacher, "search.seed": seed, "search.arms": arms,
            "final.enabled": False}


def strategy_search_changes(options: StudyOptions, strategy: str) -> dict:
    """A strategy's search: the main teacher's seed-0 search, by the strategy's controller, of
    the akd arm, screened as ``study.screening`` says for a screened strategy."""
    changes = {**search_changes(options, options.teachers[0], 0),
               **strategy_changes(strategy.removesuffix(SCREENED)), "search.arms": ["akd"]}
    if strategy.endswith(SCREENED):
        changes.update({f"search.screening.{k}": v for k, v in options.screening.items()})
    return changes


def study_searches(options: StudyOptions) -> list[Planned]:
    """The study's twin searches (teachers x seeds), in ``searches/`` as :func:`search_dir`
    names them."""
    return [Planned(search_name(t, s), search_changes(options, t, s))
            for t in options.teachers for s in range(options.search_seeds)]


def strategy_searches(options: StudyOptions) -> list[Planned]:
    """The strategies' own searches, in ``strategies/`` as :func:`strategy_dir` names them
    (lstm_ppo's is the main search, not run again)."""
    return [Planned(strategy_dir(Path(), options, s).name, strategy_search_changes(options, s))
            for s in options.strategies if s != "lstm_ppo"]


def final_config(base: RunConfig, options: StudyOptions, epochs: int) -> RunConfig:
    return with_changes(base, {"teacher.name": options.teachers[0], "final.enabled": True,
                               "final.seeds": options.final_seeds,
                               "final.training.epochs": epochs})


# ---- running it ------------------------------------------------------------------------------

def run_study(base: RunConfig, options: StudyOptions, out: str | Path) -> dict:
    """Run (or resume, or read back) every part into ``out``; the summary (also study.json)."""
    recorded = check_out(out, "options.json", "a study") / "options.json"
    out = Path(out)
    check_study(base, options)
    # every search's config, parts, devices and folder, checked before any file is written
    plan_configs(base, study_searches(options), out / "searches")
    plan_configs(base, strategy_searches(options), out / "strategies")
    if recorded.exists():
        before = read_json(recorded)
        changed = [k for k, v in dataclasses.asdict(options).items() if before.get(k) != v]
        if changed:
            raise RunError(f"{out} holds a study with other settings (study.{changed[0]}: "
                           f"{before.get(changed[0])!r}); use another --out or the same preset")
    out.mkdir(parents=True, exist_ok=True)
    write_json(recorded, dataclasses.asdict(options))
    where = host(base)
    with _part(out, "searches", where):
        run_searches(base, study_searches(options), out / "searches")
    main = search_dir(out, options.teachers[0], 0)
    with _part(out, "final budget", where):
        epochs = choose_epochs(probe_final_budget(base, options, main, out), options)
    with _part(out, "final stage", where):
        run_final(final_config(base, options, epochs), main)
    with _part(out, "strategies", where):
        run_searches(base, strategy_searches(options), out / "strategies")
        train_strategy_students(base, options, out, epochs)
    summary = summarize(out)
    write_json(out / "study.json", summary)
    return summary


def host(config: RunConfig) -> str:
    """What a part ran on, for its timing: the trainings' device, named as the benchmark
    table's sessions name it, and the evaluator's workers."""
    return f"{device_name(resolve_device(config.proxy.device))}, {config.evaluator.workers} workers"


class _part:
    """Times a part of the study into parts.jsonl, one line per session that finished it, with
    the machine it ran on (a study resumed elsewhere has parts timed on different machines)."""

    def __init__(self, out: Path, name: str, host: str) -> None:
        self.out, self.name, self.host = out, name, host

    def __enter__(self) -> None:
        log.info(f"study: {self.name}")
        self.start = time.perf_counter()

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            append_line(self.out / "parts.jsonl",
                        {"part": self.name, "seconds": time.perf_counter() - self.start,
                         "host": self.host})


def _best_trained(path: Path, arm: str = "akd") -> Trial:
    trials = [t for t in RunDir(path).read_trials() if t.arm == arm]
    best = top_trials(trials, 1)
    if not best:
        raise RunError(f"{path}: the {arm} arm has no successful trial")
    return best[0]


def probe_final_budget(base: RunConfig, options: StudyOptions, main: Path, out: Path) -> Path:
    """Train the main search's best akd student at every probed budget, both modes; the file."""
    student = _best_trained(main)
    path = out / "final-budget.jsonl"
    for epochs in options.final_epochs:
        train_missing(final_config(base, options, epochs),
                      [FinalTask(f"epochs{epochs}", 1, student.arch, mode, seed)
                       for mode in ("cls", "kd") for seed in range(options.probe_seeds)], path)
    return path


def choose_epochs(path: Path, options: StudyOptions) -> int:
    return final_budget(read_lines(path), options.final_epochs, options.tolerance)["chosen"]


def final_budget(records: list[dict], epochs: list[int], tolerance: float) -> dict:
    """Each probed budget's mean accuracy per mode, and the chosen budget (module docstring)."""
    means = {e: {m: mean_ci([r["test_acc"] for r in records if r["source"] == f"epochs{e}"
                             and r["mode"] == m and r["status"] == "ok"])
                 for m in ("cls", "kd")} for e in epochs}
    chosen, converged, last_gains = epochs[-1], False, None
    for shorter, longer in zip(epochs, epochs[1:]):
        gains = [means[longer][m]["mean"] - means[shorter][m]["mean"] for m in ("cls", "kd")
                 if means[longer][m]["mean"] is not None and means[shorter][m]["mean"] is not None]
        last_gains = dict(zip(("cls", "kd"), gains)) if len(gains) == 2 else None
        if len(gains) == 2 and max(gains) < tolerance:
            chosen, converged = shorter, True
            break
    arch = next((r["arch"] for r in records), None)
    # last_doubling: what the last doubling compared gained per mode (why the budget is chosen)
    return {"epochs": epochs, "tolerance": tolerance, "student": arch, "chosen": chosen,
            "converged": converged, "last_doubling": last_gains,
            "accuracy": {str(e): v for e, v in means.items()}}


def train_strategy_students(base: RunConfig, options: StudyOptions, out: Path,
                            epochs: int) -> None:
    """Each strategy's best student distilled final_seeds times (lstm_ppo's best is the final
    stage's akd student, already trained)."""
    tasks = [FinalTask(strategy, 1, _best_trained(strategy_dir(out, options, strategy)).arch,
                       "kd", seed)
             for strategy in options.strategies if strategy != "lstm_ppo"
             for seed in range(options.final_seeds)]
    train_missing(final_config(base, options, epochs), tasks, out / "strategies-final.jsonl")


# ---- the summary: from the files alone -------------------------------------------------------

def summarize(out: str | Path) -> dict:
    """Every number of the study from the files in ``out`` (a study directory, or the files
    :func:`keep` copied from one)."""
    out = Path(out)
    options = dacite.from_dict(StudyOptions, json.loads((out / "options.json").read_text()))
    main = search_dir(out, options.teachers[0], 0)
    config = _run_config(main)
    space = build_space(config)
    target = recorded_target(config, main)
    searches = {}
    for teacher in options.teachers:
        for seed in range(options.search_seeds):
            path = search_dir(out, teacher, seed)
            searches[search_name(teacher, seed)] = {
                arm: search_summary(path, arm) for arm in _run_config(path).search.arms}
    final = final_result(main)
    budget = final_budget(read_lines(out / "final-budget.jsonl", repair=False),
                          options.final_epochs, options.tolerance)
    return {"teachers": options.teachers, "search_seeds": options.search_seeds,
            "final_seeds": options.final_seeds,
            "setup": _setup(config, target.target_ms if target else None, budget["chosen"]),
            "parts": _parts(out), "searches": searches, "final_budget": budget,
            "main": _main_result(final),
            "agreement": agreement(out, options, space),
            "strategies": strategies_summary(out, options, final)}


def _run_config(path: Path) -> RunConfig:
    return load_config(RunDir(path).config)


def _setup(config: RunConfig, target_ms: float | None, epochs: int) -> dict:
    return {"dataset": config.data.name, "space": config.space.preset or config.space.name,
            "trials": config.search.trials, "batch_size": config.search.batch_size,
            "controller": config.controller.name, "proxy_images": config.data.proxy_size,
            "proxy_epochs": config.proxy.epochs, "alpha": config.proxy.alpha,
            "temperature": config.proxy.temperature, "target_ms": target_ms,
            "target_measured": config.reward.target_ms == "auto",
            "final_train_images": config.final.train_images,
            "final_test_images": config.final.test_images, "final_epochs": epochs}


def _parts(out: Path) -> dict:
    """Each part's seconds in all and per machine (a line from before machines were recorded:
    "unrecorded")."""
    parts: dict[str, dict] = {}
    for line in read_lines(out / "parts.jsonl", repair=False):
        part = parts.setdefault(line["part"], {"seconds": 0.0, "machines": {}})
        part["seconds"] += line["seconds"]
        where = line.get("host", "unrecorded")
        part["machines"][where] = part["machines"].get(where, 0.0) + line["seconds"]
    return parts


def _trials(path: Path, predicted: bool = False) -> list[Trial]:
    """A search's recorded trials, read as they are (the summary never repairs a file)."""
    return RunDir(path).read_trials(repair=False, predicted=predicted)


def search_summary(path: Path, arm: str) -> dict:
    """One arm's search: its best, best-so-far curve, when it last improved, its policy entropy
    per step (LSTM controllers, from TensorBoard) as a fraction of the uniform policy's."""
    trials = [t for t in _trials(path) if t.arm == arm]
    curve = best_so_far(trials)
    best = top_trials(trials, 1)[0]
    return {"trainings": len(trials), "best": {k: getattr(best, k) for k in
                                               ("arch", "reward", "val_acc", "latency_ms")},
            "curve": curve, "last_improvement": trainings_to_reach(curve, curve[-1]),
            "entropy": policy_entropy(path, arm)}


def policy_entropy(path: Path, arm: str) -> list[float] | None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(path / "tensorboard" / arm), size_guidance={"scalars": 0})
    events.Reload()
    if "controller/policy_entropy" not in events.Tags()["scalars"]:
        return None
    space = build_space(_run_config(path))
    uniform = sum(math.log(n) for n in space.choices)
    return [e.value / uniform for e in events.Scalars("controller/policy_entropy")]


def final_result(main: Path) -> dict:
    """The main final stage: its students (from final.json) with their runs and statistics
    recomputed from final_runs.jsonl, so that no number is taken on trust."""
    students = [{k: v for k, v in s.items() if k != "runs"}
                for s in json.loads((main / "final.json").read_text())["students"]]
    runs = read_lines(RunDir(main).final_runs, repair=False)
    for student in students:
        student["runs"] = [r for r in runs if (r["source"], r["rank"]) ==
                           (student["source"], student["rank"])]
    return {"students": students, **statistics_of(students)}


def _main_result(final: dict) -> dict:
    students = []
    for s in final["students"]:
        runs = s.get("runs", [])
        students.append({"source": s["source"], "rank": s["rank"], "arch": s["arch"],
                         "latency_ms": s["latency_ms"], "params": s["params"],
                         **{m: mean_ci([r["test_acc"] for r in runs if r["mode"] == m
                                        and r["status"] == "ok"]) for m in ("cls", "kd")}})
    return {"students": students, "table_2x2": final["table_2x2"], "gain": final["gain"]}


def agreement(out: Path, options: StudyOptions, space: SearchSpace) -> dict:
    """The paper's third question: distance between the policies of two searches (their last
    quarter's choice frequencies: the same estimator for every controller) and agreement of
    their best students, for pairs of searches with different seeds and the same teacher,
    different teachers or labels only, and random pairs (two random searches of the same
    length, simulated: their choices do not depend on any training)."""
    arms = {}
    for teacher in options.teachers:
        for seed in range(options.search_seeds):
            path = search_dir(out, teacher, seed)
            trials = _trials(path)
            for arm in _run_config(path).search.arms:
                mine = [t for t in trials if t.arm == arm]
                key = "labels" if arm == searched_with(distills=False) else teacher
                arms[(key, seed)] = (late_trials_policy(arm, mine, space.choices),
                                     top_trials(mine, 1)[0], len(mine))
    pairs = []
    keys = sorted(arms)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            # one kind of pair, and never two searches of one seed: they start from the same
            # controller and draw the same random numbers, alike whatever their teachers
            if (a[0] == "labels") != (b[0] == "labels") or a[1] == b[1]:
                continue
            kind = "labels only" if a[0] == "labels" else (
                "same teacher" if a[0] == b[0] else "different teachers")
            (pa, best_a, _), (pb, best_b, _) = arms[a], arms[b]
            distance = policy_distance(pa, pb)
            pairs.append({"a": f"{a[0]}-seed{a[1]}", "b": f"{b[0]}-seed{b[1]}", "kind": kind,
                          "policy_tv": distance["mean_tv"],
                          "best_agreement": decision_agreement(best_a, best_b)})
    length = max(n for _, _, n in arms.values())
    kinds = {kind: {"policy_tv": mean_ci([p["policy_tv"] for p in pairs if p["kind"] == kind]),
                    "best_agreement": mean_ci([p["best_agreement"] for p in pairs
                                               if p["kind"] == kind])}
             for kind in ("same teacher", "different teachers", "labels only")}
    return {"pairs": pairs, "kinds": kinds, "random": random_pairs(space.choices, length)}


def random_pairs(choices: tuple[int, ...], trials: int, pairs: int = RANDOM_PAIRS,
                 seed: int = 0) -> dict:
    """Policy distance (the same late-quarter estimator) and best-student agreement of two
    random searches of ``trials`` trials, over ``pairs`` seeded simulated pairs: mean and the
    central 95% of the pairs."""
    rng = np.random.default_rng(seed)
    late = max(1, math.ceil(0.25 * trials))
    tvs, agreements = [], []
    for _ in range(pairs):
        draws = [rng.integers(0, choices, size=(late, len(choices))) for _ in range(2)]
        tvs.append(float(np.mean([total_variation(*[np.bincount(d[:, k], minlength=n) / late
                                                    for d in draws])
                                  for k, n in enumerate(choices)])))
        agreements.append(float(np.mean(rng.integers(0, choices) == rng.integers(0, choices))))
    return {"pairs": pairs, "late_trials": late,
            "policy_tv": {"mean": float(np.mean(tvs)),
                          "central95": [float(v) for v in np.percentile(tvs, [2.5, 97.5])]},
            "best_agreement": {"mean": float(np.mean(agreements)),
                               "central95": [float(v) for v in
                                             np.percentile(agreements, [2.5, 97.5])],
                               "chance": float(np.mean([1 / n for n in choices]))}}


def strategies_summary(out: Path, options: StudyOptions, final: dict) -> dict:
    """Each strategy's best student, its distilled accuracy (with an interval), its difference
    to lstm_ppo's paired by seed, and the trainings (and candidates asked) it used."""
    main_akd = next(s for s in final["students"] if s["source"] == "akd" and s["rank"] == 1)
    kd = {("lstm_ppo", r["seed"]): r["test_acc"] for r in main_akd["runs"]
          if r["mode"] == "kd" and r["status"] == "ok"}
    kd.update({(r["source"], r["seed"]): r["test_acc"]
               for r in read_lines(out / "strategies-final.jsonl", repair=False)
               if r["status"] == "ok"})
    result = {}
    for strategy in options.strategies:
        path = strategy_dir(out, options, strategy)
        asked = [t for t in _trials(path, predicted=True) if t.arm == "akd"]
        trained = [t for t in asked if t.trained]
        best = top_trials(trained, 1)[0]
        mine = [kd[(strategy, s)] for s in range(options.final_seeds) if (strategy, s) in kd]
        paired = [kd[(strategy, s)] - kd[("lstm_ppo", s)] for s in range(options.final_seeds)
                  if (strategy, s) in kd and ("lstm_ppo", s) in kd]
        result[strategy] = {"arch": best.arch, "latency_ms": best.latency_ms,
                            "search_reward": best.reward, "trainings": len(trained),
                            "asked": len(asked), "curve": best_so_far(trained),
                            "kd": mean_ci(mine), "minus_lstm_ppo": mean_ci(paired)}
    return result


# ---- keeping the result in the repository ----------------------------------------------------

KEPT = ("config.yaml", "trials.jsonl", "final.json", "final_runs.jsonl", TARGET_FILE,
        "timing.json")


def keep(out: str | Path, dest: str | Path, command: str) -> Path:
    """Keep a finished study in ``dest`` (e.g. docs/study): under results/ what
    :func:`summarize` reads, copied from study directory ``out`` (the searches' TensorBoard
    files too; no weights, no checkpoints), and ``command``; an earlier copy is replaced
    whole. The kept results directory."""
    out, dest = Path(out), Path(dest)
    if not (out / "study.json").exists():
        raise RunError(f"{out} holds no finished study (no study.json); run it first")
    results, old = dest / "results", dest / "results.old"
    staging = dest / "results.partial"
    if old.exists() and not results.exists():  # an earlier keep died between its two renames
        old.rename(results)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("options.json", "parts.jsonl", "final-budget.jsonl", "strategies-final.jsonl"):
        shutil.copy2(out / name, staging / name)
    (staging / "command.txt").write_text(command + "\n")
    for run in sorted(p.parent for p in out.glob("*/*/config.yaml")):
        target = staging / run.relative_to(out)
        target.mkdir(parents=True)
        for name in KEPT:
            if (run / name).exists():
                shutil.copy2(run / name, target / name)
        if (run / "tensorboard").exists():
            shutil.copytree(run / "tensorboard", target / "tensorboard")
    # the earlier copy moves aside and goes only once the new one is in place: a crash leaves
    # one whole copy under results/ or results.old/, never a half-deleted one
    shutil.rmtree(old, ignore_errors=True)
    if results.exists():
        results.rename(old)
    staging.rename(results)
    shutil.rmtree(old, ignore_errors=True)
    return results


def kept_command(results: str | Path) -> str:
    """The command that produced the kept study in ``results``."""
    return (Path(results) / "command.txt").read_text().strip()
