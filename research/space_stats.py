"""Cost distribution of a search space and how fast its students train on CPU.

Samples architectures uniformly, counts params and MACs with fvcore, prints min / median / max,
then times one epoch of plain training over synthetic images for the min-, median- and max-MAC
samples (speed does not depend on what the pixels are, so no dataset is needed).

    python -m research.space_stats --preset small28 --samples 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from tqdm import tqdm

from search_spaces import build_model, count_cost

from akd.common import run_command
from research.common import add_space_options, check_at_least, checked_space, command_parser


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("space_stats", __doc__)
    add_space_options(parser)
    parser.add_argument("--samples", type=int, default=1000, help="architectures to sample")
    parser.add_argument("--train-images", type=int, default=10_000,
                        help="images in the timed epoch (0 skips timing)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args: argparse.Namespace) -> None:
    check_at_least({"--samples": (args.samples, 1), "--train-images": (args.train_images, 0),
                    "--batch-size": (args.batch_size, 1), "--threads": (args.threads, 1)})
    space = checked_space(args)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    archs = [space.decode(space.sample(rng)) for _ in range(args.samples)]
    costs = [count_cost(a, tuple(args.input), args.classes) for a in tqdm(archs, desc="fvcore")]
    params = np.array([c.params for c in costs])
    macs = np.array([c.macs for c in costs])
    print(f"space mnasnet/{args.preset}: {space.size:.3e} architectures, "
          f"{len(space.choices)} decisions; {args.samples} samples at input {tuple(args.input)}")
    print(f"{'':8}{'min':>12}{'median':>12}{'max':>12}")
    for name, values, scale, unit in (("params", params, 1e3, "k"), ("MACs", macs, 1e6, "M")):
        row = [f"{np.percentile(values, q) / scale:11.1f}{unit}" for q in (0, 50, 100)]
        print(f"{name:8}{''.join(row)}")
    if args.train_images:
        order = np.argsort(macs)
        for label, index in (("min", order[0]), ("median", order[len(order) // 2]),
                             ("max", order[-1])):
            seconds = time_epoch(archs[index], args)
            print(f"{label:>6}-MAC student ({macs[index] / 1e6:.2f} MMACs): one epoch of "
                  f"{args.train_images} images in {seconds:.1f} s on {args.threads} threads  "
                  f"{archs[index]}")


def time_epoch(arch, args: argparse.Namespace) -> float:
    """Seconds for one SGD epoch (forward, backward, step) over synthetic images."""
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randn(args.train_images, *args.input, generator=generator)
    labels = torch.randint(0, args.classes, (args.train_images,), generator=generator)
    model = build_model(arch, num_classes=args.classes, in_channels=args.input[0]).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    for i in range(0, args.train_images, args.batch_size):
        loss = torch.nn.functional.cross_entropy(model(images[i:i + args.batch_size]),
                                                 labels[i:i + args.batch_size])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
