"""Command-line options that several benchmark scripts share."""

import argparse


def add_space_options(parser: argparse.ArgumentParser) -> None:
    """The sampled space and the input its students are built for."""
    parser.add_argument("--preset", default="small28", help="mnasnet preset (small28, imagenet224)")
    parser.add_argument("--input", type=int, nargs=3, default=(1, 28, 28), metavar=("C", "H", "W"))
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
