"""The one runner of the research's experiments: what they run, resumed after a kill (even
``kill -9``) and read back when finished.

* Searches (the study, the efficiency benchmark, the screening benchmark): strategies x seeds,
  each search in a subfolder named for what it is. They plan their searches as :class:`Planned`
  (a name and the dotted config keys it changes, applied through the config's own override
  path) and hand them to :func:`run_searches`, which builds and checks every config before the
  first training, so that a misspelt strategy or a bad change is refused before an hour of
  searching; the strategies the research compares are defined here once.
* Trainings (the benchmark table's and the ladder's builds): students trained one by one, not
  searched. :func:`run_trainings` trains the tasks a ``trainings.jsonl`` does not hold yet on the
  project's evaluator, appends each record the moment it finishes and keeps this session's line
  of ``sessions.jsonl`` current, so that a kill loses only the trainings in flight.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from akd.common import (CoreLock, append_line, check_out, read_json, read_lines, write_json,
                        write_lines)
from akd.components import preflight
from akd.config import RunConfig, with_changes
from akd.errors import ConfigError
from akd.execution import Outcome, make_evaluator
from akd.search import RunDir, Trial, run_search

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Strategy:
    controller: str
    options: dict = field(default_factory=dict)  # controller options
    space: dict | None = None  # the space section to search instead of the config's


STRATEGIES = {  # startups sized for searches of about 24 trainings
    "autokd": Strategy("autokd", {"members": 2, "startup": 4}),
    "tpe": Strategy("tpe", {"startup": 8}),
    "gp": Strategy("gp", {"startup": 8}),
    "lstm_ppo": Strategy("lstm_ppo"),
    "random": Strategy("random"),
    "evolution": Strategy("evolution", {"population": 8, "sample_size": 4}),
    "autokd-nago": Strategy("autokd", {"members": 2, "startup": 4},
                            {"name": "nago", "preset": None,
                             "options": {"max_nodes": 4, "budget": 100_000}}),
}


def check_strategies(strategies: Sequence[str], own_space_only: bool = False) -> None:
    """Every name a strategy of :data:`STRATEGIES` (of the config's own space, if asked);
    a one-line error naming the others, before anything runs."""
    allowed = [name for name, s in STRATEGIES.items() if not own_space_only or s.space is None]
    unknown = [name for name in strategies if name not in allowed]
    if unknown:
        raise ConfigError(f"unknown strategy {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def strategy_changes(strategy: str) -> dict[str, Any]:
    """The config changes that make a search one of ``strategy``: its controller (with its
    options) and, for a strategy of another space, that space."""
    chosen = STRATEGIES[strategy]
    changes: dict[str, Any] = {"controller": {"name": chosen.controller,
                                              "options": dict(chosen.options)}}
    if chosen.space is not None:
        changes["space"] = dict(chosen.space)
    return changes


def strategy_config(base: RunConfig, strategy: str, seed: int = 0) -> RunConfig:
    """``base`` searched by ``strategy`` with ``seed``."""
    return with_changes(base, {**strategy_changes(strategy), "search.seed": seed})


@dataclass(frozen=True)
class Planned:
    """One search of an experiment: its folder under the experiment's directory and the dotted
    config keys it sets on the experiment's base config."""

    name: str  # e.g. "lstm_ppo-seed0", or "searches/vgg-seed1"
    changes: Mapping[str, Any]


def seeded_name(label: str, seed: int) -> str:
    return f"{label}-seed{seed}"


def seeded(label: str, changes: Mapping[str, Any], seeds: int) -> list[Planned]:
    """``label`` searched with seeds 0 .. seeds-1, named ``label-seed<i>``."""
    return [Planned(seeded_name(label, seed), {**changes, "search.seed": seed})
            for seed in range(seeds)]


@dataclass
class Searches:
    """What :func:`run_searches` found: each search's trained trials of its arm, and its wall
    time (its last session's; None when it was read back without a timing)."""

    trials: dict[str, list[Trial]] = field(default_factory=dict)
    seconds: dict[str, float | None] = field(default_factory=dict)


SEARCHES_FILE = "searches.json"  # what run_searches writes first: the searches planned there


def plan_configs(base: RunConfig, plans: Sequence[Planned],
                 out: Path | None = None) -> dict[str, RunConfig]:
    """Every planned search's config, built and checked (its parts, devices and space) before any
    search runs; names must be unique. With ``out``, the folders too: ``out`` must be a new or
    empty directory, or one that holds the experiment's searches (its searches.json, or akd runs
    only), and each planned folder a new or empty one, or an akd run to resume."""
    names = [plan.name for plan in plans]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"two planned searches share the folder {repeated[0]}")
    if out is not None:
        out = Path(out)
        runs_only = out.is_dir() and all((p / "config.yaml").exists() for p in out.iterdir())
        if not runs_only:  # an experiment's searches from before searches.json was written
            check_out(out, SEARCHES_FILE, "the searches of an experiment")
        for name in names:
            check_out(out / name, "config.yaml", "an akd search")
    configs = {plan.name: with_changes(base, dict(plan.changes)) for plan in plans}
    for config in configs.values():
        preflight(config)
    return configs


def run_searches(base: RunConfig, plans: Sequence[Planned], out: Path, arm: str = "akd",
                 into: Searches | None = None) -> Searches:
    """Every planned search into ``out/<name>``: searched now, resumed after a kill, or read
    back when finished; ``arm``'s trials of each (added to ``into``, when given)."""
    found = into if into is not None else Searches()
    configs = plan_configs(base, plans, out)
    planned = read_json(out / SEARCHES_FILE) if (out / SEARCHES_FILE).exists() else {}
    write_json(out / SEARCHES_FILE, {**planned, **{p.name: dict(p.changes) for p in plans}})
    for name, config in configs.items():
        found.trials[name] = search_arm(config, out / name, arm)
        found.seconds[name] = run_seconds(out / name)
    return found


def search_arm(config: RunConfig, path: Path, arm: str = "akd") -> list[Trial]:
    """``arm``'s trained trials of the search ``config`` into ``path``: searched now, resumed
    after a kill, or read back when finished."""
    resume = RunDir(path).config.exists()
    log.info(f"{'resuming' if resume else 'searching'} {path}")
    return run_search(config, path, resume=resume)[arm]


def run_seconds(path: Path) -> float | None:
    """The search's wall time (its last session's, for a resumed one) from ``timing.json``."""
    timing = path / "timing.json"
    return json.loads(timing.read_text())["total_seconds"] if timing.exists() else None


# --- trainings ---------------------------------------------------------------------------------

TRAININGS_FILE = "trainings.jsonl"  # one record per finished training, appended as it finishes
SESSIONS_FILE = "sessions.jsonl"  # one line per session: its wall time, host and trainings


class TrainingTask(Protocol):
    """What :func:`run_trainings` needs of a task: the key its record is found by."""

    @property
    def key(self) -> Hashable: ...


@dataclass(frozen=True)
class Trainings:
    """How an experiment's tasks are trained and recorded by :func:`run_trainings`."""

    entry: Callable[..., Outcome]  # the evaluator's work: (task, config, lock) -> Outcome
    record: Callable[[Any, Outcome], dict]  # a finished task's line of trainings.jsonl
    key_of: Callable[[dict], Hashable]  # a record's task key, to find what is done
    publish: Callable[[], None] = lambda: None  # after each training: refresh what readers load
    size: Callable[[Any], int] = lambda task: 1  # a task's share of the progress bar
    unit: str = "run"  # of the progress bar
    published: Path | None = None  # what publish writes: a copy of a shipped build holds it
    # and no trainings.jsonl, and continues from its records (``load_published``)
    load_published: Callable[[Path], Sequence[dict]] | None = None


def run_trainings(config: RunConfig, tasks: Sequence[TrainingTask], out: Path,
                  trainings: Trainings, host: str, lock: CoreLock | None = None,
                  started: float | None = None) -> int:
    """Train every task of ``tasks`` whose key ``out/trainings.jsonl`` does not hold yet, on
    ``config``'s evaluator; each record is appended (and fsynced) the moment its training
    finishes, then this session's line of ``sessions.jsonl`` is rewritten and ``publish`` runs,
    so that a kill loses only the trainings in flight. The session's time counts from
    ``started`` (a ``time.perf_counter()``: the build's start, set-up included). The number of
    trainings this session finished."""
    start = time.perf_counter() if started is None else started
    path = out / TRAININGS_FILE
    if not path.exists() and trainings.published and trainings.published.exists():
        write_lines(path, trainings.load_published(trainings.published))
    done = {trainings.key_of(record) for record in read_lines(path)}
    todo = [task for task in tasks if task.key not in done]
    session = _Session(out / SESSIONS_FILE, config, host, start, len(todo))
    bar = tqdm(total=sum(trainings.size(t) for t in tasks),
               initial=sum(trainings.size(t) for t in tasks if t.key in done),
               desc="trainings" if trainings.unit == "run" else f"training {trainings.unit}s",
               unit=trainings.unit, unit_scale=trainings.unit != "run", smoothing=0.02,
               disable=not config.progress)
    try:
        if todo:
            with make_evaluator(config, trainings.entry, lock or CoreLock()) as evaluator:
                for task in todo:
                    evaluator.submit(task)
                while evaluator.in_flight:
                    task, outcome = evaluator.next_finished()
                    append_line(path, trainings.record(task, outcome))
                    session.finished()
                    trainings.publish()
                    bar.update(trainings.size(task))
                    bar.set_postfix(done=f"{len(tasks) - len(todo) + session.trainings}/"
                                         f"{len(tasks)}", **_postfix(task, outcome))
    finally:
        bar.close()
        session.finished(count=False)
        trainings.publish()
    log.info(f"{len(done) + session.trainings} of {len(tasks)} trainings in {out}; this session "
             f"trained {session.trainings} in {time.perf_counter() - start:.0f} s")
    return session.trainings


def _postfix(task: Any, outcome: Outcome) -> dict:
    shown = {name: getattr(task, name) for name in ("rung", "mode") if hasattr(task, name)}
    if outcome.status == "ok":
        shown["val_acc"] = f"{outcome.accuracy:.3f}"
    return shown


class _Session:
    """This session's line of ``sessions.jsonl``, rewritten as each training finishes (a killed
    session keeps its time up to its last training)."""

    def __init__(self, path: Path, config: RunConfig, host: str, start: float, todo: int) -> None:
        self.path, self.start, self.todo, self.trainings = path, start, todo, 0
        self.line = {"session": uuid.uuid4().hex[:12], "seconds": 0.0, "trainings": 0,
                     "backend": config.evaluator.backend, "workers": config.evaluator.workers,
                     "host": host, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "complete": todo == 0}
        append_line(path, self.line)

    def finished(self, count: bool = True) -> None:
        self.trainings += count
        self.line.update(seconds=round(time.perf_counter() - self.start, 1),
                         trainings=self.trainings, complete=self.trainings == self.todo)
        lines = [self.line if r.get("session") == self.line["session"] else r
                 for r in read_lines(self.path)]
        write_lines(self.path, lines)
