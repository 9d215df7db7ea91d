"""Sample efficiency of the controllers on a synthetic task with a known optimum.

The task (controllers/synthetic.py) rewards the fraction of decisions equal to a hidden target,
over the decisions of a real search space; the optimum is 1.0. For each controller this prints the
best reward found after each sample budget, as mean +- std over seeds (each seed draws its own
target), and the seconds the controller itself took. With ``--noise`` the rewards told are noisy
and "best" is the noise-free score of the candidate told the best reward, i.e. what a search
would pick.

    python -m research.bench_controllers            # small28 space, 100/200/400 samples, 5 seeds
    python -m research.bench_controllers --noise 0.05 --workers 4
"""

from __future__ import annotations

import time

import numpy as np
import torch

from controllers import available_controllers, get_controller
from controllers.synthetic import TargetMatch, run_search
from search_spaces import get_space

from akd.common import run_command
from akd.errors import ConfigError

from .common import check_at_least, command_parser, flag_value


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("bench_controllers", __doc__)
    parser.add_argument("--space", default="small28",
                        help="'toy', or a mnasnet preset ('small28', 'imagenet224')")
    parser.add_argument("--samples", type=int, nargs="+", default=[100, 200, 400],
                        help="budgets at which to report the best found (one run to the largest)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1, each a new target")
    parser.add_argument("--noise", type=float, default=0.0, help="std of the reward noise")
    parser.add_argument("--workers", type=int, default=1,
                        help="candidates evaluated at once, finishing in random order")
    parser.add_argument("--controllers", nargs="+", default=available_controllers())
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args) -> None:
    unknown = [name for name in args.controllers if name not in available_controllers()]
    if unknown:
        raise ConfigError(f"--controllers: unknown {', '.join(unknown)}; allowed: "
                          f"{', '.join(available_controllers())}")
    check_at_least({"--seeds": (args.seeds, 1), "--workers": (args.workers, 1),
                    "--samples": (min(args.samples), 1)})
    if args.noise < 0:
        raise ConfigError(f"--noise {args.noise}: a standard deviation, >= 0")
    torch.set_num_threads(1)
    space = flag_value("--space", lambda: get_space("toy") if args.space == "toy"
                       else get_space("mnasnet", preset=args.space))
    budgets = sorted(args.samples)
    print(f"{args.space} space: {len(space.choices)} decisions, {space.size:.2e} architectures; "
          f"noise {args.noise}, {args.workers} worker(s), seeds 0..{args.seeds - 1}\n")
    print("| controller | " + " | ".join(f"best @ {n}" for n in budgets) + " | seconds |")
    print("| --- |" + " --- |" * (len(budgets) + 1))
    for name in args.controllers:
        best = np.zeros((args.seeds, len(budgets)))
        start = time.perf_counter()
        for seed in range(args.seeds):
            task = TargetMatch(space.choices, seed=seed, noise=args.noise)
            ctrl = get_controller(name, space.choices, seed=seed)
            trace = run_search(ctrl, task, budgets[-1], workers=args.workers, seed=seed)
            best[seed] = [trace.best_found(n) for n in budgets]
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(best.mean(0), best.std(0))]
        print(f"| {name} | " + " | ".join(cells) + f" | {time.perf_counter() - start:.1f} |",
              flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
