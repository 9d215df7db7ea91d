"""A live search with a multi-fidelity schedule against a flat one at the same compute: each arm's
winner retrained (test accuracy with labels and with KD, over the final stage's seeds), the
search's wall time and samples, and the controllers' entropy at the end.

    python -m research.live_schedules runs/live_schedule/flat runs/live_schedule/sh \\
        --out docs/schedules/live               # live.json and live.md

The runs are two twin searches of ``python experiments/run_akd.py`` (commands in
docs/schedules.md); both final stages must train the same budget. Differences between the two
runs' students are Welch intervals over their retraining seeds: with one search per schedule,
they say how sure these two students differ, not how the schedules do.
"""

from __future__ import annotations

from pathlib import Path

from akd.common import check_out, mean_ci, run_command, write_json, write_text
from akd.errors import RunError
from akd.reporting import load_run

from .common import command_line, command_parser
from .replay_schedules import welch


def summarize(path: Path) -> dict:
    """One run: its schedule, per arm the trainings, samples and entropy, and its final
    students' accuracies."""
    run = load_run(path)
    if run.config is None or run.final is None or "students" not in run.final:
        raise RunError(f"{path} holds no finished search and final stage")
    config = run.config
    images = config.data.proxy_size if isinstance(config.data.proxy_size, int) else None
    arms = {}
    for arm in run.arms:
        trials = [t for t in run.arm_trials(arm) if t.trained]
        samples = (sum(t.samples or 0 for t in trials) if config.search.schedule.multi_fidelity
                   else len(trials) * images * config.proxy.epochs if images else None)
        policy = run.policies.get(arm)
        arms[arm] = {"trainings": len(trials), "samples": samples,
                     "entropy": policy.entropy if policy else None,
                     "max_entropy": policy.max_entropy if policy else None}
    students = []
    for student in run.final["students"]:
        accuracy = {mode: [r["test_acc"] for r in student["runs"]
                           if r["mode"] == mode and r["status"] == "ok"] for mode in ("cls", "kd")}
        students.append({"source": student["source"], "arch": student["arch"],
                         "latency_ms": student["latency_ms"], "params": student["params"],
                         "search_val_acc": student["search_val_acc"],
                         "cls": accuracy["cls"], "kd": accuracy["kd"],
                         "cls_stats": mean_ci(accuracy["cls"]), "kd_stats": mean_ci(accuracy["kd"])})
    schedule = config.search.schedule
    return {"path": str(path), "schedule": schedule.name,
            "rungs": schedule.rungs if schedule.multi_fidelity else None,
            "eta": schedule.eta if schedule.multi_fidelity else None,
            "final_training": {"epochs": config.final.training.epochs,
                               "train_images": config.final.train_images},
            "timing": {k: (run.timing or {}).get(k) for k in
                       ("total_seconds", "loop_seconds", "latency_seconds", "candidate_seconds")},
            "arms": arms, "students": students, "gain": run.final.get("gain")}


def compare(flat: dict, other: dict) -> dict:
    """The other schedule's students minus flat's, per arm and mode (Welch over seeds)."""
    out = {}
    for source in ("akd", "nas"):
        a = next((s for s in other["students"] if s["source"] == source), None)
        b = next((s for s in flat["students"] if s["source"] == source), None)
        if a and b:
            out[source] = {mode: welch(a[mode], b[mode]) for mode in ("cls", "kd")}
            out[source]["same_student"] = a["arch"] == b["arch"]
    return out


def markdown(result: dict) -> str:
    runs = result["runs"]
    lines = ["# A live search with successive halving against a flat one",
             "", f"`{result['command']}`", "",
             "| schedule | arm | trainings | samples | search s | entropy / max | winner "
             "latency ms | labels test acc [95%] | KD test acc [95%] |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for student in run["students"]:
            arm = run["arms"].get(student["source"], {})
            entropy = (f"{arm['entropy']:.1f} / {arm['max_entropy']:.1f}"
                       if arm.get("entropy") is not None else "-")
            cells = [run["schedule"] + (f" {run['rungs']} eta {run['eta']}" if run["rungs"]
                                        else ""),
                     student["source"], str(arm.get("trainings", "-")),
                     f"{arm['samples']:,}" if arm.get("samples") else "-",
                     f"{run['timing']['loop_seconds']:.0f}", entropy,
                     f"{student['latency_ms']:.3f}"]
            for mode in ("cls", "kd"):
                stats = student[f"{mode}_stats"]
                cells.append(f"{stats['mean']:.4f} [{stats['ci95'][0]:.4f}, "
                             f"{stats['ci95'][1]:.4f}]" if stats["ci95"] else "-")
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Differences (the multi-fidelity run's winner minus flat's, Welch over the "
              "retraining seeds; one search per schedule, so they compare two students, not "
              "two schedules):", ""]
    for source, modes in result["difference"].items():
        parts = [f"{mode} {d['difference']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]"
                 for mode, d in modes.items() if mode != "same_student" and d["ci95"]]
        same = " (the same student)" if modes["same_student"] else ""
        lines.append(f"- {source}{same}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("live_schedules", __doc__)
    parser.add_argument("flat", type=Path, help="the flat search's run directory")
    parser.add_argument("other", type=Path, help="the multi-fidelity search's run directory")
    parser.add_argument("--out", type=Path, default=Path("docs/schedules/live"),
                        help="where live.json and live.md go")
    args = parser.parse_args(argv)

    def run() -> None:
        out = check_out(args.out, ("live.json", "live.md"))
        flat, other = summarize(args.flat), summarize(args.other)
        if flat["final_training"] != other["final_training"]:
            raise RunError("the two final stages trained different budgets "
                           f"({flat['final_training']} and {other['final_training']})")
        result = {"command": command_line("research.live_schedules", argv),
                  "runs": [flat, other], "difference": compare(flat, other)}
        write_json(out / "live.json", result)
        write_text(out / "live.md", markdown(result))
        print(markdown(result))
    return run_command(run)


if __name__ == "__main__":
    raise SystemExit(main())
