"""Reading run directories for the report: trials, learned policies, the final stage.

Everything here reads the files a run wrote (config.yaml, trials.jsonl, checkpoints/, final.json,
final_runs.jsonl, timing.json) and never trains or writes into the run. A file that is missing,
damaged or shorter than the config promises becomes a note in :attr:`Run.notes`, so a report of a
killed or still-running search shows what is there instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from search_spaces import SearchSpace

from ..common.stats import mean, total_variation
from ..components import build_controller, build_space
from ..config import RunConfig, load_config
from ..errors import AkdError
from ..final import final_records, searched_student, statistics_of, summarize, training_budget
from ..search import RunDir, Trial, best_so_far, top_trials
from ..search.schedule import default_budget, make_plan

LATE_FRACTION = 0.25  # without a controller readout, the policy is the last quarter's choices


@dataclass
class Policy:
    """What an arm came to prefer: per decision, the probability of each choice."""

    arm: str
    source: str  # "controller" (the checkpoint's policy, read out) or "late trials" (frequencies)
    marginals: list[list[float]]
    greedy: list[int]  # the most likely choice of each decision (argmax fed back, for the LSTM)
    entropy: float | None = None  # nats, of the whole sequence (controller readout only)
    max_entropy: float | None = None  # the uniform policy's, for scale


@dataclass
class Run:
    path: Path
    name: str
    config: RunConfig | None = None
    space: SearchSpace | None = None
    trials: list[Trial] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)
    final: dict | None = None  # final.json, or a summary of final_runs.jsonl while incomplete
    timing: dict | None = None
    notes: list[str] = field(default_factory=list)  # what is missing or partial

    @property
    def arms(self) -> list[str]:
        if self.config is not None:
            return list(self.config.search.arms)
        return sorted({t.arm for t in self.trials})

    def arm_trials(self, arm: str) -> list[Trial]:
        return [t for t in self.trials if t.arm == arm]

    def best(self, arm: str) -> Trial | None:
        best = top_trials(self.arm_trials(arm), 1)
        return best[0] if best else None

    @property
    def teacher(self) -> str:
        if self.config is None:
            return "unknown"
        teacher = self.config.teacher
        return (teacher.weights or "user") if teacher.name == "user" else teacher.name


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Everything readable in run directory ``path``; what is not becomes a note."""
    path = Path(path)
    run = Run(path, name or path.name)
    run_dir = RunDir(path)
    _read_config(run, run_dir)
    run.trials = _read_trials(run, run_dir)
    _check_budget(run)
    for arm in run.arms:
        policy = _read_policy(run, run_dir, arm)
        if policy is not None:
            run.policies[arm] = policy
    run.final = _read_final(run, run_dir)
    if (path / "timing.json").exists():
        run.timing = _read_json(run, path / "timing.json")
    return run


def _read_config(run: Run, run_dir: RunDir) -> None:
    if not run_dir.config.exists():
        run.notes.append("config.yaml is missing: arms, budget and space are unknown, so the "
                         "learned policies cannot be read")
        return
    try:
        run.config = load_config(run_dir.config)
        run.space = build_space(run.config)
    except AkdError as error:
        run.notes.append(f"config.yaml cannot be used ({error})")
        run.config = run.space = None


def _read_trials(run: Run, run_dir: RunDir) -> list[Trial]:
    if not run_dir.trials.exists():
        run.notes.append("trials.jsonl is missing: the search has not recorded a trial")
        return []
    try:
        records = run_dir.read_records(repair=False)
    except (ValueError, UnicodeDecodeError) as error:
        run.notes.append(f"trials.jsonl cannot be read ({error})")
        return []
    if not run_dir.trials.read_bytes().endswith(b"\n") and run_dir.trials.stat().st_size:
        run.notes.append("trials.jsonl ends in a line cut short (a killed run); it is ignored")
    trials, damaged = [], 0
    for record in records:
        try:
            trials.append(Trial.from_json(record))
        except (ValueError, TypeError):
            damaged += 1
    if damaged:
        run.notes.append(f"trials.jsonl: {damaged} records are not trials (they lack the trial "
                         "fields or have an unknown status) and are ignored")
    return [t for t in trials if t.trained]


def _check_budget(run: Run) -> None:
    if run.config is None:
        return
    search = run.config.search
    for arm in run.arms:
        trials = run.arm_trials(arm)
        have, want = len(trials), search.trials
        if search.schedule.multi_fidelity:  # trainings of every rung, as the plan has them
            if search.asynchronous or not trials:
                continue  # ASHA's count depends on its promotions
            first = next((t for t in trials if t.samples and t.epochs and t.rung == 0), None)
            if first is None:
                continue
            images = first.samples // first.epochs  # a bottom-rung training, from scratch
            budget = default_budget(run.config, images)
            want = make_plan(search.schedule, search.batch_size, budget, images).trainings()
        if have < want:
            run.notes.append(f"{arm}: {have} of {want} trials: the search stopped early or is "
                             "still running (`run_akd.py --resume` finishes it)")


def _read_policy(run: Run, run_dir: RunDir, arm: str) -> Policy | None:
    if run.space is None:
        return None
    try:
        checkpoint = run_dir.load_checkpoint(arm)
    except AkdError as error:
        run.notes.append(str(error))
        checkpoint = None
    if checkpoint is not None:
        controller = build_controller(run.config, run.space, arm)
        try:
            controller.load_state_dict(checkpoint["controller"])
        except (KeyError, TypeError, ValueError) as error:
            run.notes.append(f"checkpoints/{arm}.pt does not fit the run's controller ({error})")
        else:
            out = controller.readout()
            if out is not None:  # the architecture's decisions (search.kd's come after them)
                n = len(run.space.choices)
                return Policy(arm, "controller", out.marginals[:n], out.greedy[:n], out.entropy,
                              out.max_entropy)
    elif run.arm_trials(arm):
        run.notes.append(f"checkpoints/{arm}.pt is missing: {arm}'s policy is estimated from "
                         "its late trials")
    return late_trials_policy(arm, run.arm_trials(arm), run.space.choices)


def late_trials_policy(arm: str, trials: list[Trial], choices: tuple[int, ...]) -> Policy | None:
    """Choice frequencies over the last quarter of an arm's trials: the policy of controllers
    with no readout (random, evolution) or without a checkpoint."""
    ordered = sorted(trials, key=lambda t: (t.step, t.candidate_id))
    late = ordered[-max(1, math.ceil(LATE_FRACTION * len(ordered))):] if ordered else []
    if not late:
        return None
    marginals = [[sum(t.decisions[d] == c for t in late) / len(late) for c in range(n)]
                 for d, n in enumerate(choices)]
    return Policy(arm, "late trials", marginals, [_argmax(p) for p in marginals])


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def policy_distance(a: Policy, b: Policy) -> dict:
    """Mean over decisions of the total-variation distance between the two policies' choice
    probabilities (0: the same preferences, 1: disjoint), and how many greedy choices agree."""
    per_decision = [total_variation(pa, pb) for pa, pb in zip(a.marginals, b.marginals)]
    agree = sum(x == y for x, y in zip(a.greedy, b.greedy))
    return {"mean_tv": sum(per_decision) / len(per_decision), "per_decision": per_decision,
            "greedy_agreement": agree / len(per_decision)}


def decision_agreement(a: Trial | None, b: Trial | None) -> float | None:
    """The share of decisions on which two trials' architectures agree (None when one is
    missing or they come from different spaces)."""
    if a is None or b is None or len(a.decisions) != len(b.decisions):
        return None
    return sum(x == y for x, y in zip(a.decisions, b.decisions)) / len(a.decisions)


def preferences(policy: Policy, space: SearchSpace) -> dict[str, dict[str, tuple]]:
    """Per kind of decision (op, kernel, se, ...: the name after the stage), each option's mean
    probability over the stages and, for scale, the uniform policy's. Options whose values
    differ by stage (channels, layers) are named by rank: smallest, middle, largest."""
    values_of = defaultdict(set)
    for decision in space.decisions:
        values_of[_kind(decision)].add(decision.values)
    sums: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0]))
    for decision, probs in zip(space.decisions, policy.marginals):
        kind, n = _kind(decision), len(decision.values)
        for index, (value, prob) in enumerate(zip(decision.values, probs)):
            label = str(value) if len(values_of[kind]) == 1 else _rank_label(index, n)
            entry = sums[kind][label]
            entry[0], entry[1], entry[2] = entry[0] + prob, entry[1] + 1 / n, entry[2] + 1
    return {kind: {label: (p / count, uniform / count)
                   for label, (p, uniform, count) in options.items()}
            for kind, options in sums.items()}


def _kind(decision) -> str:
    return decision.name.split(".")[-1]


def _rank_label(index: int, n: int) -> str:
    if index == 0:
        return "smallest"
    if index == n - 1:
        return "largest"
    return "middle" if n == 3 else f"#{index + 1} of {n}"


def _read_json(run: Run, path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        run.notes.append(f"{path.name} cannot be read ({error})")
        return None


def _read_final(run: Run, run_dir: RunDir) -> dict | None:
    """final.json with its gain and table recomputed from the runs it lists (so the report
    never trusts a number it cannot derive); while the final stage is incomplete, a summary of
    the trainings in final_runs.jsonl."""
    final_json, partial = run.path / "final.json", run.path / "final_runs.jsonl"
    if final_json.exists():
        final = _read_json(run, final_json)
        if final is None or not isinstance(final.get("students"), list):
            if final is not None:
                run.notes.append("final.json has no students")
            return None
        return _with_statistics(final)
    if not partial.exists():
        if run.config is not None and run.config.final.enabled and run.trials:
            run.notes.append("final stage not run yet (no final.json): "
                             "`run_akd.py --out RUN --final-only` runs it")
        return None
    # this config's budget only (a changed final budget is a stage of its own); records from
    # before budgets were kept are of unknown budget, and count
    budget = training_budget(dataclasses.asdict(run.config.final)) if run.config else None
    runs = [r for r in final_records(run.path, repair=False) if r["budget"] in (budget, None)]
    if run.config is None or not runs:
        run.notes.append("final stage incomplete and not summarisable (final_runs.jsonl without "
                         "a usable config or runs)")
        return None
    run.notes.append(f"final stage incomplete: {len(runs)} trainings in final_runs.jsonl, no "
                     "final.json yet (`run_akd.py --out RUN --final-only` finishes it)")
    return summarize(run.config, _final_students(run, runs), runs)


def _final_students(run: Run, runs: list[dict]) -> list[dict]:
    """The students of the finished trainings, their costs looked up in the trials (none for a
    student the trials do not hold, such as the hand-designed reference)."""
    by_arch = {t.arch: t for t in run.trials}
    students = {}
    for record in runs:
        students.setdefault((record["source"], record["rank"]), searched_student(
            record["source"], record["rank"], by_arch.get(record["arch"]), record["arch"]))
    return [students[key] for key in sorted(students)]


def _with_statistics(final: dict) -> dict:
    return {**final, **statistics_of(final["students"])}


def curves(trials: list[Trial]) -> list[dict]:
    """Per controller step: mean and best-so-far reward and accuracy, mean latency, failures."""
    ordered = sorted(trials, key=lambda t: t.step)  # the order within a step does not matter
    best = dict(zip((t.step for t in ordered), best_so_far(ordered)))  # after each step's last
    by_step = defaultdict(list)
    for trial in ordered:
        by_step[trial.step].append(trial)
    rows, best_acc = [], -math.inf
    for step in sorted(by_step):
        batch = by_step[step]
        ok = [t for t in batch if t.ok]
        best_acc = max([best_acc] + [t.val_acc for t in ok])
        rows.append({
            "step": step, "trials": len(batch), "failed": len(batch) - len(ok),
            "reward_mean": mean([t.reward for t in batch]),
            "reward_best_so_far": best[step] if best[step] > -math.inf else None,
            "acc_mean": mean([t.val_acc for t in ok]),
            "acc_best_so_far": best_acc if best_acc > -math.inf else None,
            "latency_mean_ms": mean([t.latency_ms for t in ok])})
    return rows


def pareto_front(trials: list[Trial]) -> list[Trial]:
    """The finished trials no other beats on both accuracy (higher) and latency (lower)."""
    front, best_acc = [], -math.inf
    for trial in sorted((t for t in trials if t.ok),
                        key=lambda t: (t.latency_ms, -t.val_acc)):
        if trial.val_acc > best_acc:
            front.append(trial)
            best_acc = trial.val_acc
    return front
