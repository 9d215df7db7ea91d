"""Command-line options and output steps that several benchmark scripts share."""

import argparse
from pathlib import Path

from akd.io import write_text


def add_space_options(parser: argparse.ArgumentParser) -> None:
    """The sampled space and the input its students are built for."""
    parser.add_argument("--preset", default="small28", help="mnasnet preset (small28, imagenet224)")
    parser.add_argument("--input", type=int, nargs=3, default=(1, 28, 28), metavar=("C", "H", "W"))
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")


def add_output_options(parser: argparse.ArgumentParser, out: str) -> None:
    """--out (default ``out``) and repeatable --set KEY=VALUE config overrides."""
    parser.add_argument("--out", default=out, help="output directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")


def publish(text: str, path: Path) -> None:
    """A benchmark's markdown summary: written to ``path`` (atomically), then printed."""
    write_text(path, text)
    print(text)
