"""What the research's commands share: their parser, options and output steps, so that every
command reads and behaves alike (its --out rule is akd.common.check_out, applied where the work
starts)."""

import argparse
import shlex
import sys
import textwrap
from pathlib import Path

from akd.common import write_text


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that ran research module ``module`` with ``argv`` (the process's own when
    None), as a shell would take it back: what a result records as having made it."""
    return shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


def command_parser(name: str, doc: str, uses: str | None = None) -> argparse.ArgumentParser:
    """A research command's parser, named as it is run (``python -m research.<name>``),
    described by the first line of ``doc`` (its module docstring, shown whole below the
    options), and listing the config keys it ``uses``."""
    epilog = None
    if uses:
        epilog = ("config keys it uses (akd search --help lists them all):\n"
                  + textwrap.fill(uses, 96, initial_indent="  ", subsequent_indent="  "))
    return argparse.ArgumentParser(prog=f"python -m research.{name}",
                                   description=doc.splitlines()[0], epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_config_option(parser: argparse.ArgumentParser, default: Path | None,
                      default_help: str) -> None:
    """--config: the command's run config (a research preset by default)."""
    parser.add_argument("--config", default=str(default) if default else None,
                        help=f"YAML run config (default: {default_help})")


def add_report_options(parser: argparse.ArgumentParser, what: str, default: str,
                       out_help: str) -> None:
    """A report command's input (a build directory, file or shipped name) and --out."""
    parser.add_argument(what, nargs="?", default=default,
                        help=f"build directory, {what} file or shipped name (default {default})")
    parser.add_argument("--out", help=f"report directory (default: {out_help})")


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
