"""The AKD search loop: two arms under one budget, MnasNet's reward, resumable at any moment.

:class:`Search` is one run: it holds the config, the space, the run directory, the workspace, the
evaluator and latency source while they are open, the latencies measured so far, the arms and
the timing, and its methods are the loop's steps. Each step asks every unfinished arm's controller for a batch, measures the latency of every new
candidate in this process (under the core lock, while no candidate trains), hands the candidates to
the evaluator, and as each finishes computes its reward, tells the controller and appends the trial
to ``trials.jsonl``. The ``akd`` arm's reward uses the accuracy after proxy KD training, the
``nas`` arm's the accuracy after proxy training on labels only; the arms share the latency cache and
nothing else.

With ``search.screening`` (:mod:`akd.search.screening`) a step asks ``factor`` times its batch,
a predictor ranks them, and only the best batch by predicted reward is trained; the others are
told their predicted reward and recorded with status ``predicted``, outside the count of trials.

With a multi-fidelity ``search.schedule`` (:mod:`akd.search.schedule`) a step is a bracket: each
arm asks for the bracket's candidates at once, trains them rung by rung (the best of each rung
continue from their checkpoints), and tells its controller every candidate's value when the
bracket ends; ``search.schedule.budget`` (training samples) decides how many brackets run. With
screening too, screening is the rung below the lowest: the bracket asks ``factor`` times its
candidates and trains only its size of them, the best by predicted reward.

With ``search.asynchronous`` there are no steps to wait for: whenever a candidate finishes, the
next arm in turn asks for one more, keeping ``search.max_in_flight`` candidates in the evaluator.

Resume: a checkpoint is written right after each ask, so it holds the batch in flight as the
controller's pending candidates (and, once a screened step has been ranked, which candidates it
trains and what it predicted for the others). Resuming loads it, tells the controller the trials
of that batch that had already been recorded, and evaluates only the rest; every other trial was
learned from before the checkpoint. So no recorded trial is lost or run twice, and each arm ends
with exactly ``search.trials`` trained trials.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from tqdm import tqdm

from controllers import Candidate, Controller
from search_spaces import SearchSpace

from ..common.cores import CoreLock
from ..common.io import write_json
from ..components import build_controller, latency_cache, preflight, run_latency
from ..config import RewardConfig, RunConfig, load_config, save_config, search_changes
from ..latency.local import local_latency
from ..distill import near_chance
from ..errors import RunError
from ..execution import Evaluator, Outcome, Workspace, make_evaluator, workspace
from .board import ArmBoard
from .candidate import chain_checkpoint, chain_checkpoints, evaluate_candidate
from .failures import FailureWatch
from .first_rung import CALIBRATION_FILE, calibrated_table, table_error
from .reward import FAILED_REWARD, mnas_reward
from .rundir import RunDir
from .schedule import (Plan, Training, asha_promotion, default_budget, make_plan,
                       pending_trainings, rung_values, screened_values, told_values)
from .screener import Screener
from .screening import build_screeners, candidate_cost, top_target
from .target import TARGET_FILE, resolve_target
from .trial import (Task, Trial, TrialStatus, family_lines, family_summary, search_results,
                    top_trials, trials_table)

log = logging.getLogger(__name__)


@dataclass
class Arm:
    name: str
    controller: Controller
    trials: list[Trial]  # trained trials of this arm (ok or failed), in the order they finished
    step: int = 0  # the step whose batch is in flight (or next to be asked)
    first_id: int = 0  # candidate id of that batch's first candidate: index = id - first_id
    batch: dict[int, Candidate] = field(default_factory=dict)  # in flight, by candidate id
    stats: dict[str, float] = field(default_factory=dict)  # the latest controller update's
    bar: tqdm | None = None
    reward: RewardConfig | None = None  # the run's reward, its target T a number
    screener: Screener | None = None  # ranks a screened step's candidates
    predicted: list[Trial] = field(default_factory=list)  # screened-out trials, never trained
    screen: dict | None = None  # the step in flight's screening: "keep" (how many it trains),
    # once ranked "predicted_acc" (id -> accuracy) and "predicted" (id -> latency, params, MACs
    # of the candidates it does not train); None for a step that is not screened
    failures: FailureWatch | None = None  # this session's trainings: stops a failing search
    board: ArmBoard | None = None  # its TensorBoard run, opened with the arm


@dataclass
class Timing:
    workers: int = 1  # candidates evaluated at once
    setup: float = 0.0  # dataset, teacher and teacher logits
    latency: float = 0.0  # measuring (or predicting) latencies in this process
    screening: float = 0.0  # counting screened candidates' MACs and predicting their accuracy
    waiting: float = 0.0  # the driver waiting for the evaluator
    candidates: float = 0.0  # summed wall time of the candidate evaluations in the workers
    loop: float = 0.0  # the search loop
    total: float = 0.0  # the whole run: set-up, loop and summary
    table_error: dict | None = None  # first_rung_latency: table, against the measurements

    def as_dict(self) -> dict[str, float]:
        overhead = self.loop - self.latency - self.waiting - self.screening
        busy = self.candidates / self.workers + self.latency
        return {"total_seconds": self.total, "setup_seconds": self.setup,
                "loop_seconds": self.loop, "latency_seconds": self.latency,
                "screening_seconds": self.screening,
                "evaluation_seconds": self.waiting, "candidate_seconds": self.candidates,
                "workers": self.workers,
                # the driver's own work in the loop (asking, telling, logging, checkpoints)
                "overhead_seconds": overhead, "overhead_share": overhead / max(self.loop, 1e-9),
                # all the run's time not spent training candidates or measuring latency: set-up,
                # worker start-up, idle workers and the driver's work
                "outside_share": max(0.0, 1 - busy / max(self.total, 1e-9)),
                **({"first_rung_table_error": self.table_error} if self.table_error else {})}


class Search:
    """One search run: its config, space, run directory, workspace, evaluator, latency source,
    the latencies measured so far, its arms and its timing, with the steps of the loop as methods
    (Ray Tune's ``TuneController`` holds a tuning run's state the same way).

    ``Search(config, out, resume).run()`` runs it; :func:`run_search` is the same in one call."""

    def __init__(self, config: RunConfig, out: str | Path, resume: bool = False) -> None:
        self.config = config
        self.run_dir = RunDir(out)
        self.resume = resume
        self.timing = Timing(workers=config.evaluator.workers)
        self.space: SearchSpace | None = None  # set by run(), once the config has been checked
        self.work: Workspace | None = None  # the dataset, the teacher and its logits
        self.evaluator: Evaluator | None = None  # open while the loop runs
        self.latency: Callable[[str], float] | None = None  # arch -> ms, open while it runs
        self.latencies: dict[str, float] = {}  # arch -> ms, measured (or read) in this session
        self.arms: list[Arm] = []
        self.plan: Plan | None = None  # a multi-fidelity schedule's brackets; None for flat
        # first_rung_latency: table: the scaled lookup table and what it predicted, by arch
        self.table: Callable[[str], float] | None = None
        self.table_latencies: dict[str, float] = {}

    @property
    def trials(self) -> dict[str, list[Trial]]:
        """Each arm's trained trials (ok or failed), in the order they finished."""
        return {arm.name: arm.trials for arm in self.arms}

    def run(self) -> dict[str, list[Trial]]:
        """Run (or resume) the search into its run directory; the trials of each arm."""
        config, run, total = self.config, self.run_dir, self.config.search.trials
        recorded = self._check_directory()
        trained = [t for t in recorded or [] if t.trained]
        if recorded is not None and not config.search.schedule.multi_fidelity and all(
                sum(t.arm == arm for t in trained) >= total for arm in config.search.arms):
            log.info(f"run {run.path} is already finished ({total} trials per arm); nothing to do")
            return {arm: [t for t in trained if t.arm == arm] for arm in config.search.arms}
        start = time.perf_counter()
        # everything that can refuse the run does so before anything is written into `out`: the
        # config's parts and devices first (cheap), then the dataset and the teacher
        self.space = preflight(config)
        self.work = workspace(config)  # trains the teacher and fills the logit cache if missing
        screeners = build_screeners(config, self.space, self.work)  # may refuse a table
        if config.search.schedule.multi_fidelity:
            self.plan = self._make_plan()  # may refuse a budget that fits no bracket
            if recorded is not None and not config.search.asynchronous and \
                    self._brackets_finished():
                log.info(f"run {run.path} is already finished ({self.plan.count} bracket(s) "
                         "per arm); nothing to do")
                return {arm: [t for t in trained if t.arm == arm] for arm in config.search.arms}
        if not self.resume:
            run.create()
        save_config(config, run.config)  # on resume: the settings a resume may change
        if self.work.teacher is not None:
            log.info(f"teacher {config.teacher.name}: test accuracy "
                     f"{self.work.teacher.test_accuracy:.4f} ({self.work.teacher.description})")
            warning = near_chance(self.work.teacher, self.work.dataset, config.teacher.name)
            if warning:  # before any candidate trains: a user stops here, or knows why
                log.warning(warning)
        self.timing.setup = time.perf_counter() - start
        lock = CoreLock()
        self.arms = [self._open_arm(name, recorded or [], screeners.get(name))
                     for name in config.search.arms]
        if self.plan is not None:  # the bar counts trainings, of every rung (ASHA: unknown)
            total = None if config.search.asynchronous else self.plan.trainings()
            run.chains.mkdir(parents=True, exist_ok=True)
        for position, arm in enumerate(self.arms):
            arm.bar = tqdm(total=total, initial=len(arm.trials), desc=arm.name,
                           position=position, unit="trial", disable=not config.progress)
            _show_best(arm)
        loop_start = time.perf_counter()
        try:
            with run_latency(config, self.work.dataset.input_size,
                             self.work.dataset.num_classes, lock) as self.latency:
                # the target's sample is measured before the workers start, on quiet cores
                self._set_reward()
                if config.search.schedule.first_rung_latency == "table":
                    self._open_table(lock)
                with make_evaluator(config, evaluate_candidate, lock) as self.evaluator:
                    if config.search.asynchronous and self.plan is not None:
                        self._run_asha()
                    elif config.search.asynchronous:
                        self._run_async()
                    if self.plan is not None and not config.search.asynchronous:
                        while any(arm.step < self.plan.count for arm in self.arms):
                            self._run_bracket([a for a in self.arms
                                               if a.step < self.plan.count])
                    while self.plan is None and any(len(arm.trials) < total
                                                    for arm in self.arms):
                        self._run_step([a for a in self.arms if len(a.trials) < total])
            for arm in self.arms:  # a final checkpoint with nothing pending
                run.save_checkpoint(arm.name, _checkpoint(arm))
        finally:
            self.evaluator = self.latency = None
            for arm in self.arms:
                arm.bar.close()
                arm.board.close()
        self.timing.loop = time.perf_counter() - loop_start
        self.timing.table_error = table_error(
            [(ms, self.latencies[arch]) for arch, ms in self.table_latencies.items()
             if arch in self.latencies], self.arms[0].reward) if self.table else None
        self.timing.total = time.perf_counter() - start
        write_json(run.path / "timing.json", self.timing.as_dict())
        self._log_summary()
        return self.trials

    def _make_plan(self) -> Plan:
        config = self.config
        images = len(self.work.dataset.proxy)
        budget = default_budget(config, images)
        plan = make_plan(config.search.schedule, config.search.batch_size, budget, images)
        log.info(f"{config.search.schedule.name}: {plan.count} bracket(s) per arm, "
                 f"{plan.trainings()} trainings and {plan.samples():,} of the budget's "
                 f"{budget:,} training samples (rungs {list(plan.epochs)} epochs of {images:,} "
                 f"images; bracket sizes {[b.n for b in plan.brackets]})")
        return plan

    def _brackets_finished(self) -> bool:
        for arm in self.config.search.arms:
            checkpoint = self.run_dir.load_checkpoint(arm)
            if (checkpoint is None or checkpoint["step"] < self.plan.count
                    or checkpoint["controller"].get("pending")):
                return False
        return True

    def _check_directory(self) -> list[Trial] | None:
        """Check the directory against the request, writing nothing; the recorded trials when
        resuming."""
        run = self.run_dir
        if run.path.exists() and not run.path.is_dir():
            raise RunError(f"--out {run.path} is a file, not a directory; name a new or empty "
                           "directory")
        if self.resume:
            if not run.config.exists():
                raise RunError(f"--resume: {run.path} holds no run (no config.yaml); start one "
                               "without --resume")
            changed = search_changes(load_config(run.config), self.config)
            if changed:
                raise RunError(f"--resume: the config differs from the run's in "
                               f"{', '.join(changed)}; these change the search, so start a new "
                               "run with another --out")
            return run.read_trials(predicted=True)
        if run.trials.exists() or any(run.checkpoints.glob("*.pt")):
            raise RunError(f"{run.path} already holds a run; pass --resume to continue it or "
                           "--out for a new one")
        if run.path.is_dir() and any(run.path.iterdir()) and not run.config.exists():
            raise RunError(f"--out {run.path} is a directory of other files, not an akd run; "
                           "name a new or empty directory")
        return None

    def _set_reward(self) -> None:
        """The run's reward with its target latency: given, recorded by the run, or measured
        now."""
        start = time.perf_counter()
        reward = resolve_target(self.config, self.space, self.latency, self.run_dir.path)
        self.timing.latency += time.perf_counter() - start
        if self.config.reward.target_ms == "auto":
            log.info(f"reward target T = {reward.target_ms:.3f} ms: the "
                     f"{reward.target_quantile:g} quantile of {reward.target_samples} sampled "
                     f"students' latency on this machine ({TARGET_FILE})")
        for arm in self.arms:
            arm.reward = reward

    def _open_table(self, lock: CoreLock) -> None:
        """The lookup table for the brackets' first rungs, scaled to this machine's
        measurements (recorded in the run, read back on resume)."""
        start = time.perf_counter()
        settings = dataclasses.replace(self.config.latency, mode="table")
        predict = local_latency(settings, latency_cache(self.config),
                                self.work.dataset.input_size, self.work.dataset.num_classes,
                                lock)
        self.table = calibrated_table(self.config, self.space, self.latency, predict,
                                      self.run_dir.path)
        self.timing.latency += time.perf_counter() - start

    def _open_arm(self, name: str, recorded: list[Trial], screener: Screener | None) -> Arm:
        config, run = self.config, self.run_dir
        controller = build_controller(config, self.space, name)
        mine = [t for t in recorded if t.arm == name]  # in the order they were told
        checkpoint = run.load_checkpoint(name)
        if checkpoint is None and mine:
            raise RunError(f"{run.path} has {name} trials but no checkpoint {name}.pt; the run "
                           "directory was edited by hand, so start a new run")
        failures = FailureWatch(name, config.search.max_failures, config.search.max_failed_share)
        arm = Arm(name, controller, [t for t in mine if t.trained], screener=screener,
                  predicted=[t for t in mine if not t.trained], failures=failures)
        if checkpoint is None:
            arm.board = ArmBoard(run.tensorboard / name, space=self.space)
            arm.board.log_text("config", "```\n" + yaml.safe_dump(config.to_dict(),
                                                                  sort_keys=False) + "```")
            return arm
        controller.load_state_dict(checkpoint["controller"])
        arm.step, arm.first_id = checkpoint["step"], checkpoint["first_id"]
        arm.screen = checkpoint.get("screen")
        # a resumed run hides what the killed one logged from this step on, and logs it again
        arm.board = ArmBoard(run.tensorboard / name, purge_step=arm.step, space=self.space)
        pending = {c.id: c for c in controller.pending}
        if not pending or self.plan is not None:  # a bracket re-derives itself from its trials
            return arm  # (or the final checkpoint: its step is already the next one)
        for trial in mine:  # recorded after the checkpoint: learn from them, do not re-run
            if trial.candidate_id in pending:
                _tell(arm, pending.pop(trial.candidate_id), trial.reward)
        self._end_complete_steps(arm)
        return arm

    def _run_step(self, arms: list[Arm]) -> None:
        """Ask each of ``arms`` for a batch (or take the batch a resumed step left in flight),
        measure and screen it, train it, and log the step."""
        search = self.config.search
        measured = []
        for arm in arms:
            batch = arm.controller.pending  # the batch of a resumed step
            if not batch:
                want = min(search.batch_size, search.trials - len(arm.trials))
                screened = arm.screener is not None and arm.screener.ready(self._screened_on(arm))
                batch = arm.controller.ask(want * search.screening.factor if screened else want)
                arm.first_id = batch[0].id
                arm.screen = {"keep": want} if screened else None
                self.run_dir.save_checkpoint(arm.name, _checkpoint(arm))
            arm.batch = {c.id: c for c in batch}
            tasks = [self._task(arm, arm.step, c.id - arm.first_id, c) for c in batch]
            if arm.screen is None:
                measured += [t for t in tasks if self._measure(t)]
            else:
                measured += self._screen(arm, tasks)
        # slowest first (training time grows with latency), so that the step's last candidates
        # are short ones and parallel workers finish the step together instead of one waiting
        for task in sorted(measured, key=lambda t: -self.latencies[t.arch]):
            self.evaluator.submit(task)
        while self.evaluator.in_flight:
            self._collect()
        for arm in arms:
            self._end_complete_steps(arm)

    def _run_bracket(self, arms: list[Arm]) -> None:
        """Run one bracket of each of ``arms`` (or finish the one a resumed run left): ask for
        its candidates, measure their latency, train them rung by rung, then tell the controller
        every candidate's value and log the step."""
        plan = self.plan
        for arm in arms:
            bracket = plan.bracket(arm.step)
            batch = arm.controller.pending  # the bracket of a resumed step
            if not batch:
                # screening is the rung below the lowest: factor x the bracket's candidates
                # asked, predicted, and only the bracket's size with the best predicted reward
                # trained
                screened = arm.screener is not None and arm.screener.ready(self._screened_on(arm))
                factor = self.config.search.screening.factor if screened else 1
                batch = arm.controller.ask(bracket.n * factor)
                arm.first_id = batch[0].id
                arm.screen = {"keep": bracket.n} if screened else None
                self.run_dir.save_checkpoint(arm.name, _checkpoint(arm))
            arm.batch = {c.id: c for c in batch}
            first = [self._rung_task(self._task(arm, arm.step, c.id - arm.first_id, c),
                                     plan.first_training(c.id, bracket)) for c in batch]
            if arm.screen is not None:  # measures every candidate; records the screened-out
                self._screen(arm, first, tell_now=False)
                first = [t for t in first if t.candidate_id not in arm.screen["predicted"]]
            recorded = {t.candidate_id: t for t in arm.trials
                        if t.step == arm.step and t.rung == bracket.start and t.seed == 0}
            for task in first:  # latency once per candidate; a failure is its first rung's
                candidate = arm.batch[task.candidate_id]
                if candidate.id in recorded:  # resumed: the trial holds the latency
                    if math.isfinite(recorded[candidate.id].latency_ms):
                        store = (self.table_latencies if self._priced_by_table(task)
                                 else self.latencies)
                        store[task.arch] = recorded[candidate.id].latency_ms
                else:
                    self._measure(task, table=self._priced_by_table(task))
        while True:
            tasks = []
            for arm in arms:
                mine = [t for t in arm.trials if t.step == arm.step]
                for training in pending_trainings(plan, plan.bracket(arm.step),
                                                  _bracket_candidates(arm), mine):
                    candidate = arm.batch[training.candidate_id]
                    task = self._task(arm, arm.step, candidate.id - arm.first_id, candidate)
                    task = self._rung_task(task, training)
                    # promoted past a first rung the table priced: measured now, once
                    if self._priced_by_table(task) or self._measure(task):
                        tasks.append(task)
            if not tasks:
                if any(pending_trainings(plan, plan.bracket(a.step), _bracket_candidates(a),
                                         [t for t in a.trials if t.step == a.step])
                       for a in arms):
                    continue  # a measurement failed and was recorded: the rung moves on
                break
            for task in sorted(tasks, key=lambda t: -self._latency_of(t)):  # see _run_step
                self.evaluator.submit(task)
            while self.evaluator.in_flight:
                self._collect()
        for arm in arms:
            self._end_bracket(arm)

    def _priced_by_table(self, task: Task) -> bool:
        """Whether ``task``'s reward uses the lookup table: a bracket's first rung, with
        first_rung_latency: table."""
        bracket = self.plan.bracket(task.step) if task.rung is not None else None
        return (self.table is not None and bracket is not None
                and task.rung == bracket.start < bracket.top)  # the top rung is always measured

    def _latency_of(self, task: Task) -> float:
        if self._priced_by_table(task):
            return self.table_latencies[task.arch]
        return self.latencies[task.arch]

    def _rung_task(self, task: Task, training: Training) -> Task:
        """``task`` as one ``training`` of its candidate."""
        return dataclasses.replace(task, rung=training.rung, seed=training.seed,
                                   epochs=training.epochs, start_epoch=training.start,
                                   checkpoints=str(self.run_dir.chains))

    def _end_bracket(self, arm: Arm) -> None:
        """Tell the controller each candidate of the finished bracket (in the order it asked
        them), drop their checkpoints and log the step."""
        bracket, rule = self.plan.bracket(arm.step), self.config.search.schedule.tell
        values = told_values(bracket, _bracket_candidates(arm), arm.trials, rule)
        values.update(screened_values(bracket, [t for t in arm.predicted if t.step == arm.step],
                                      arm.predicted, rule))
        # per_budget: every rung's reward too, for the model of each rung (screened out: none)
        by_rung = rung_values(arm.trials) if rule == "per_budget" else None
        for candidate_id in sorted(arm.batch):
            _tell(arm, arm.batch[candidate_id], values[candidate_id],
                  None if by_rung is None else by_rung.get(candidate_id, {}))
        for candidate_id in arm.batch:  # no promotion will continue them now
            for path in chain_checkpoints(self.run_dir.chains, arm.name, candidate_id):
                path.unlink()
        arm.batch = {}
        self._end_step(arm)

    def _run_async(self) -> None:
        """Keep ``search.max_in_flight`` candidates evaluating: whenever one finishes, the next
        arm in turn asks for one more, so no worker waits for the rest of a step. A candidate's
        step is its id // batch_size; the LSTM updates after every batch_size results, whichever
        they are."""
        search = self.config.search
        limit = search.max_in_flight or self.config.evaluator.workers
        resumed = [(arm, c) for arm in self.arms for c in arm.controller.pending]  # re-run first
        turn = 0
        while True:
            while self.evaluator.in_flight < limit:
                if resumed:
                    arm, candidate = resumed.pop(0)
                else:
                    open_arms = [a for a in self.arms
                                 if len(a.trials) + len(a.batch) < search.trials]
                    if not open_arms:
                        break
                    arm, turn = open_arms[turn % len(open_arms)], turn + 1
                    candidate = arm.controller.ask(1)[0]
                    self.run_dir.save_checkpoint(arm.name, _checkpoint(arm))
                step, index = divmod(candidate.id, search.batch_size)
                task = self._task(arm, step, index, candidate)
                arm.batch[candidate.id] = candidate
                if self._measure(task):
                    self.evaluator.submit(task)
            if not self.evaluator.in_flight:
                return
            self._collect()

    def _run_asha(self) -> None:
        """ASHA: keep ``search.max_in_flight`` trainings going; whenever a worker is free, the
        next arm in turn promotes its best waiting candidate of the highest rung
        (:func:`asha_promotion`) or, if none waits, asks its controller for a new one at the
        bottom rung, while the arm's budget (training samples) lasts. A controller is told each
        candidate once, when its bottom-rung training ends. On resume, trainings lost in flight
        are run again: a promotion whose trainings are not all recorded first, then the
        candidates asked and not yet told."""
        search, plan = self.config.search, self.plan
        limit = search.max_in_flight or self.config.evaluator.workers
        started, committed, queue = {}, {}, {}
        for arm in self.arms:
            trained = [t for t in arm.trials if t.rung is not None]
            started[arm.name] = {(t.candidate_id, t.rung) for t in trained}
            committed[arm.name] = sum(t.samples or 0 for t in trained)
            recorded = {(t.candidate_id, t.rung, t.seed) for t in trained}
            queue[arm.name] = []  # trainings lost in flight by a killed run, first
            for candidate_id, rung in sorted(started[arm.name], key=lambda k: (-k[1], k[0])):
                base = next(t for t in trained if t.candidate_id == candidate_id)
                for training in plan.trainings_of(candidate_id, rung):
                    if training.key not in recorded:
                        queue[arm.name].append(self._rung_task(_task_of(base), training))
            told = {t.candidate_id for t in trained if t.rung == 0 and t.seed == 0}
            for candidate in list(arm.controller.pending):
                if candidate.id in told:  # recorded, killed before its tell
                    arm.batch[candidate.id] = candidate
                    self._asha_tell(arm, candidate.id)
                else:  # asked, never recorded: its bottom rung again
                    arm.batch[candidate.id] = candidate
                    step, index = divmod(candidate.id, search.batch_size)
                    queue[arm.name].append(self._rung_task(
                        self._task(arm, step, index, candidate),
                        plan.first_training(candidate.id, plan.bracket(step))))
        turn = 0
        while True:
            while self.evaluator.in_flight < limit:
                for _ in range(len(self.arms)):
                    arm, turn = self.arms[turn % len(self.arms)], turn + 1
                    tasks = self._asha_next(arm, queue[arm.name], started[arm.name],
                                            committed[arm.name])
                    if tasks:
                        break
                else:
                    break  # no arm can start anything
                for task in tasks:
                    started[arm.name].add((task.candidate_id, task.rung))
                    if self._measure(task, table=self._priced_by_table(task)):
                        committed[arm.name] += plan.part_cost(task.start_epoch, task.epochs)
                        self.evaluator.submit(task)
                    elif task.rung == 0:  # could not be timed: recorded failed; told so
                        self._asha_tell(arm, task.candidate_id)
            if not self.evaluator.in_flight:  # the budget is spent: no promotion is left
                for arm in self.arms:
                    self._asha_end_steps(arm, final=True)
                    for candidate_id in {t.candidate_id for t in arm.trials}:
                        for path in chain_checkpoints(self.run_dir.chains, arm.name,
                                                      candidate_id):
                            path.unlink()
                return
            self._collect()

    def _asha_next(self, arm: Arm, queue: list[Task], started: set, committed: int
                   ) -> list[Task]:
        """The trainings ``arm`` starts next: a lost one, a promotion, or a new candidate's bottom
        rung, if its cost fits what is left of the budget; none when nothing fits."""
        plan = self.plan
        if queue:
            return [queue.pop(0)]
        promotion = asha_promotion(plan, arm.trials, started)
        if promotion is not None:
            candidate_id, rung = promotion
            trainings = plan.trainings_of(candidate_id, rung)
            if committed + sum(map(plan.training_cost, trainings)) <= plan.budget:
                base = next(t for t in arm.trials if t.candidate_id == candidate_id)
                return [self._rung_task(_task_of(base), t) for t in trainings]
        if committed + plan.part_cost(0, plan.epochs[0]) > plan.budget:
            return []
        candidate = arm.controller.ask(1)[0]
        self.run_dir.save_checkpoint(arm.name, _checkpoint(arm))
        arm.batch[candidate.id] = candidate
        step, index = divmod(candidate.id, self.config.search.batch_size)
        return [self._rung_task(self._task(arm, step, index, candidate),
                                plan.first_training(candidate.id, plan.bracket(step)))]

    def _asha_tell(self, arm: Arm, candidate_id: int) -> None:
        """Tell the controller a candidate whose bottom rung has ended, as ``tell`` says (its
        rank among the bottom rung's results so far, or its reward; failed: 0)."""
        value = told_values(self.plan.brackets[0], [candidate_id], arm.trials,
                            self.config.search.schedule.tell)[candidate_id]
        _tell(arm, arm.batch.pop(candidate_id), value)
        self._asha_end_steps(arm)

    def _asha_end_steps(self, arm: Arm, final: bool = False) -> None:
        """Log every step from ``arm.step`` on whose batch_size candidates have all been asked
        and told (``final``: the last, partial one too)."""
        size = self.config.search.batch_size
        while True:
            ids = range(arm.step * size, (arm.step + 1) * size)
            told = {t.candidate_id for t in arm.trials if t.step == arm.step}
            if any(i in arm.batch for i in ids) or not told:
                return
            if len(told) < size and not final:
                return
            self._end_step(arm)
            if len(told) < size:
                return

    def _task(self, arm: Arm, step: int, index: int, candidate: Candidate) -> Task:
        """The evaluation of ``candidate``: its first decisions are the architecture's, the rest
        (an arm that distils, with search.kd) the KD hyper-parameters it is trained with."""
        decisions = candidate.decisions[:len(self.space.choices)]
        extra = candidate.decisions[len(self.space.choices):]
        return Task(arm.name, step, index, candidate.id, decisions,
                    str(self.space.decode(decisions)),
                    self.config.search.kd.decode(extra) if extra else None, candidate.family)

    def _screen(self, arm: Arm, tasks: list[Task], tell_now: bool = True) -> list[Task]:
        """Rank a screened step's candidates (unless the checkpoint already holds the ranking),
        record the screened-out ones and (``tell_now``; a bracket tells at its end) tell them
        their predicted reward; the tasks to train."""
        if "predicted" not in arm.screen:
            recorded = sum(t.step == arm.step for t in arm.trials)  # latency failures so far
            # a bracket's first rung priced by the lookup table is ranked by that price: only
            # the candidates promoted past it are measured
            candidates = [t for t in tasks if self._measure(t, table=self._priced_by_table(t))]
            keep = max(0, arm.screen["keep"] - recorded - (len(tasks) - len(candidates)))
            start = time.perf_counter()
            costs = [{**candidate_cost(t.arch, self.work), "latency_ms": self._latency_of(t)}
                     for t in candidates]
            accuracy = arm.screener.predict([t.arch for t in candidates], costs,
                                            self._screened_on(arm))
            self.timing.screening += time.perf_counter() - start
            rewards = [mnas_reward(float(a), c["latency_ms"], arm.reward)
                       for a, c in zip(accuracy, costs)]
            order = sorted(range(len(candidates)), key=lambda i: (-rewards[i],
                                                                  candidates[i].candidate_id))
            arm.screen["predicted_acc"] = {t.candidate_id: float(a)
                                           for t, a in zip(candidates, accuracy)}
            arm.screen["latency_ms"] = {t.candidate_id: self._latency_of(t) for t in candidates}
            arm.screen["predicted"] = {candidates[i].candidate_id: costs[i] for i in order[keep:]}
            self.run_dir.save_checkpoint(arm.name, _checkpoint(arm))
        train = []
        recorded = {t.candidate_id for t in arm.predicted if t.step == arm.step}
        for task in tasks:
            if task.candidate_id in arm.screen["predicted"]:
                if task.candidate_id not in recorded:  # (a resumed bracket recorded it)
                    self._record_predicted(arm, task, tell_now)
            elif task.candidate_id in arm.screen["predicted_acc"]:  # not a latency failure
                store = self.table_latencies if self._priced_by_table(task) else self.latencies
                store[task.arch] = arm.screen["latency_ms"][task.candidate_id]
                train.append(task)
        return train

    def _record_predicted(self, arm: Arm, task: Task, tell_now: bool = True) -> None:
        cost = arm.screen["predicted"][task.candidate_id]
        accuracy = arm.screen["predicted_acc"][task.candidate_id]
        reward = mnas_reward(accuracy, cost["latency_ms"], arm.reward)
        if tell_now:
            _tell(arm, arm.batch.pop(task.candidate_id), reward)
        # never trained: no rung, seed or budget of its own (a bracket's rung below the lowest)
        record = {**task.record(), "rung": None, "seed": None, "epochs": None}
        trial = Trial(**record, val_acc=None, latency_ms=cost["latency_ms"],
                      reward=reward, params=cost["params"], macs=cost["macs"],
                      status=TrialStatus.PREDICTED, error=None, seconds=0.0,
                      predicted_acc=accuracy)
        self.run_dir.append_trial(trial)
        arm.predicted.append(trial)
        arm.board.log_trial(trial)

    def _screened_on(self, arm: Arm) -> list[Trial]:
        """The arm's results the screener is corrected on, at the budget it predicts: every
        training of a flat search; under a schedule the lowest rung's chain trainings
        (target: first) or the top rung's candidates, mean of their seeds (target: top)."""
        if self.plan is None:
            return arm.trials
        if top_target(self.config):
            return [t for t in search_results(arm.trials) if t.rung == self.plan.top]
        return [t for t in arm.trials if t.rung == 0 and t.seed == 0]

    def _measure(self, task: Task, table: bool = False) -> bool:
        """Measure ``task``'s latency into ``latencies`` (in this process, under the core lock;
        ``table``: predict it with the scaled lookup table into ``table_latencies``); an
        architecture that cannot even be built and run is recorded as failed: False."""
        start = time.perf_counter()
        source, store = ((self.table, self.table_latencies) if table
                         else (self.latency, self.latencies))
        try:
            store[task.arch] = store.get(task.arch) or source(task.arch)
            return True
        except Exception as error:
            self._finish(self._arm(task), task,
                         Outcome("failed", None, None, None,
                                 f"latency: {type(error).__name__}: {error}", 0.0),
                         float("nan"), trained=False)
            return False
        finally:
            self.timing.latency += time.perf_counter() - start

    def _collect(self) -> None:
        """Wait for the next finished candidate and record it."""
        start = time.perf_counter()
        task, outcome = self.evaluator.next_finished()
        self.timing.waiting += time.perf_counter() - start
        self.timing.candidates += outcome.seconds
        arm = self._arm(task)
        self._finish(arm, task, outcome, self._latency_of(task))
        if task.start_epoch:  # recorded: the state it continued from is needed no more
            chain_checkpoint(self.run_dir.chains, task, task.start_epoch).unlink(missing_ok=True)
        if self.plan is not None and self.config.search.asynchronous:  # ASHA
            if task.rung == 0 and task.seed == 0:
                self._asha_tell(arm, task.candidate_id)
        elif self.config.search.asynchronous:
            self._end_complete_steps(arm)

    def _arm(self, task: Task) -> Arm:
        return next(arm for arm in self.arms if arm.name == task.arm)

    def _end_complete_steps(self, arm: Arm) -> None:
        """Log every step from ``arm.step`` on whose candidates have all been told."""
        search = self.config.search
        while True:
            size = min(search.batch_size, search.trials - arm.step * search.batch_size)
            if size <= 0 or sum(t.step == arm.step for t in arm.trials) < size:
                return
            self._end_step(arm)

    def _end_step(self, arm: Arm) -> None:
        """Log the step whose batch has just been told in full, and move on to the next."""
        batch_trials = [t for t in arm.trials if t.step == arm.step]
        stats = dict(arm.stats)
        readout = arm.controller.readout()
        if readout is not None:
            stats["policy_entropy"] = readout.entropy
        screened_out = ([t for t in arm.predicted if t.step == arm.step]
                        if arm.screener is not None else None)
        arm.board.log_step(arm.step, batch_trials, arm.trials, stats, self.config.search.top_k,
                           screened_out)
        arm.step += 1
        arm.stats = {}
        arm.screen = None

    def _finish(self, arm: Arm, task: Task, outcome: Outcome, latency_ms: float,
                trained: bool = True) -> None:
        """Reward, tell, record and log a finished candidate; stop a search that keeps
        failing."""
        ok = outcome.status == TrialStatus.OK
        reward = mnas_reward(outcome.accuracy, latency_ms, arm.reward) if ok else FAILED_REWARD
        samples = None
        if task.rung is None:
            _tell(arm, arm.batch.pop(task.candidate_id), reward)
        else:  # a bracket tells its controller when it ends
            samples = self.plan.part_cost(task.start_epoch, task.epochs) if trained else 0
        predicted = (arm.screen or {}).get("predicted_acc", {}).get(task.candidate_id)
        trial = Trial(**task.record(), val_acc=outcome.accuracy,
                      latency_ms=latency_ms, reward=reward, params=outcome.params,
                      macs=outcome.macs, status=TrialStatus(outcome.status), error=outcome.error,
                      seconds=outcome.seconds, predicted_acc=predicted, samples=samples)
        self.run_dir.append_trial(trial)
        arm.trials.append(trial)
        arm.board.log_trial(trial)
        arm.bar.update()
        _show_best(arm)
        stop = arm.failures.record(outcome.status, outcome.error)
        if stop:  # the checkpoint holds the batch in flight: --resume re-runs the rest of it
            raise RunError(stop)

    def _log_summary(self) -> None:
        config, run, timing = self.config, self.run_dir, self.timing
        for arm in self.arms:
            failed = sum(not t.ok for t in arm.trials)
            screened = f", {len(arm.predicted)} more screened out" if arm.screener else ""
            best = top_trials(arm.trials, config.search.top_k)
            if self.plan is None:
                found = f"{len(arm.trials)} trials ({failed} failed{screened})"
            else:  # the results are the top rung's candidates, each the mean of its seeds
                found = (f"{len(search_results(arm.trials))} candidates of the highest rung, "
                         f"mean of their seeds ({len(arm.trials)} trainings, {failed} failed"
                         f"{screened})")
            log.info(f"\n{arm.name}: best {len(best)} of {found}\n" + trials_table(best))
            families = family_summary(arm.trials)
            if families is not None:
                log.info("\n".join(family_lines(families)))
        shares = timing.as_dict()
        log.info(f"\nrun took {timing.total:.0f} s: {timing.setup:.0f} s set-up, "
                 f"{timing.candidates:.0f} s of candidate training on {timing.workers} "
                 f"worker(s), {timing.latency:.1f} s latency measurement, "
                 f"{shares['overhead_seconds']:.1f} s driver overhead; "
                 f"{100 * shares['outside_share']:.1f}% of the time went to neither training "
                 "nor measuring")
        log.info(f"files: {run.path}/ (config.yaml, trials.jsonl, checkpoints/, timing.json"
                 + "".join(f", {name}" for name in (TARGET_FILE, CALIBRATION_FILE)
                           if (run.path / name).exists()) + "); "
                 f"tensorboard --logdir {run.tensorboard}")


def run_search(config: RunConfig, out: str | Path, resume: bool = False) -> dict[str, list[Trial]]:
    """Run (or resume) the search into run directory ``out``; the trials of each arm."""
    return Search(config, out, resume).run()


def _bracket_candidates(arm: Arm) -> dict[int, Candidate]:
    """The bracket's candidates that train: those asked, less the ones screening kept out."""
    out = (arm.screen or {}).get("predicted", {})
    return {cid: c for cid, c in arm.batch.items() if cid not in out}


def _tell(arm: Arm, candidate: Candidate, reward: float,
          rungs: dict[int, float] | None = None) -> None:
    """Tell ``arm``'s controller ``reward``, and with ``rungs`` (rung -> reward, tell:
    per_budget) the candidate's reward at each rung it reached."""
    stats = (arm.controller.tell(candidate, reward) if rungs is None
             else arm.controller.tell_rungs(candidate, rungs, reward))
    if stats:
        arm.stats = stats


def _show_best(arm: Arm) -> None:
    best = top_trials(arm.trials, 1)
    if best and arm.bar is not None:
        arm.bar.set_postfix(best=f"{best[0].reward:.4f}", acc=f"{best[0].val_acc:.3f}")


def _task_of(trial: Trial) -> Task:
    """The task that trained ``trial``'s candidate, for another training of it."""
    return Task(trial.arm, trial.step, trial.index, trial.candidate_id, trial.decisions,
                trial.arch, trial.kd, trial.family)


def _checkpoint(arm: Arm) -> dict:
    return {"step": arm.step, "first_id": arm.first_id, "controller": arm.controller.state_dict(),
            "screen": arm.screen}
