"""The report of one or several runs: report.md, CSV tables and PNG figures in one directory.

:func:`write_report` reads each run directory with :mod:`akd.reporting.analysis` (never
re-training anything), draws the figures with :mod:`akd.reporting.plots`, and writes the numbers
behind every figure and sentence as CSV so they can be re-plotted elsewhere. With several runs (other teachers, other seeds) it adds
a comparison: do the arms' best students and policies differ by teacher, and do seeds with the
same teacher converge?
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from pathlib import Path

from ..common.formatting import number as _num
from ..common.io import check_out, write_atomic, write_text
from ..errors import RunError
from ..final import student_macs
from ..search import TRIAL_FIELDS, recorded_target, search_results, top_trials, trials_table
from ..search.trial import family_lines, family_summary
from .analysis import (Run, curves, decision_agreement, load_run, pareto_front, policy_distance,
                       preferences)
from .plots import plot_curves, plot_distance_matrix, plot_pareto, plot_policies

TRIAL_COLUMNS = ("run", *(name for name in TRIAL_FIELDS if name != "decisions"))
CSV_COLUMNS = {
    "trials": TRIAL_COLUMNS,
    "curves": ("run", "arm", "step", "trials", "failed", "reward_mean", "reward_best_so_far",
               "acc_mean", "acc_best_so_far", "latency_mean_ms"),
    "pareto": ("run", "arm", "latency_ms", "val_acc", "reward", "arch"),
    "policy": ("run", "arm", "source", "decision", "choice", "option", "probability"),
    "policy_distance": ("run_a", "arm_a", "run_b", "arm_b", "mean_tv", "greedy_agreement"),
    "final_runs": ("run", "source", "rank", "mode", "seed", "status", "test_acc", "arch"),
    "final_students": ("run", "source", "rank", "cls_mean", "kd_mean", "kd_minus_cls",
                       "latency_ms", "params", "macs", "arch"),
    "gain": ("run", "n", "mean", "std", "ci95_low", "ci95_high", "same_architecture",
             "per_seed"),
    "comparison": ("run_a", "run_b", "arm", "same_teacher", "same_seed", "policy_mean_tv",
                   "greedy_agreement", "best_arch_agreement", "chance_agreement"),
}


def write_report(paths: list[str | Path], out: str | Path) -> Path:
    """Analyze the run directories ``paths`` into ``out``; the path of report.md."""
    out = check_out(out, "report.md", "a report")
    out.mkdir(parents=True, exist_ok=True)
    runs = [load_run(path, name) for path, name in zip(paths, _names(paths))]
    rows: dict[str, list[dict]] = defaultdict(list)
    prefix = (lambda run: f"{run.name}-") if len(runs) > 1 else (lambda run: "")
    lines = ["# akd report", "", "Runs: " + ", ".join(f"`{r.path}`" for r in runs), ""]
    for run in runs:
        lines += _run_section(run, out, prefix(run), rows, heading="##" if len(runs) > 1 else "")
    if len(runs) > 1:
        lines += _comparison_section(runs, out, rows)
    for name, columns in CSV_COLUMNS.items():
        _write_csv(out / f"{name}.csv", columns, rows[name])
    lines += ["## Files", "", "Tables (CSV, the numbers behind the text and figures): "
              + ", ".join(f"`{name}.csv`" for name in CSV_COLUMNS) + ".", ""]
    report = out / "report.md"
    write_text(report, "\n".join(lines).rstrip() + "\n")
    return report


def _names(paths: list) -> list[str]:
    """Directory names, made unique (runs/a/demo and runs/b/demo become demo and demo-2)."""
    names, seen = [], defaultdict(int)
    for path in paths:
        name = Path(path).resolve().name
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def _write_csv(path: Path, columns: tuple, rows: list[dict]) -> None:
    def write(handle) -> None:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, write, mode="w", newline="")


def _run_section(run: Run, out: Path, prefix: str, rows: dict, heading: str) -> list[str]:
    h = heading + "#" if heading else "##"
    lines = [f"{heading} Run `{run.name}`" if heading else f"Run directory: `{run.path}`", ""]
    if run.config is not None:
        c = run.config
        target = _target_ms(run)
        how = " (auto: measured on the run's machine)" if c.reward.target_ms == "auto" else ""
        lines += [f"Teacher `{run.teacher}`, space `{c.space.name}` ({c.space.preset}), "
                  f"controller `{c.controller.name}`, {c.search.trials} trials per arm in steps "
                  f"of {c.search.batch_size}, seed {c.search.seed}, reward target "
                  f"{_num(target, 3)} ms{how} ({c.reward.constraint}).", ""]
    if run.notes:
        lines += ["**Missing or partial:**", ""] + [f"- {note}" for note in run.notes] + [""]
    lines += _search_lines(run, out, prefix, rows, h)
    lines += _policy_lines(run, out, prefix, rows, h)
    lines += _final_lines(run, rows, h)
    lines += _timing_lines(run, h)
    return lines


def _search_lines(run: Run, out: Path, prefix: str, rows: dict, h: str) -> list[str]:
    lines = [f"{h} Search", ""]
    if not run.trials:
        return lines + ["No trials recorded, so there is nothing to plot.", ""]
    rows["trials"] += [{"run": run.name, **t.to_json()} for t in run.trials]
    for arm in run.arms:
        trials = run.arm_trials(arm)
        steps = curves(trials)
        rows["curves"] += [{"run": run.name, "arm": arm, **r} for r in steps]
        # a multi-fidelity search: its results are the top rung's candidates, not every training
        multi = any(t.rung is not None for t in trials)
        front = pareto_front(search_results(trials) if multi else trials)
        rows["pareto"] += [{"run": run.name, "arm": arm, **t.to_json()} for t in front]
        if not steps:
            lines.append(f"- **{arm}**: no trials yet.")
            continue
        best = run.best(arm)
        failed = sum(r["failed"] for r in steps)
        counted = (f"{len(trials)} trainings ({failed} failed) in {len(steps)} bracket(s)"
                   if multi else f"{len(trials)} trials ({failed} failed) in {len(steps)} steps")
        lines.append(
            f"- **{arm}**: {counted}; mean reward {_num(steps[0]['reward_mean'])} in the first "
            f"{'bracket' if multi else 'step'}, {_num(steps[-1]['reward_mean'])} in the last; "
            f"best reward{' (its highest rung, mean of its seeds)' if multi else ''} "
            f"{_num(best.reward if best else None)} (validation accuracy "
            f"{_num(best.val_acc if best else None)}, {_num(best.latency_ms if best else None, 3)} "
            f"ms), {len(front)} students on its Pareto front.")
    plot_curves(run, out / f"{prefix}curves.png")
    plot_pareto(run, out / f"{prefix}pareto.png", _target_ms(run))
    lines += ["", f"![search progress]({prefix}curves.png)", "",
              f"![accuracy vs latency]({prefix}pareto.png)", ""]
    for arm in run.arms:
        best = top_trials(run.arm_trials(arm), 3)
        if best:
            lines += [f"Best of {arm} by reward:", "", trials_table(best, markdown=True), ""]
        families = family_summary(run.arm_trials(arm))
        if families is not None:  # autokd: the best family and how alike its members are
            lines += [f"{arm}'s families:", "", *(f"- {line.strip()}"
                                                  for line in family_lines(families)), ""]
    return lines


def _policy_lines(run: Run, out: Path, prefix: str, rows: dict, h: str) -> list[str]:
    lines = [f"{h} Learned policies", ""]
    if not run.policies:
        return lines + ["No policy to read (no checkpoint, trials or config).", ""]
    for arm, policy in run.policies.items():
        for d, (decision, probs) in enumerate(zip(run.space.decisions, policy.marginals)):
            rows["policy"] += [{"run": run.name, "arm": arm, "source": policy.source,
                                "decision": decision.name, "choice": c, "option": value,
                                "probability": p}
                               for c, (value, p) in enumerate(zip(decision.values, probs))]
        lines.append(f"- **{arm}** ({_policy_origin(policy)}): prefers "
                     + "; ".join(_favourite(kind, options)
                                 for kind, options in preferences(policy, run.space).items())
                     + f". Its most likely student: `{run.space.decode(policy.greedy)}`.")
    plot_policies(run, out / f"{prefix}policy.png")
    lines += ["", f"![learned policy]({prefix}policy.png)", ""]
    arms = list(run.policies)
    for a, b in itertools.combinations(arms, 2):
        distance = policy_distance(run.policies[a], run.policies[b])
        rows["policy_distance"].append({"run_a": run.name, "arm_a": a, "run_b": run.name,
                                        "arm_b": b, **distance})
        lines += [f"Distance between the {a} and {b} policies: mean total variation "
                  f"{distance['mean_tv']:.3f} per decision (0: the same preferences, 1: "
                  f"disjoint); their most likely choices agree on "
                  f"{distance['greedy_agreement']:.0%} of the decisions.", ""]
    return lines


def _policy_origin(policy) -> str:
    if policy.entropy is None:
        return "choice frequencies of its last quarter of trials"
    share = policy.entropy / policy.max_entropy
    verdict = ("still close to uniform: too few updates to read strong preferences"
               if share > 0.9 else "has concentrated")
    return (f"controller policy, entropy {policy.entropy:.1f} of at most "
            f"{policy.max_entropy:.1f} nats, {verdict}")


def _favourite(kind: str, options: dict[str, tuple]) -> str:
    """The option most above its uniform probability."""
    label, (prob, uniform) = max(options.items(), key=lambda item: item[1][0] - item[1][1])
    return f"{kind} {label} ({prob:.2f} vs {uniform:.2f} uniform)"


def _final_lines(run: Run, rows: dict, h: str) -> list[str]:
    lines = [f"{h} Final stage", ""]
    final = run.final
    if final is None:
        return lines + ["No final stage results.", ""]
    lines += ["Test accuracy, mean over seeds, trained from scratch with labels only (CLS) and "
              "with KD from the teacher:", "",
              "| student | CLS | KD | KD - CLS | latency ms | params k | architecture |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in final["students"]:
        cls, kd = s.get("cls_mean"), s.get("kd_mean")
        diff = kd - cls if cls is not None and kd is not None else None
        rows["final_students"].append({"run": run.name, **s, "macs": student_macs(s),
                                       "kd_minus_cls": diff})
        rows["final_runs"] += [{"run": run.name, **r} for r in s.get("runs", [])]
        params = s.get("params")
        lines.append(f"| {s['source']} #{s['rank']} | {_num(cls)} | {_num(kd)} | "
                     f"{_num(diff, signed=True)} | {_num(s.get('latency_ms'), 3)} | "
                     f"{_num(params / 1e3 if params else None, 1)} | `{s['arch']}` |")
    lines += [""] + _table_2x2_lines(final.get("table_2x2") or {}) + [""]
    gain = final.get("gain")
    if gain is not None:
        ci = gain.get("ci95") or [None, None]
        rows["gain"].append({"run": run.name, **gain, "ci95_low": ci[0], "ci95_high": ci[1],
                             "per_seed": " ".join(f"{g:.4f}" for g in gain["per_seed"])})
    lines += [gain_in_words(gain), ""]
    reference = next((s for s in final["students"] if s["source"] == "reference"), None)
    if reference is not None:
        lines += [_reference_words(reference, final["students"]), ""]
    return lines


def _table_2x2_lines(table: dict) -> list[str]:
    if not table:
        return []
    lines = ["The AKD paper's 2x2 table (test accuracy of each arm's best student):", "",
             "| searched by \\ trained by | hard label | distillation |", "| --- | --- | --- |"]
    for searched in ("hard_label", "distillation"):
        cells = table.get(searched) or {}
        lines.append(f"| {searched.replace('_', ' ')} | "
                     f"{_num(cells.get('trained_hard_label'))} | "
                     f"{_num(cells.get('trained_distillation'))} |")
    return lines


def gain_in_words(gain: dict | None) -> str:
    """The AKD gain and its interval as a sentence a reader can act on."""
    if gain is None:
        return ("The AKD gain needs both arms' best students trained with CLS and KD; this run "
                "does not have them.")
    if gain["n"] == 0:
        return ("The AKD gain has no seed with all four trainings (CLS and KD of both arms' "
                "best) finished yet.")
    metric = "the AKD gain [KD-CLS](akd's best) - [KD-CLS](nas's best)"
    mean = 100 * gain["mean"]
    if gain.get("same_architecture"):
        return (f"Both arms found the same student, so {metric} is 0 by construction: at this "
                "budget the teacher did not change which student is best.")
    if gain["ci95"] is None:
        return (f"{metric.capitalize()} is {mean:+.2f} percentage points from a single seed; "
                "one seed gives no interval, so this says nothing yet. Set final.seeds to 3 or "
                "more (`run_akd.py --out RUN --final-only --set final.seeds=5`).")
    low, high = (100 * v for v in gain["ci95"])
    interval = f"95% CI [{low:+.2f}, {high:+.2f}] over {gain['n']} seeds"
    if low > 0:
        return (f"Searching with the teacher helped: the akd arm's student gains {mean:+.2f} "
                f"percentage points more from KD than the nas arm's ({interval}, which excludes "
                "0). Prefer the akd arm's student when it will be distilled.")
    if high < 0:
        return (f"Searching with the teacher did not help here: {metric} is {mean:+.2f} "
                f"percentage points ({interval}, which excludes 0): the nas arm's student "
                "gained more from KD.")
    return (f"No evidence either way: {metric} is {mean:+.2f} percentage points and its "
            f"{interval} includes 0, so effects smaller than about {(high - low) / 2:.2f} "
            "points cannot be told from seed noise. More seeds (final.seeds) or a longer final "
            "budget (final.training.epochs) narrow the interval; a longer search (search.trials) "
            "gives the arms room to differ.")


def _reference_words(reference: dict, students: list[dict]) -> str:
    searched = [s for s in students if s["source"] != "reference" and s.get("kd_mean") is not None]
    if reference.get("kd_mean") is None or not searched:
        return "The hand-designed reference has no finished KD training yet."
    best = max(searched, key=lambda s: s["kd_mean"])
    margin = 100 * (best["kd_mean"] - reference["kd_mean"])
    verdict = "beat" if margin > 0 else "did not beat"
    return (f"Search {verdict} hand design: with KD, the best searched student ({best['source']}"
            f" #{best['rank']}, {best['latency_ms']:.3f} ms) is {margin:+.2f} points against the "
            f"hand-designed reference at {reference['latency_ms']:.3f} ms.")


def _timing_lines(run: Run, h: str) -> list[str]:
    if not run.timing:
        return []
    return [f"{h} Where the search's time went (timing.json)", "", "| part | value |",
            "| --- | --- |",
            *(f"| {k} | {f'{v:.1%}' if k.endswith('share') else _num(v, 1)} |"
              for k, v in run.timing.items() if isinstance(v, (int, float))), ""]


def _comparison_section(runs: list[Run], out: Path, rows: dict) -> list[str]:
    lines = ["## Comparison across runs", "",
             "| run | teacher | seed | arm | best reward | val acc | latency ms | final KD | "
             "best architecture |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for arm in run.arms:
            best = run.best(arm)
            if best is None:
                continue
            lines.append(f"| {run.name} | {run.teacher} | {_seed(run)} | {arm} | "
                         f"{best.reward:.4f} | {best.val_acc:.4f} | "
                         f"{best.latency_ms:.3f} | {_num(_final_kd(run, arm))} | "
                         f"`{best.arch}` |")
    pairs = _run_pairs(runs, rows)
    lines += ["", *_comparison_words(pairs), ""]
    labels, policies = zip(*[(f"{run.name}/{arm}", policy) for run in runs
                             for arm, policy in run.policies.items()]) or ((), ())
    if len(labels) > 1 and len({len(p.marginals) for p in policies}) == 1:
        matrix = [[policy_distance(a, b)["mean_tv"] for b in policies] for a in policies]
        plot_distance_matrix(list(labels), matrix, out / "comparison-policy-distance.png")
        lines += ["![policy distances](comparison-policy-distance.png)", ""]
    return lines


def _seed(run: Run):
    return run.config.search.seed if run.config else "?"


def _final_kd(run: Run, arm: str) -> float | None:
    students = (run.final or {}).get("students", [])
    return next((s.get("kd_mean") for s in students if s["source"] == arm and s["rank"] == 1),
                None)


def _run_pairs(runs: list[Run], rows: dict) -> list[dict]:
    """Every pair of runs, per arm both ran: policy distance and agreement of their bests."""
    pairs = []
    for a, b in itertools.combinations(runs, 2):
        if a.config is None or b.config is None:
            continue
        same_teacher = a.config.teacher == b.config.teacher and a.config.data == b.config.data
        for arm in set(a.arms) & set(b.arms):
            pa, pb = a.policies.get(arm), b.policies.get(arm)
            best_a, best_b = a.best(arm), b.best(arm)
            if pa is None or pb is None or len(pa.marginals) != len(pb.marginals):
                continue
            distance = policy_distance(pa, pb)
            row = {"run_a": a.name, "run_b": b.name, "arm": arm, "same_teacher": same_teacher,
                   "same_seed": a.config.search.seed == b.config.search.seed,
                   "policy_mean_tv": distance["mean_tv"],
                   "greedy_agreement": distance["greedy_agreement"],
                   "best_arch_agreement": decision_agreement(best_a, best_b),
                   # two students drawn uniformly agree on a decision with probability 1/choices
                   "chance_agreement": sum(1 / n for n in a.space.choices) / len(a.space.choices)}
            rows["comparison"].append(row)
            pairs.append(row)
    return pairs


def _comparison_words(pairs: list[dict]) -> list[str]:
    if not pairs:
        return ["No two runs share an arm and a search space, so their policies cannot be "
                "compared."]
    lines = []
    groups = (("same teacher and seed (reruns: on CPU they repeat each other exactly)",
               lambda p: p["same_teacher"] and p["same_seed"]),
              ("same teacher, other seed", lambda p: p["same_teacher"] and not p["same_seed"]),
              ("other teacher", lambda p: not p["same_teacher"]))
    for label, belongs in groups:
        group = [p for p in pairs if belongs(p)]
        if not group:
            continue
        tv = sum(p["policy_mean_tv"] for p in group) / len(group)
        agree = [p["best_arch_agreement"] for p in group if p["best_arch_agreement"] is not None]
        chance = group[0]["chance_agreement"]
        lines.append(f"- Pairs of runs with {label} ({len(group)} run-arm pairs): mean policy "
                     f"distance {tv:.3f}; their best students agree on "
                     f"{_num(sum(agree) / len(agree) if agree else None, 2)} of the decisions "
                     f"(two random students: {chance:.2f}).")
    if len(lines) > 1:
        lines.append("- If teachers prefer different students, the other-teacher distance is "
                     "clearly larger than the same-teacher one; if two seeds of one teacher "
                     "converge, the same-teacher distance is small and its agreement high.")
    return lines


def _target_ms(run: Run) -> float | None:
    """The run's reward target T in ms: from its config, or as it measured it (auto)."""
    reward = recorded_target(run.config, run.path) if run.config else None
    return reward.target_ms if reward else None


RUN_FILES = ("config.yaml", "trials.jsonl", "final.json", "final_runs.jsonl")  # any one: a run,
# perhaps a partial or damaged one, which the report describes


def analyze(paths: list[str | Path], out: str | Path | None = None) -> Path:
    """``write_report`` with the default output directory: RUN/report for one run, else a
    ``report`` folder beside the first run."""
    for path in paths:
        if not Path(path).is_dir():
            raise RunError(f"{path} is not a run directory (no such directory)")
        if not any((Path(path) / name).exists() for name in RUN_FILES):
            # nothing of a run: the report would be empty, and written into a foreign folder
            raise RunError(f"{path} is not a run directory (none of {', '.join(RUN_FILES)}); "
                           "name the --out of an akd search")
    if out is None:
        first = Path(paths[0])
        out = first / "report" if len(paths) == 1 else first.parent / "report"
    return write_report(paths, out)
