"""Command-line options and output steps that several benchmark scripts share."""

import argparse
from pathlib import Path

from akd.common import write_text


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


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """--set KEY.PATH=VALUE (repeatable) and --backend: the config overrides of a table build."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one config key (repeatable), e.g. --set proxy.lr=0.05")
    parser.add_argument("--backend", choices=("serial", "process", "ray"),
                        help="where trainings run (default: the config's evaluator.backend)")


def build_overrides(args: argparse.Namespace) -> list[str]:
    """The config overrides that :func:`add_build_options`' options say."""
    return [*args.set, *([f"evaluator.backend={args.backend}"] if args.backend else [])]


def names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (``vgg,resnet``; empty parts dropped)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def publish(text: str, path: Path) -> None:
    """A benchmark's markdown summary: written to ``path`` (atomically), then printed."""
    write_text(path, text)
    print(text)
