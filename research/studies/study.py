"""The study, with the search as the unit: does searching with the teacher find students that
learn more from it, and do the students it finds beat hand design?

One command runs every part into one directory, each part resumable after ``kill -9`` (a finished
search is read back, a killed one resumes, a final training already recorded is not redone):

1. **Searches**, each with a seed of its own (no two searches draw the same random numbers):
   ``twins`` twin searches with the first teacher (its ``akd`` arm distils, its ``nas`` arm
   trains on labels; within a twin the arms start from the same first batch), ``teacher_searches``
   ``akd``-arm searches with each further teacher, and ``strategy_searches`` ``akd``-arm searches
   by each further strategy (the twins' ``akd`` arms are ``lstm_ppo``'s). The first twin measures
   the reward's latency target as the demo does; every other search is given the same number, so
   one reward is used throughout.
2. **Re-timing**: every search's winner, the space's hand-designed students and the target's
   sample measured again, one after the other, on one machine, with an empty cache: the
   latencies every comparison with hand design uses (a search's own latencies may come from
   another sitting, or another host).
3. **Final trainings** at the budget of ``final:`` (the ladder's top rung): each twin's two
   winners with labels only and with KD, the hand-designed student nearest in latency to any
   searched winner with both, and the strategies' winners with KD, ``final_seeds`` seeds each; a
   student found by two searches is trained once. Each training records its validation and its
   test accuracy; nothing is chosen on the test split.

Every number of the document is computed from the files these parts write
(:mod:`research.studies.study_stats`), so that it can be recomputed from the files kept in the
repository (:func:`keep`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import dacite

from akd.common import CoreLock, append_line, check_out, read_json, write_json
from akd.components import build_space, run_latency
from akd.config import RunConfig, load_config_and_section, with_changes
from akd.distill import TEACHERS, resolve_device
from akd.errors import ConfigError, RunError
from akd.execution import workspace
from akd.final import FinalTask, train_missing
from akd.latency import device_name
from akd.search import TARGET_FILE, RunDir, Trial, recorded_target, top_trials

from .runner import STRATEGIES, Planned, plan_configs, run_searches, strategy_changes

log = logging.getLogger(__name__)

SEED_BLOCK = 100  # group g's searches have seeds 100 g .. 100 g + 99: never shared
FINAL_RUNS = "final_runs.jsonl"
RETIMED = "retimed.json"


@dataclass(frozen=True)
class StudyOptions:
    """The study's own settings (the ``study:`` section of its preset)."""

    teachers: list[str] = field(default_factory=lambda: ["vgg", "resnet"])  # the first: twins
    twins: int = 8  # twin searches with the first teacher
    teacher_searches: int = 3  # akd-arm searches with each further teacher
    strategies: list[str] = field(default_factory=lambda: ["tpe", "autokd", "random"])
    strategy_searches: int = 3  # akd-arm searches by each strategy (lstm_ppo: the twins)
    final_seeds: int = 3  # trainings of every final student per mode
    widths: list[float] = field(default_factory=lambda: [0.5, 0.75, 1.0, 1.25, 1.5])  # the
    # hand-designed students' width multipliers

    def __post_init__(self) -> None:
        if not self.teachers or len(set(self.teachers)) < len(self.teachers):
            raise ConfigError(f"study.teachers must name distinct teachers, got {self.teachers}")
        unknown = [t for t in self.teachers if t not in TEACHERS]
        if unknown:
            raise ConfigError(f"unknown teacher {unknown[0]!r} in study.teachers; allowed: "
                              f"{', '.join(TEACHERS)}")
        for name in ("twins", "teacher_searches", "strategy_searches", "final_seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 2 <= value <= SEED_BLOCK:
                raise ConfigError(f"study.{name} must be a whole number from 2 (an interval "
                                  f"over searches or seeds) to {SEED_BLOCK}, got {value!r}")
        allowed = [s for s, v in STRATEGIES.items() if v.space is None and s != "lstm_ppo"]
        unknown = [s for s in self.strategies if s not in allowed]
        if unknown or len(set(self.strategies)) < len(self.strategies):
            raise ConfigError(f"study.strategies must name distinct strategies of the config's "
                              f"space other than lstm_ppo (the twins' akd arms are its "
                              f"searches): {', '.join(allowed)}; got {self.strategies}")
        if not self.widths or any(not isinstance(w, (int, float)) or w <= 0
                                  for w in self.widths):
            raise ConfigError(f"study.widths must be positive width multipliers, got "
                              f"{self.widths}")


def load_study(path: str | Path, overrides: list[str] = ()) -> tuple[RunConfig, StudyOptions]:
    """The searches' config and the study's options from a study preset (``study.key=value``
    overrides go to the options)."""
    config, own = load_config_and_section(path, overrides, "study")
    try:
        options = dacite.from_dict(StudyOptions, own, config=dacite.Config(strict=True))
    except dacite.WrongTypeError as error:  # worded as the config's own keys are
        expected = getattr(error.field_type, "__name__", str(error.field_type))
        given = own  # the value as written: dacite's may be its half-built collection
        for part in error.field_path.split("."):
            given = given.get(part) if isinstance(given, dict) else given
        raise ConfigError(f"study.{error.field_path} = {given!r} has the wrong type; "
                          f"expected {expected}") from None
    except dacite.DaciteError as error:
        raise ConfigError(f"study: {error}") from None
    check_study(config)
    return config, options


def check_study(config: RunConfig) -> None:
    if sorted(config.search.arms) != ["akd", "nas"]:
        raise ConfigError("the study's searches are twin searches: set search.arms: [akd, nas]")
    if config.search.kd.searched:
        raise ConfigError("the study compares students at fixed KD settings: leave search.kd "
                          "unset")
    if config.final.references:
        raise ConfigError("the study trains the hand-designed students itself (study.widths): "
                          "set final.references: false")


# ---- the searches ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StudySearch:
    """One search of the study."""

    group: str  # "searches" (twins and further teachers) or "strategies": its folder's parent
    kind: str  # "twin", "teacher" or "strategy"
    teacher: str
    strategy: str  # "lstm_ppo" for the twins and the teachers' searches
    seed: int

    @property
    def name(self) -> str:
        label = self.teacher if self.kind != "strategy" else self.strategy
        return f"{label}-seed{self.seed}"

    @property
    def folder(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def arms(self) -> list[str]:
        return ["akd", "nas"] if self.kind == "twin" else ["akd"]


def planned_searches(options: StudyOptions) -> list[StudySearch]:
    """Every search of the study, twins first; seeds in disjoint blocks per group."""
    first = options.teachers[0]
    searches = [StudySearch("searches", "twin", first, "lstm_ppo", i)
                for i in range(options.twins)]
    for g, teacher in enumerate(options.teachers[1:], start=1):
        searches += [StudySearch("searches", "teacher", teacher, "lstm_ppo", SEED_BLOCK * g + i)
                     for i in range(options.teacher_searches)]
    for g, strategy in enumerate(options.strategies, start=len(options.teachers)):
        searches += [StudySearch("strategies", "strategy", first, strategy, SEED_BLOCK * g + i)
                     for i in range(options.strategy_searches)]
    return searches


def search_changes(search: StudySearch, target_ms: float | None) -> dict:
    """The search's changes of the base config; ``target_ms`` None: measured by this search."""
    changes = {"teacher.name": search.teacher, "search.seed": search.seed,
               "search.arms": search.arms, "final.enabled": False}
    if search.kind == "strategy":
        changes.update(strategy_changes(search.strategy))
    if target_ms is not None:
        changes["reward.target_ms"] = target_ms
    return changes


def _plans(searches: list[StudySearch], group: str, first: StudySearch,
           target_ms: float | None) -> list[Planned]:
    return [Planned(s.name, search_changes(s, None if s == first else target_ms))
            for s in searches if s.group == group]


def run_all_searches(base: RunConfig, options: StudyOptions, out: Path) -> float:
    """Every search (measured by the first twin, the target given to the others); the
    reward's latency target."""
    searches = planned_searches(options)
    first = searches[0]
    run_searches(base, _plans([first], "searches", first, None), out / "searches")
    target = recorded_target(with_changes(base, search_changes(first, None)), out / first.folder)
    if target is None or target.target_ms == "auto":
        raise RunError(f"{out / first.folder} recorded no latency target")
    for group in ("searches", "strategies"):
        run_searches(base, _plans(searches, group, first, target.target_ms), out / group)
    return float(target.target_ms)


def check_searches(base: RunConfig, options: StudyOptions, out: Path) -> None:
    """Every search's config and folder checked before anything is written (a placeholder
    target stands for the one the first twin will measure)."""
    searches = planned_searches(options)
    for group in ("searches", "strategies"):
        plan_configs(base, _plans(searches, group, searches[0], 1.0), out / group)


def winner(path: Path, arm: str) -> Trial:
    """The arm's winner: the best by reward of its top-rung candidates (mean of their seeds)."""
    trials = [t for t in RunDir(path).read_trials(repair=False) if t.arm == arm]
    best = top_trials(trials, 1)
    if not best:
        raise RunError(f"{path}: the {arm} arm has no successful trial")
    return best[0]


# ---- re-timing in one sitting ----------------------------------------------------------------

def hand_designed(config: RunConfig, widths: list[float]) -> dict[float, str]:
    space = build_space(config)
    if space.hand_designed() is None:
        raise ConfigError(f"the space {config.space.name!r} has no hand-designed student to "
                          "compare with")
    return {float(w): str(space.hand_designed(w)) for w in widths}


def retime(base: RunConfig, options: StudyOptions, out: Path) -> dict:
    """Winners, hand-designed students and the target's sample measured one after the other
    with an empty cache (a killed re-timing starts over: it must be one sitting); retimed.json."""
    path = out / RETIMED
    if path.exists():
        return read_json(path)
    searches = planned_searches(options)
    winners = {s.folder: {arm: winner(out / s.folder, arm).arch for arm in s.arms}
               for s in searches}
    references = hand_designed(base, options.widths)
    sample = read_json(out / searches[0].folder / TARGET_FILE, ("archs",))["archs"]
    archs = list(dict.fromkeys([a for arms in winners.values() for a in arms.values()]
                               + list(references.values()) + sample))
    cache = out / "retiming-cache.jsonl"
    cache.unlink(missing_ok=True)
    config = with_changes(base, {"latency.cache": str(cache)})
    data = workspace(config).dataset
    started = time.time()
    with run_latency(config, data.input_size, data.num_classes, CoreLock()) as latency:
        measured = {arch: latency(arch) for arch in archs}
    record = {"host": device_name(config.latency.device), "started": started,
              "seconds": time.time() - started, "latency_ms": measured, "winners": winners,
              "references": {str(w): a for w, a in references.items()}, "target_sample": sample}
    write_json(path, record)
    cache.unlink(missing_ok=True)
    return record


def nearest_reference(retimed: dict, arch: str) -> str:
    """The hand-designed student nearest ``arch`` in re-timed latency."""
    ms = retimed["latency_ms"]
    return min(retimed["references"].values(), key=lambda ref: abs(ms[ref] - ms[arch]))


# ---- final trainings -------------------------------------------------------------------------

def student_key(arch: str) -> str:
    """A final student's name in final_runs.jsonl: one per architecture, whoever found it."""
    return "s-" + hashlib.sha1(arch.encode()).hexdigest()[:12]


def final_tasks(options: StudyOptions, retimed: dict) -> list[FinalTask]:
    """Seed by seed: the twins' winners (both modes), the references nearest any winner (both
    modes), the other searches' winners (KD); each architecture once."""
    searches = planned_searches(options)
    winners = retimed["winners"]
    twins = [a for s in searches if s.kind == "twin" for a in winners[s.folder].values()]
    others = [winners[s.folder]["akd"] for s in searches if s.kind == "strategy"]
    references = [nearest_reference(retimed, a) for a in twins + others]
    both = list(dict.fromkeys(twins + references))
    kd_only = [a for a in dict.fromkeys(others) if a not in both]
    return [FinalTask(student_key(arch), 1, arch, mode, seed)
            for seed in range(options.final_seeds)
            for arch, modes in [*[(a, ("cls", "kd")) for a in both],
                                *[(a, ("kd",)) for a in kd_only]]
            for mode in modes]


def final_config(base: RunConfig, options: StudyOptions) -> RunConfig:
    return with_changes(base, {"teacher.name": options.teachers[0], "final.enabled": True,
                               "final.seeds": options.final_seeds})


# ---- running it ------------------------------------------------------------------------------

def run_study(base: RunConfig, options: StudyOptions, out: str | Path) -> Path:
    """Run (or resume, or read back) every part into ``out``; the study directory."""
    recorded = check_out(out, "options.json", "a study") / "options.json"
    out = Path(out)
    check_study(base)
    hand_designed(base, options.widths)
    check_searches(base, options, out)  # every search's config and folder, before any file
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
        run_all_searches(base, options, out)
    with _part(out, "re-timing", where):
        retimed = retime(base, options, out)
    with _part(out, "final trainings", where):
        train_missing(final_config(base, options), final_tasks(options, retimed),
                      out / FINAL_RUNS)
    return out


def host(config: RunConfig) -> str:
    """What a part ran on: the trainings' device, named as the benchmark table's sessions name
    it, and the evaluator's workers."""
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
                         "host": self.host, "finished": time.time()})


# ---- keeping the result in the repository ----------------------------------------------------

KEPT = ("config.yaml", "trials.jsonl", TARGET_FILE, "timing.json")


def keep(out: str | Path, dest: str | Path, command: str) -> Path:
    """Keep a finished study in ``dest`` (e.g. docs/study): under results/ every file the
    statistics read, copied from study directory ``out`` (the arms' TensorBoard files, where the
    policy entropy is; not the per-training ones, no weights, no checkpoints), and ``command``;
    an earlier copy is replaced whole. The kept results directory."""
    out, dest = Path(out), Path(dest)
    if not (out / FINAL_RUNS).exists() or not (out / RETIMED).exists():
        raise RunError(f"{out} holds no finished study (no {FINAL_RUNS}); run it first")
    results, old = dest / "results", dest / "results.old"
    staging = dest / "results.partial"
    if old.exists() and not results.exists():  # an earlier keep died between its two renames
        old.rename(results)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("options.json", "parts.jsonl", RETIMED, FINAL_RUNS):
        shutil.copy2(out / name, staging / name)
    (staging / "command.txt").write_text(command + "\n")
    for run in sorted(p.parent for p in out.glob("*/*/config.yaml")):
        target = staging / run.relative_to(out)
        target.mkdir(parents=True)
        for name in KEPT:
            if (run / name).exists():
                shutil.copy2(run / name, target / name)
        if (run / "tensorboard").exists():
            shutil.copytree(run / "tensorboard", target / "tensorboard",
                            ignore=shutil.ignore_patterns("trials"))
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
