"""The study's document: its tables, figures and answer in words, all from the summary that
:func:`research.studies.study_stats.summarize` computes from the kept files. The words follow the
numbers: an interval that excludes zero is a finding in its direction, one that does not is
"not distinguishable", always with the smallest difference the design could have detected."""

from __future__ import annotations

from pathlib import Path

from akd.common import fraction, interval, number, signed, write_text
from akd.reporting import plot_intervals

FIGURES = {"gain": "study-gain.png", "hand": "study-hand-design.png"}
GROUP_NAMES = {"akd": "akd arm (KD from the teacher, lstm_ppo)", "nas": "nas arm (labels only, "
               "lstm_ppo)"}


def write_document(summary: dict, out: Path, command: str) -> Path:
    """study.md and its PNG figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_figures(summary, out)
    path = out / "study.md"
    write_text(path, markdown(summary, command))
    return path


# ---- words -----------------------------------------------------------------------------------

def direction(result: dict) -> int:
    """+1 when the interval of a difference lies above zero, -1 below, 0 when it holds zero or
    there is none: the one rule every verdict of the document follows."""
    ci = result.get("ci95")
    return 0 if not ci else 1 if ci[0] > 0 else -1 if ci[1] < 0 else 0


def verdict(result: dict, unit: str = "points", scale: float = 100, digits: int = 2) -> str:
    """What an interval of a difference says: its direction when it excludes zero, "not
    distinguishable" (with what could have been detected) when it does not."""
    mde = result.get("detectable")
    if not result.get("ci95"):
        return "no interval (too few searches)"
    if direction(result):
        return "above zero" if direction(result) > 0 else "below zero"
    if mde is None:
        return "not distinguishable from zero"
    return (f"not distinguishable from zero (the design could have detected about "
            f"{mde * scale:.{digits}f} {unit})")


def points(result: dict) -> str:
    """A difference of accuracies with its interval, in points."""
    ci = result.get("ci95")
    mean = result.get("mean")
    if mean is None:
        return "-"
    text = f"{mean * 100:+.2f}"
    return f"{text} [{ci[0] * 100:+.2f}, {ci[1] * 100:+.2f}] points" if ci else f"{text} points"


def reward_diff(result: dict) -> str:
    return interval(result, 4) if result.get("mean") is not None else "-"


def headline(summary: dict) -> list[str]:
    """The answer's lines: one per question."""
    gain = summary["gain"]
    n = gain["gain"]["n"]
    lines = [
        f"- **Does searching with the teacher find students that gain more from it?** Over {n} "
        f"independent twin searches, the AKD gain ([KD - CLS] of the akd winner minus that of "
        f"the nas winner) is {points(gain['gain'])}, {verdict(gain['gain'])}; two-level "
        f"bootstrap {_boot(gain['gain'])}. The akd winner's KD accuracy minus the nas "
        f"winner's: {points(gain['kd_difference'])}, {verdict(gain['kd_difference'])}. "
        f"The two arms picked the same student in {gain['same_winner']} of {n} searches."]
    hand = summary["hand_design"].get("akd")
    if hand:
        lines.append(f"- **Do the searched students beat hand design?** {_hand_words(hand)} "
                     f"{_other_groups_words(summary['hand_design'])}")
    lines.append(f"- **Strategies** (reward of the winner's top-budget KD accuracy at its "
                 f"re-timed latency, minus lstm_ppo's): {_strategy_words(summary['strategies'])}")
    lines.append(f"- **Same against different teachers**: {_teacher_words(summary['teachers'])}")
    lines.append(f"- **Convergence**: {_convergence_words(summary['convergence'])}")
    return lines


def _boot(result: dict) -> str:
    ci = result.get("bootstrap95")
    return f"[{ci[0] * 100:+.2f}, {ci[1] * 100:+.2f}] points" if ci else "-"


def hand_verdict(hand: dict) -> str:
    """"beats", "loses to" or "is not distinguishable from" hand design, on KD accuracy."""
    return {1: "beats", -1: "loses to", 0: "is not distinguishable from"}[
        direction(hand["accuracy"])]


def _hand_words(hand: dict) -> str:
    return (f"The akd arm's winners minus the hand-designed student nearest each in re-timed "
            f"latency: KD accuracy {points(hand['accuracy'])}, {verdict(hand['accuracy'])}; "
            f"reward {reward_diff(hand['reward'])}, "
            f"{verdict(hand['reward'], 'reward units', 1, 4)}; the winners run at "
            f"{number(hand['latency_ratio']['mean'], 2)}x the reference's latency on average "
            f"(the {hand['matched_accuracy']['n']} within 10% of it: KD accuracy "
            f"{points(hand['matched_accuracy'])}). So the search {hand_verdict(hand)} hand "
            f"design on KD accuracy at this budget.")


def _other_groups_words(groups: dict) -> str:
    """The other groups of winners against hand design, and how many groups beat it on KD
    accuracy or on the reward (an interval above zero)."""
    others = [f"{GROUP_NAMES.get(name, name)}: {points(h['accuracy'])}, {verdict(h['accuracy'])}"
              for name, h in groups.items() if name != "akd"]
    beat = [name for name, h in groups.items()
            if direction(h["accuracy"]) > 0 or direction(h["reward"]) > 0]
    words = ("The other winners minus their nearest hand-designed student, KD accuracy: "
             + "; ".join(others) + ". ") if others else ""
    if beat:
        return words + (f"Above hand design on KD accuracy or the reward: {', '.join(beat)} "
                        f"(of {len(groups)} groups of winners).")
    return words + (f"None of the {len(groups)} groups of searched winners is above hand "
                    "design, on KD accuracy or on the reward: at this budget the search does "
                    "not beat hand design.")


def _strategy_words(strategies: dict) -> str:
    parts = []
    for name, s in strategies.items():
        if "minus_lstm_ppo" not in s:
            continue
        diff = s["minus_lstm_ppo"]["reward"]
        parts.append(f"{name} {reward_diff(diff)}, {verdict(diff, 'reward units', 1, 4)}")
    return "; ".join(parts) + "." if parts else "none compared."


def _teacher_words(teachers: dict) -> str:
    kinds, random = teachers["kinds"], teachers["random"]
    same, diff = kinds["same teacher"], kinds["different teachers"]
    p = teachers["p_value"]
    test = (f"different minus same {signed(teachers['different_minus_same'])}, exact "
            f"permutation p = {number(p, 3)} over {teachers['permutations']} relabellings"
            if p is not None else "no permutation test (too few searches per teacher)")
    return (f"the policies of two akd arms with the same teacher are {number(same['mean'], 3)} "
            f"apart in total variation ({same['pairs']} pairs), with different teachers "
            f"{number(diff['mean'], 3)} ({diff['pairs']} pairs); two random searches "
            f"{number(random['mean'], 3)} (central 95% of {random['pairs']} simulated pairs: "
            f"{number(random['central95'][0], 3)} to {number(random['central95'][1], 3)}); "
            f"{test}.")


def _convergence_words(c: dict) -> str:
    final = c["final_entropy"]
    words = (f"the {c['arms']} LSTM policies end at {interval(final, 3, difference=False)} of "
             f"the uniform policy's entropy after {c['steps']} controller steps")
    need = c["to_half_uniform"]
    if need:
        words += (f"; continuing their fall per step ({signed(c['fall_per_step']['mean'], 4)}) "
                  f"in a straight line, half of uniform needs about {need['steps']:.0f} more "
                  f"steps, {need['samples'] / 1e6:.1f} M training samples per arm (a linear "
                  f"extrapolation, not a measurement)")
    else:
        words += "; they did not fall measurably, so no budget can be extrapolated"
    return words + "."


# ---- the document ----------------------------------------------------------------------------

def markdown(summary: dict, command: str) -> str:
    setup = summary["setup"]
    n = summary["gain"]["gain"]["n"]
    lines = ["# The study, with the search as the unit", "",
             f"Does searching with the teacher find students that learn more from it, and do "
             f"they beat hand design? {setup['dataset']}, the `{setup['space']}` space, "
             f"{n} twin searches. Produced by", "", "```bash", command, "```", "",
             "Every number below is computed from the result files kept beside this document "
             "(`results/`); `tests/test_study.py` recomputes the main ones with code of its "
             "own.", "", "## The answer", "", *headline(summary), "",
             *setup_section(summary), "", *twins_section(summary), "",
             *hand_section(summary), "", *strategies_section(summary), "",
             *teachers_section(summary), "", *time_section(summary), ""]
    return "\n".join(lines)


def setup_section(summary: dict) -> list[str]:
    s, o = summary["setup"], summary["options"]
    sch = s["schedule"]
    final = s["final"]
    budget = summary["budget_check"]
    lines = ["## Set-up", "",
             f"- **Searches**, each with a seed of its own: {o['twins']} twin searches "
             f"(`akd` arm distilled from `{o['teachers'][0]}`, `nas` arm on labels), "
             f"{o['teacher_searches']} `akd`-arm searches with each of "
             f"{', '.join(f'`{t}`' for t in o['teachers'][1:]) or 'no other teacher'}, "
             f"{o['strategy_searches']} with each of "
             f"{', '.join(f'`{t}`' for t in o['strategies'])}. Each arm spends "
             f"{s['budget_samples']:,} training samples (the demo's compute) under "
             f"{sch['name'].replace('_', ' ')} (rungs {sch['rungs']} epochs of "
             f"{s['proxy_images']:,} images, eta {sch['eta']}, {sch['top_seeds']} seeds at the "
             f"top; a winner is the best by reward of the top rung's seed means). KD alpha "
             f"{s['alpha']}, temperature {s['temperature']}.",
             f"- **Reward**: MnasNet's, with the demo's target rule measured once by the first "
             f"twin ({number(s['search_target_ms'], 3)} ms) and given to every other search. "
             f"The searches spent {_latency_seconds(summary):.0f} s measuring latency; every "
             f"other latency came from the shared latency cache, which may hold measurements "
             f"of earlier sittings on this CPU model: the reason for the re-timing.",
             f"- **Re-timing**: every winner, the {len(o['widths'])} hand-designed students "
             f"(widths {o['widths']}) and the target's sample ({s['retiming']['students']} "
             f"students) measured again one after the other on {s['retiming']['host']} in "
             f"{s['retiming']['seconds']:.0f} s; the comparisons with hand design and the "
             f"rewards below use these latencies and the re-timed target "
             f"({number(s['retimed_target_ms'], 3)} ms).",
             f"- **Final trainings** of {final['train_images']:,} images x {final['epochs']} "
             f"epochs (batch {final['batch_size']}), "
             f"{o['final_seeds']} seeds per student and mode, tested on "
             f"{'the whole test split' if not final['test_images'] else final['test_images']}; "
             f"a student found twice is trained once."]
    if budget:
        cls, kd = budget["cls"], budget["vgg"]
        lines.append(
            f"- **The final budget** was fixed before the study as the ladder's top rung (what "
            f"the searches' schedule aims at), never chosen on the test split. On validation "
            f"(the shipped ladder, {cls['students']} students, mean of 2 seeds) doubling it from "
            f"{budget['half']} to {budget['full']} still gains {points(cls['doubling_gain'])} with labels and "
            f"{points(kd['doubling_gain'])} with KD: the students are not converged at it, and "
            f"the accuracies below are this budget's, not the students' best. Each final "
            f"training records its validation accuracy beside its test accuracy; the test "
            f"split is read once per training, at its end, and nothing is chosen on it.")
    return lines


def _latency_seconds(summary: dict) -> float:
    return sum((s["seconds"] or {}).get("latency", 0.0) for s in summary["searches"].values())


def twins_section(summary: dict) -> list[str]:
    gain = summary["gain"]
    lines = ["## The twin searches", "",
             "Test accuracy at the top budget, mean of the training seeds; latency re-timed.", "",
             "| search | akd winner: ms / CLS / KD | nas winner: ms / CLS / KD | same student | "
             "AKD gain (points) | akd KD minus nas KD (points) |",
             "| --- | --- | --- | --- | --- | --- |"]
    twins = [(name, s) for name, s in summary["searches"].items() if s["kind"] == "twin"]
    for (name, s), g, d in zip(twins, gain["gain"]["per_search"],
                               gain["kd_difference"]["per_search"]):
        a, b = s["arms"]["akd"], s["arms"]["nas"]
        lines.append(f"| {name.split('/')[-1]} | {_student(a)} | {_student(b)} | "
                     f"{'yes' if a['arch'] == b['arch'] else 'no'} | {g * 100:+.2f} | "
                     f"{d * 100:+.2f} |")
    var = gain["variance"]
    lines += ["", f"Over searches: AKD gain {points(gain['gain'])} (bootstrap "
                  f"{_boot(gain['gain'])}), {verdict(gain['gain'])}; akd KD minus nas KD "
                  f"{points(gain['kd_difference'])} (bootstrap {_boot(gain['kd_difference'])}), "
                  f"{verdict(gain['kd_difference'])}."]
    if var:
        lines.append(f"Of the akd-minus-nas KD difference, the standard deviation between "
                     f"searches is {var['between_sd'] * 100:.2f} points and between training "
                     f"seeds within a search {var['within_sd'] * 100:.2f} points.")
    lines += ["", f"![gain]({FIGURES['gain']})"]
    return lines


def _student(a: dict) -> str:
    return (f"{number(a['latency_ms'], 2)} / {fraction(a['cls_mean'])} / "
            f"{fraction(a['kd_mean'])}")


def hand_section(summary: dict) -> list[str]:
    lines = ["## Against hand design", "",
             "The hand-designed MBConv6 students (re-timed, trained only where nearest a "
             "winner):", "",
             "| width | latency (ms) | CLS | KD | reward of KD |", "| --- | --- | --- | --- | --- |"]
    for width, r in summary["references"].items():
        lines.append(f"| {width} | {number(r['latency_ms'], 2)} | {fraction(r['cls_mean'])} | "
                     f"{fraction(r['kd_mean'])} | {fraction(r['reward'])} |")
    lines += ["", "Each winner minus the hand-designed student nearest it in latency, over "
                  "searches (t interval; the smallest difference detectable with 80% power "
                  "beside it):", "",
              "| winners of | searches | KD accuracy (points) | detectable | reward | "
              "latency / reference's | KD accuracy, winners within 10% of its latency |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for group, h in summary["hand_design"].items():
        matched = h["matched_accuracy"]
        lines.append(f"| {GROUP_NAMES.get(group, group)} | {h['accuracy']['n']} | "
                     f"{points(h['accuracy'])} | {_mde(h['accuracy'])} | "
                     f"{reward_diff(h['reward'])} | {number(h['latency_ratio']['mean'], 2)}x | "
                     f"{points(matched)} ({_searches(matched['n'])}) |")
    lines += ["", f"![hand design]({FIGURES['hand']})"]
    return lines


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:]


def _searches(n: int) -> str:
    return f"{n} search" if n == 1 else f"{n} searches"


def _mde(result: dict) -> str:
    return f"{result['detectable'] * 100:.2f}" if result.get("detectable") is not None else "-"


def strategies_section(summary: dict) -> list[str]:
    lines = ["## Strategies", "",
             "Each strategy's winners over its searches (lstm_ppo: the twins' akd arms). "
             "Reward: the winner's top-budget KD test accuracy at its re-timed latency; minus "
             "lstm_ppo: Welch t interval over searches.", "",
             "| strategy | searches | reward | KD accuracy | latency (ms) | reward minus "
             "lstm_ppo | KD minus lstm_ppo (points) |", "| --- | --- | --- | --- | --- | --- | "
             "--- |"]
    for name, s in summary["strategies"].items():
        minus = s.get("minus_lstm_ppo")
        lines.append(
            f"| {name} | {s['searches']} | {interval(s['reward'], 4, difference=False)} | "
            f"{interval(s['kd'], 4, difference=False)} | "
            f"{interval(s['latency_ms'], 2, difference=False)} | "
            f"{reward_diff(minus['reward']) if minus else '-'} | "
            f"{points(minus['kd']) if minus else '-'} |")
    details = [f"{name}: reward {verdict(s['minus_lstm_ppo']['reward'], 'reward units', 1, 4)}"
               for name, s in summary["strategies"].items() if "minus_lstm_ppo" in s]
    if details:
        lines += ["", "Against lstm_ppo: " + "; ".join(details) + "."]
    return lines


def teachers_section(summary: dict) -> list[str]:
    t, c = summary["teachers"], summary["convergence"]
    lines = ["## Same and different teachers, and convergence", "",
             "Policy distance: mean total variation over the decisions between the choice "
             "frequencies of the last quarter of two searches' sampled candidates.", "",
             "| pairs | how many | mean policy distance |", "| --- | --- | --- |"]
    for kind, k in t["kinds"].items():
        lines.append(f"| {kind} | {k['pairs']} | {number(k['mean'], 3)} |")
    r = t["random"]
    lines += [f"| two random searches (simulated) | {r['pairs']} | {number(r['mean'], 3)} "
              f"(central 95%: {number(r['central95'][0], 3)} to {number(r['central95'][1], 3)})"
              f" |", "", _sentence(_teacher_words(t)), "", _sentence(_convergence_words(c))]
    return lines


def time_section(summary: dict) -> list[str]:
    lines = ["## Time", "",
             "Wall time of the sittings that finished each part (a sitting killed part-way "
             "records none; its finished work is kept and not redone).", "",
             "| part | seconds | machine(s) |", "| --- | --- | --- |"]
    for name, p in summary["parts"].items():
        machines = "; ".join(f"{m}: {s:.0f} s" for m, s in p["machines"].items())
        lines.append(f"| {name} | {p['seconds']:.0f} | {machines} |")
    final = summary["parts"].get("final trainings", {})
    if final.get("trainings"):
        lines += ["", f"The {final['trainings']} final trainings took "
                      f"{final['training_seconds']:.0f} s of their own in all, whichever sitting "
                      f"ran them ({final['training_seconds'] / final['trainings']:.0f} s each "
                      "on average, on the evaluator's workers side by side)."]
    return lines


# ---- figures ---------------------------------------------------------------------------------

def plot_figures(summary: dict, out: Path) -> None:
    gain = summary["gain"]
    twins = [name.split("/")[-1] for name, s in summary["searches"].items()
             if s["kind"] == "twin"]
    groups = {name: {"AKD gain": {"mean": g}, "akd KD - nas KD": {"mean": d}}
              for name, g, d in zip(twins, gain["gain"]["per_search"],
                                    gain["kd_difference"]["per_search"])}
    groups["over searches"] = {"AKD gain": gain["gain"], "akd KD - nas KD": gain["kd_difference"]}
    plot_intervals(groups, out / FIGURES["gain"], "test accuracy difference",
                   "each twin search, and over searches (95% t interval)")
    _plot_hand(summary, out / FIGURES["hand"])


def _plot_hand(summary: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, ax = plt.subplots(figsize=(6, 4))
    groups: dict[str, list[tuple[float, float]]] = {}
    for s in summary["searches"].values():
        for arm, a in s["arms"].items():
            if a["kd_mean"] is not None:
                label = arm if s["kind"] == "twin" else s["strategy"]
                groups.setdefault(label, []).append((a["latency_ms"], a["kd_mean"]))
    markers = "osv^D<>p"  # one marker and one colour per group of winners, not per search
    for i, (label, points_) in enumerate(groups.items()):
        ax.scatter(*zip(*points_), s=22, label=label, marker=markers[i % len(markers)],
                   color=f"C{i % 10}")
    refs = [r for r in summary["references"].values() if r["kd_mean"] is not None]
    ax.scatter([r["latency_ms"] for r in refs], [r["kd_mean"] for r in refs], marker="*",
               s=120, color="black", label="hand-designed")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7)
    ax.set_xlabel("latency, re-timed (ms)")
    ax.set_ylabel("KD test accuracy, top budget")
    ax.set_title("searched winners and hand-designed students", fontsize=10)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
