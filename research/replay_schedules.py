"""Multi-fidelity schedules replayed on the shipped ladder (no training): the student each search
picks, judged by a full distillation.

    python -m research.replay_schedules                    # writes docs/schedules/ (~10 min)
    python -m research.replay_schedules --seeds 5 --out runs/replay   # a quick look

For each budget (training samples), controller (random, tpe, lstm_ppo) and schedule (flat at the
table's budget, flat at the top rung, successive halving and Hyperband with either tell rule)
it replays ``--seeds`` searches (research.studies.schedules) and reports the top rung's KD test
accuracy (mean of seeds) of each search's pick, with its 95% interval over the searches; the
difference from flat at the table's budget with the same controller (Welch interval); and the
share of searches whose pick is within the top rung's seed noise of the pool's best.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from tqdm import tqdm

from controllers import available_controllers

from akd.common import check_out, mean_ci, read_json, run_command, write_json, write_text
from akd.errors import ConfigError
from akd.tables import load_ladder

from .common import command_line, command_parser
from .studies.schedules import Setting, fitted_hyperband, pool_from_ladder, replay

LADDER = "fashion_mnist-small28-ladder"
CONTROLLERS = ("random", "tpe", "lstm_ppo")
TABLE_RUNG, BRACKET = 0, 32
SCHEDULES = ("successive_halving", "hyperband")  # the multi-fidelity ones, each with every tell
TELLS = ("rank", "raw", "per_budget")  # per_budget: BOHB's model, so the tpe controller's only


def settings(controllers: tuple[str, ...], top: int, tells: tuple[str, ...] = ("rank", "raw"),
             flat: bool = True) -> list[Setting]:
    rows = []
    for controller in controllers:
        if flat:
            rows += [Setting(controller, "flat", rung=TABLE_RUNG),
                     Setting(controller, "flat", rung=top)]
        told = [t for t in tells if t != "per_budget" or controller == "tpe"]
        rows += [Setting(controller, "successive_halving", n=BRACKET, tell=t) for t in told]
        rows += [Setting(controller, "hyperband", tell=t) for t in told]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("replay_schedules", __doc__)
    parser.add_argument("--ladder", default=LADDER, help=f"ladder (default {LADDER})")
    parser.add_argument("--mode", default="vgg", help="the ladder's mode: a teacher, or cls")
    parser.add_argument("--seeds", type=int, default=20, help="searches per setting")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the searches' seeds are first-seed .. first-seed + seeds - 1 (a "
                             "confirmation on searches not yet looked at)")
    parser.add_argument("--budgets", default="960000,1920000",
                        help="training samples per search, comma-separated")
    parser.add_argument("--controllers", default=",".join(CONTROLLERS))
    parser.add_argument("--tells", default="rank,raw",
                        help="what the controller is told at a bracket's end, comma-separated: "
                             "rank, raw, per_budget (BOHB's model per rung; tpe only)")
    parser.add_argument("--out", default="docs/schedules", help="report folder")
    parser.add_argument("--no-flat", action="store_true",
                        help="replay the multi-fidelity schedules only (to compare tell rules: "
                             "tpe at flat@0 rebuilds its model for every training, a minute a "
                             "replay at 3.84M samples)")
    parser.add_argument("--report-only", action="store_true",
                        help="only write replay.md again from the kept replay.json")
    args = parser.parse_args(argv)
    return run_command(lambda: run(args, argv))


def run(args, argv: list[str] | None) -> None:
    out = check_out(args.out, ("replay.json", "replay.md"))
    if args.report_only:
        result = read_json(out / "replay.json", ("rows", "pool"))
        compare(result)
        write_json(out / "replay.json", result)
        write_text(out / "replay.md", markdown(result))
        print(markdown(result))
        return
    if args.seeds < 2:  # an interval over searches needs two of them
        raise ConfigError(f"--seeds {args.seeds}: at least 2 searches per setting")
    if args.first_seed < 0:
        raise ConfigError(f"--first-seed {args.first_seed}: a seed, >= 0")
    try:
        budgets = [int(b) for b in args.budgets.split(",")]
    except ValueError:
        raise ConfigError(f"--budgets {args.budgets!r}: expected training samples, e.g. "
                          "480000,960000") from None
    unknown = [c for c in args.controllers.split(",") if c not in available_controllers()]
    if unknown:
        raise ConfigError(f"--controllers: unknown {', '.join(unknown)}; allowed: "
                          f"{', '.join(available_controllers())}")
    tells = tuple(args.tells.split(","))
    unknown = [t for t in tells if t not in TELLS]
    if unknown or "raw" not in tells:
        raise ConfigError(f"--tells {args.tells!r}: every rule is compared with raw, so name raw "
                          f"and any of {', '.join(t for t in TELLS if t != 'raw')}")
    try:
        pool = pool_from_ladder(load_ladder(args.ladder), args.mode)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    grid = settings(tuple(args.controllers.split(",")), len(pool.costs) - 1, tells,
                    flat=not args.no_flat)
    for budget in budgets:  # before any replay: a budget too small for a schedule
        try:
            fitted_hyperband(pool.costs, grid[-1].eta, grid[-1].top_seeds, budget)
        except ValueError as error:
            raise ConfigError(f"--budgets: {error} (at least "
                              f"{len(pool.costs) * grid[-1].top_seeds * pool.costs[-1]:,})") \
                from None
    rows = []
    bar = tqdm(total=len(budgets) * len(grid) * args.seeds, desc="replays", unit="search")
    for budget in budgets:
        for setting in grid:
            searches = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                searches.append(replay(pool, setting, budget, seed))
                bar.update()
            rows.append(summary(setting, budget, searches))
    bar.close()
    result = {"ladder": args.ladder, "mode": args.mode, "seeds": args.seeds,
              "first_seed": args.first_seed,
              "pool": {"students": len(pool.archs), "costs": pool.costs, "best": pool.best,
                       "noise": pool.noise},
              "command": command_line("research.replay_schedules", argv),
              "rows": rows}
    compare(result)
    write_json(out / "replay.json", result)
    write_text(out / "replay.md", markdown(result))
    print(markdown(result))


def summary(setting: Setting, budget: int, searches: list[dict]) -> dict:
    truths = [s["truth"] for s in searches if s["truth"] is not None]
    return {"setting": setting.name(), "controller": setting.controller,
            "schedule": setting.schedule, "rung": setting.rung, "tell": setting.tell,
            "budget": budget, "truths": truths, "picks": [s["pick"] for s in searches],
            "picked": len(truths),
            "truth": mean_ci(truths), "within_noise": float(np.mean(
                [s["within_noise"] for s in searches])),
            "spent": max(s["spent"] for s in searches)}


def compare(result: dict) -> None:
    """Each row's difference from flat at the table's budget and from flat at the top rung, with
    its controller and budget, and each schedule's other tell rules against its raw rule: Welch's
    interval over the two sets of searches (its half-width is the smallest difference the
    replays could show)."""
    top = max(r["rung"] for r in result["rows"])
    def base(schedule: str, rung: int | None = None, tell: str | None = None) -> dict:
        return {(r["controller"], r["budget"]): r for r in result["rows"]
                if r["schedule"] == schedule and (rung is None or r["rung"] == rung)
                and (tell is None or r["tell"] == tell)}
    flat_table, flat_top = base("flat", TABLE_RUNG), base("flat", top)
    raw = {schedule: base(schedule, tell="raw") for schedule in SCHEDULES}
    for row in result["rows"]:
        key = (row["controller"], row["budget"])
        row.pop("rank_vs_raw", None)  # the name before other rules were compared
        for name, flat in (("vs_flat_table", flat_table), ("vs_flat_top", flat_top)):
            if key in flat:
                row[name] = welch(row["truths"], flat[key]["truths"])
        if row["schedule"] in raw and row["tell"] != "raw" and key in raw[row["schedule"]]:
            twin = raw[row["schedule"]][key]
            row["vs_raw"] = welch(row["truths"], twin["truths"])
            if "picks" in row and "picks" in twin:  # search seed i of both rules: paired
                row["vs_raw"]["same_pick"] = sum(a == b for a, b in zip(row["picks"],
                                                                        twin["picks"]))


def welch(a: list[float], b: list[float]) -> dict:
    """Welch's 95% interval of mean(a) - mean(b) (scipy's, Welch-Satterthwaite degrees of
    freedom); a point when neither side varies (flat at the table's budget picks one student in
    every replay)."""
    if len(a) < 2 or len(b) < 2:
        return {"difference": None, "ci95": None}
    difference = float(np.mean(a) - np.mean(b))
    if np.var(a) == 0 and np.var(b) == 0:
        return {"difference": difference, "ci95": [difference, difference]}
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return {"difference": difference, "ci95": [float(interval.low), float(interval.high)]}


def markdown(result: dict) -> str:
    pool = result["pool"]
    lines = ["# Multi-fidelity schedules replayed on the ladder", "",
             f"`{result['command'].strip()}`: {result['seeds']} searches per row over the "
             f"{pool['students']} students of `{result['ladder']}` (mode {result['mode']}); rung "
             f"costs {', '.join(f'{c:,}' for c in pool['costs'])} training samples. The pool's "
             f"best student scores {pool['best']:.4f} (top rung, test, mean of seeds); a pick "
             f"is 'within noise' when it is at most {pool['noise']:.4f} (the standard error of "
             "a top-rung mean of seeds) below it.", ""]
    for budget in sorted({r["budget"] for r in result["rows"]}):
        lines += [f"## Budget {budget:,} training samples ({budget // pool['costs'][0]} "
                  "table trainings)", "",
                  "| setting | picked | top-rung accuracy of the pick [95%] | vs flat@0 [95%] | "
                  "vs flat at the top [95%] | within noise |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for row in (r for r in result["rows"] if r["budget"] == budget):
            truth, none = row["truth"], {"difference": None, "ci95": None}
            low, high = row.get("vs_flat_table", none), row.get("vs_flat_top", none)
            lines.append(f"| {row['setting']} | {row['picked']} | {_ci(truth['mean'], truth['ci95'])}"
                         f" | {_ci(low['difference'], low['ci95'], sign=True)} | "
                         f"{_ci(high['difference'], high['ci95'], sign=True)} | "
                         f"{row['within_noise']:.0%} |")
        lines.append("")
        for schedule in SCHEDULES:
            for tell in TELLS:
                told = [r for r in result["rows"] if r["budget"] == budget and "vs_raw" in r
                        and r["schedule"] == schedule and r["tell"] == tell]
                if told:
                    differences = (f"{r['controller']} {_difference(r['vs_raw'])}" for r in told)
                    lines += [f"{schedule.replace('_', ' ').capitalize()}, {tell} rule minus raw "
                              "rule: " + "; ".join(differences) + ".", ""]
    return "\n".join(lines)


def _difference(welch_result: dict) -> str:
    text = _ci(welch_result["difference"], welch_result["ci95"], sign=True)
    if "same_pick" in welch_result:
        text += f" (same pick with the same search seed: {welch_result['same_pick']})"
    return text


def _ci(value, ci, sign: bool = False) -> str:
    if value is None:
        return "-"
    form = "{:+.4f}" if sign else "{:.4f}"
    return form.format(value) + (f" [{form.format(ci[0])}, {form.format(ci[1])}]" if ci else "")


if __name__ == "__main__":
    raise SystemExit(main())
