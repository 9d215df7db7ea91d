"""The study's document: its tables, plots and answer in words, all from the summary that
:func:`research.studies.study.summarize` recomputes from the kept files (so a test can check that
every number in the document follows from them)."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import fmean

from akd.common import fraction, interval, number, percent, signed, write_text
from akd.reporting import plot_intervals, plot_lines

FIGURES = {"final": "study-final.png", "budget": "study-final-budget.png",
           "searches": "study-searches.png", "strategies": "study-strategies.png"}


def write_document(summary: dict, out: Path, command: str) -> Path:
    """study.md and its PNG figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_figures(summary, out)
    path = out / "study.md"
    write_text(path, markdown(summary, command))
    return path


def plot_figures(summary: dict, out: Path) -> None:
    main = {s["source"]: s for s in summary["main"]["students"] if s["rank"] == 1}
    plot_intervals({"labels only (CLS)": {k: v["cls"] for k, v in main.items()},
                    "distilled (KD)": {k: v["kd"] for k, v in main.items()}},
                   out / FIGURES["final"], "test accuracy",
                   "final stage: each arm's best and the reference, 95% intervals")
    budget = summary["final_budget"]
    plot_intervals({f"{e} epochs": {m: budget["accuracy"][str(e)][m] for m in ("cls", "kd")}
                    for e in budget["epochs"]}, out / FIGURES["budget"], "test accuracy",
                   "the final budget: the main akd student")
    curves = {f"{name}/{arm}": s["curve"] for name, arms in summary["searches"].items()
              for arm, s in arms.items()}
    entropy = {f"{name}/{arm}": s["entropy"] for name, arms in summary["searches"].items()
               for arm, s in arms.items() if s["entropy"]}
    panels = [("training", "best reward so far", "best-so-far reward", curves)]
    if entropy:
        panels.append(("controller step", "entropy / uniform", "policy entropy", entropy))
    plot_lines(panels, out / FIGURES["searches"], "the searches")
    strategies = summary["strategies"]
    plot_lines([("training", "best reward so far", "best-so-far reward",
                 {k: v["curve"] for k, v in strategies.items()})],
               out / FIGURES["strategies"], "the strategies on the same task")


def markdown(summary: dict, command: str) -> str:
    setup = summary["setup"]
    lines = ["# The study: does searching with the teacher find students that learn more "
             "from it?", "",
             f"On {setup['dataset']}, in the `{setup['space']}` space, with the teachers "
             f"{', '.join(f'`{t}`' for t in summary['teachers'])}. Produced by", "",
             "```bash", command, "```", "",
             "Every number below is recomputed from the result files kept beside this "
             "document (`tests/test_study.py` checks that).", "", "## The answer", "",
             *answer(summary), "", *setup_section(summary), "", *final_section(summary), "",
             *budget_section(summary), "", *search_section(summary), "",
             *agreement_section(summary), "", *strategies_section(summary), ""]
    return "\n".join(lines)


def answer(summary: dict) -> list[str]:
    gain = summary["main"]["gain"]
    words = [f"- **Does the distillation-aware search find a student that gains more from KD?** "
             f"{_gain_words(gain)}{_budget_caveat(summary['final_budget'])}"]
    kinds, random = summary["agreement"]["kinds"], summary["agreement"]["random"]
    words.append(f"- **Do searches with the same teacher converge, and with different teachers "
                 f"not?** {_agreement_words(kinds, random)}")
    words.append(f"- **Which strategy finds the best student for KD?** "
                 f"{_strategy_words(summary['strategies'])}")
    return words


def _budget_caveat(budget: dict) -> str:
    if budget["converged"]:
        return ""
    return (f" The final trainings had not converged: at {budget['chosen']} epochs, the largest "
            f"probed, doubling still gained more than {percent(budget['tolerance'], 1)}, so the "
            "answer holds at this budget, not necessarily at convergence.")


def _excludes_zero(summary: dict | None) -> int:
    """+1 / -1 when the 95% interval lies above / below zero, else 0."""
    ci = (summary or {}).get("ci95")
    if not ci:
        return 0
    return 1 if ci[0] > 0 else -1 if ci[1] < 0 else 0


def _gain_words(gain: dict | None) -> str:
    if not gain or gain.get("mean") is None:
        return "Not measured: the final stage has no complete pair of seeds."
    side = _excludes_zero(gain)
    text = (f"The AKD gain [KD - CLS](AKDNet) - [KD - CLS](NASNet) is {interval(gain)} over "
            f"{gain['n']} seeds")
    if gain.get("same_architecture"):
        return text + "; both arms found the same student, so the gain is zero by construction."
    if side > 0:
        return text + ": yes, the interval lies above zero."
    if side < 0:
        return text + ": no, the opposite; the interval lies below zero."
    return text + ": not at this budget; the interval includes zero."


def _agreement_words(kinds: dict, random: dict) -> str:
    same, other = kinds["same teacher"]["policy_tv"], kinds["different teachers"]["policy_tv"]
    if same["mean"] is None:
        return "Not measured: the study has no two searches with the same teacher."
    floor = random["policy_tv"]["central95"][0]
    text = (f"Policy distance (mean total variation of the last quarter's choices): "
            f"{number(same['mean'], 3)} for the same teacher, "
            f"{number(other['mean'], 3)} for different teachers, "
            f"{number(random['policy_tv']['mean'], 3)} for random pairs (95% of random pairs "
            f"above {number(floor, 3)}). ")
    if same["mean"] >= floor:
        text += ("Same-teacher searches are no closer than two random searches: at this search "
                 "length the controllers have not converged to a shared student.")
    elif other["mean"] is not None and other["mean"] > same["mean"]:
        text += ("Same-teacher searches are closer than random pairs, and closer than "
                 "different-teacher pairs, as the AKD paper found; with "
                 f"{same['n']} and {other['n']} pairs this is a direction, not a resolved "
                 "difference.")
    else:
        text += ("Same-teacher searches are closer than random pairs, but not closer than "
                 "different-teacher pairs: the teacher does not show in where the search goes.")
    return text


def _strategy_words(strategies: dict) -> str:
    parts = []
    for name, s in strategies.items():
        if name == "lstm_ppo":
            continue
        diff, side = s["minus_lstm_ppo"], _excludes_zero(s["minus_lstm_ppo"])
        verdict = ("better" if side > 0 else "worse" if side < 0 else
                   "not distinguishable")
        parts.append(f"`{name}` {interval(diff)} against lstm_ppo ({verdict})")
    return ("Distilled test accuracy of each strategy's best student, paired by seed: "
            + "; ".join(parts) + "." if parts else "Only lstm_ppo was run.")


def setup_section(summary: dict) -> list[str]:
    s, parts = summary["setup"], summary["parts"]
    rows = [f"- Search: {s['trials']} trainings per arm, {s['batch_size']} per controller step, "
            f"controller `{s['controller']}`; each candidate trained on {s['proxy_images']:,} "
            f"images for {s['proxy_epochs']} epoch(s); KD alpha {s['alpha']}, T "
            f"{s['temperature']}; reward target {number(s['target_ms'], 3)} ms"
            f"{' (measured on this machine)' if s['target_measured'] else ''}.",
            f"- Searches: the twin search (akd with `{summary['teachers'][0]}`, nas) for "
            f"{summary['search_seeds']} seeds, the akd arm alone with each further teacher.",
            f"- Final stage: {s['final_train_images'] or 'all':} training images, "
            f"{s['final_epochs']} epochs (chosen below), {summary['final_seeds']} seeds per "
            f"mode, test accuracy on {s['final_test_images'] or 'all'} test images.",
            "- Time per part: " + "; ".join(
                f"{name} {part['seconds'] / 60:.1f} min{_machines(part['machines'])}"
                for name, part in parts.items())
            + f"; in all {sum(p['seconds'] for p in parts.values()) / 60:.1f} min."]
    return ["## Setup", "", *rows]


def _machines(machines: dict[str, float]) -> str:
    """Where a part ran: " (on M)", or each machine's share when it was resumed elsewhere; a
    machine that only read a finished part back (under a second) is not named."""
    worked = {m: s for m, s in machines.items() if s >= 1.0} or machines
    if len(worked) == 1:
        return f" (on {next(iter(worked))})"
    return " (" + ", ".join(f"{s / 60:.1f} min on {m}" for m, s in worked.items()) + ")"


def final_section(summary: dict) -> list[str]:
    main = summary["main"]
    lines = ["## The 2x2 table and the gain", "",
             "Test accuracy (mean over seeds, 95% interval) of each arm's best student and the "
             "hand-designed reference nearest their latency:", "",
             "| student | latency ms | params | CLS | KD | architecture |",
             "| --- | --- | --- | --- | --- | --- |"]
    for s in main["students"]:
        lines.append(f"| {s['source']} #{s['rank']} | {number(s['latency_ms'], 3)} | "
                     f"{s['params']:,} | {interval(s['cls'], difference=False)} | "
                     f"{interval(s['kd'], difference=False)} | `{s['arch']}` |")
    table = main["table_2x2"]
    lines += ["", "| searched by \\ trained by | hard label | distillation |",
              "| --- | --- | --- |"]
    for searched, row in table.items():
        lines.append(f"| {searched.replace('_', ' ')} | {fraction(row['trained_hard_label'])} | "
                     f"{fraction(row['trained_distillation'])} |")
    gain = main["gain"]
    if gain:
        lines += ["", f"Gain per seed: {', '.join(signed(g, 4) for g in gain['per_seed'])}; "
                      f"mean {interval(gain)}."]
    lines += ["", f"![final stage]({FIGURES['final']})"]
    return lines


def _next_doubling(summary: dict) -> str:
    final = summary.get("parts", {}).get("final stage")
    if not final or final["seconds"] < 1.0:
        return ""
    return (f": the final stage took {_duration(final['seconds'])} at this budget, so the next "
            f"doubling would take about {_duration(2 * final['seconds'])} for it alone")


def budget_section(summary: dict) -> list[str]:
    b = summary["final_budget"]
    lines = ["## How the final budget was chosen", "",
             f"The main search's best akd student (`{b['student']}`) trained with labels only "
             f"and with KD at each budget; the study takes the first budget after which "
             f"doubling gains less than {percent(b['tolerance'], 1)} in both modes (the "
             f"largest probed if none): **{b['chosen']} epochs**.", ""]
    last = b["last_doubling"]
    if not b["converged"] and last:
        lines += [f"No doubling converged: the last one, to {b['chosen']} epochs, still gained "
                  f"{signed(last['cls'])} with labels only and {signed(last['kd'])} with KD. A "
                  "converged final budget lies beyond the probed ones"
                  f"{_next_doubling(summary)}.", ""]
    seeds = min(acc[m]["n"] for acc in b["accuracy"].values() for m in ("cls", "kd"))
    if 2 <= seeds <= 3:  # a probe of few seeds: say why its intervals look absurd
        freedom = "one degree" if seeds == 2 else f"{seeds - 1} degrees"
        lines += [f"Intervals over the probe's {seeds} seeds are t-intervals with {freedom} of "
                  "freedom: wide, and they may reach past 0 and 1.", ""]
    lines += ["| epochs | CLS | KD |", "| --- | --- | --- |"]
    for e in b["epochs"]:
        acc = b["accuracy"][str(e)]
        lines.append(f"| {e} | {interval(acc['cls'], difference=False)} | "
                     f"{interval(acc['kd'], difference=False)} |")
    return lines + ["", f"![final budget]({FIGURES['budget']})"]


def search_section(summary: dict) -> list[str]:
    lines = ["## Did the searches converge?", "",
             "| search | arm | trainings | best reward | val acc | latency ms | last improved "
             "at | entropy / uniform, first -> last step |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, arms in summary["searches"].items():
        for arm, s in arms.items():
            entropy = (f"{number(s['entropy'][0], 3)} -> {number(s['entropy'][-1], 3)}"
                       if s["entropy"] else "-")
            lines.append(f"| {name} | {arm} | {s['trainings']} | {number(s['best']['reward'])} | "
                         f"{fraction(s['best']['val_acc'])} | "
                         f"{number(s['best']['latency_ms'], 3)} | {s['last_improvement']} | "
                         f"{entropy} |")
    return lines + ["", *search_convergence(summary), "", f"![searches]({FIGURES['searches']})"]


HALF_UNIFORM = 0.5  # a policy at half the uniform entropy has clearly chosen where to search


def search_convergence(summary: dict) -> list[str]:
    """Whether the searches converged, from their best-so-far curves and policy entropies, and
    (when not) the budget at which the entropies' measured rate would reach half the uniform."""
    arms = [s for searches in summary["searches"].values() for s in searches.values()]
    late = sum(s["last_improvement"] > 0.75 * s["trainings"] for s in arms)
    text = (f"The best reward was still improving in the last quarter of the trainings in {late} "
            f"of {len(arms)} arms.")
    entropies = [s["entropy"] for s in arms if s["entropy"] and len(s["entropy"]) > 1]
    if entropies:
        fall = fmean((e[0] - e[-1]) / (len(e) - 1) for e in entropies)
        last = fmean(e[-1] for e in entropies)
        batch = summary["setup"]["batch_size"]
        text += (f" The policy entropy fell by {fall:.4f} of the uniform policy's per controller "
                 f"step of {batch} trainings on average, to {last:.3f}")
        if fall > 0 and last > HALF_UNIFORM:
            steps = math.ceil((last - HALF_UNIFORM) / fall)
            text += (f": the controllers had not converged. At that rate (a straight-line "
                     f"extrapolation) they would reach half the uniform entropy after about "
                     f"{steps:,} more steps, {steps * batch:,} more trainings per arm"
                     f"{_search_time(summary, arms, steps * batch)}.")
        else:
            text += "."
    return [text]


def _search_time(summary: dict, arms: list[dict], per_arm: int) -> str:
    """What ``per_arm`` more trainings of every arm would take at the pace the searches kept."""
    done = sum(s["trainings"] for s in arms)
    seconds = summary.get("parts", {}).get("searches", {}).get("seconds", 0.0)
    if not done or seconds < 1.0:
        return ""
    return (f", for all {len(arms)} arms about "
            f"{_duration(per_arm * len(arms) * seconds / done)} at the searches' pace "
            f"({seconds / done:.1f} s per training)")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} hours"


def agreement_section(summary: dict) -> list[str]:
    a = summary["agreement"]
    random = a["random"]
    lines = ["## Do searches with the same teacher converge to similar students?", "",
             f"Policy distance: the mean over decisions of the total-variation distance between "
             f"two searches' choice frequencies in their last quarter of trials (the same "
             f"estimator for every controller). Best-student agreement: the share of decisions "
             f"on which their best students agree. Random pairs: {random['pairs']:,} simulated "
             f"pairs of random searches of the same length (the last {random['late_trials']} "
             f"of their trials each). Two searches of one seed are never paired: they start "
             f"from the same controller and draw the same random numbers.", "",
             "| pairs | n | policy distance | best-student agreement |",
             "| --- | --- | --- | --- |"]
    for kind, k in a["kinds"].items():
        lines.append(f"| {kind} | {k['policy_tv']['n']} | "
                     f"{interval(k['policy_tv'], 3, difference=False)} | "
                     f"{interval(k['best_agreement'], 3, difference=False)} |")
    tv, agree = random["policy_tv"], random["best_agreement"]
    lines.append(f"| random pairs (central 95%) | {random['pairs']} | {number(tv['mean'], 3)} "
                 f"[{number(tv['central95'][0], 3)}, {number(tv['central95'][1], 3)}] | "
                 f"{number(agree['mean'], 3)} [{number(agree['central95'][0], 3)}, "
                 f"{number(agree['central95'][1], 3)}] |")
    lines += ["", "| search | search | kind | policy distance | best-student agreement |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {p['a']} | {p['b']} | {p['kind']} | {number(p['policy_tv'], 3)} | "
              f"{number(p['best_agreement'], 3)} |" for p in a["pairs"]]
    return lines


def strategies_section(summary: dict) -> list[str]:
    lines = ["## The strategies side by side", "",
             "The akd arm with the first teacher, seed 0, the same budget of trainings and the "
             "same latency target; each best student distilled at the final budget.", "",
             "| strategy | trainings | candidates asked | best reward | latency ms | KD test acc "
             "| minus lstm_ppo (paired) | architecture |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in summary["strategies"].items():
        diff = "-" if name == "lstm_ppo" else interval(s["minus_lstm_ppo"])
        lines.append(f"| {name} | {s['trainings']} | {s['asked']} | "
                     f"{number(s['search_reward'])} | {number(s['latency_ms'], 3)} | "
                     f"{interval(s['kd'], difference=False)} | {diff} | `{s['arch']}` |")
    return lines + ["", f"![strategies]({FIGURES['strategies']})"]
