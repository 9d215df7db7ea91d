"""What the research's commands share: their parser, options and output steps, so that every
command reads and behaves alike (its --out rule is akd.common.check_out, applied where the work
starts)."""

import argparse
import dataclasses
import shlex
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from akd.common import help_of, run_command, write_text
from akd.config import load_config
from akd.errors import AkdError, ConfigError


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


# --- a command's options from its Options dataclass ---------------------------------------------

def add_options(parser: argparse.ArgumentParser, options: type) -> None:
    """One ``--flag`` per field of the dataclass ``options`` (``akd.common.option`` fields: the
    help is the field's), typed by its default: an integer, a text (or None), a tuple of names
    given comma-separated, or what the field's ``parse`` metadata reads (``show`` writes its
    default back). The command's options and their help are declared once, on the class."""
    for item in dataclasses.fields(options):
        default = item.default if item.default is not dataclasses.MISSING else \
            item.default_factory()
        parse, show = item.metadata.get("parse"), item.metadata.get("show")
        listed = parse is None and isinstance(default, tuple)  # names, comma-separated
        if listed:
            parse, show = names, ",".join
        shown = show(default) if show else default
        kind = int if isinstance(default, int) and parse is None else str
        metavar = item.metadata.get("metavar") or ("N" if kind is int else
                                                   "A,B" if listed else None)
        text = help_of(item)
        text += f" (default {shown if shown not in ('', None) else 'none'})"
        parser.add_argument(f"--{item.name.replace('_', '-')}", dest=item.name, type=kind,
                            default=shown, metavar=metavar,
                            help=text.replace("%", "%%"))


def options_from(args: argparse.Namespace, options: type):
    """The ``options`` dataclass that :func:`add_options`' flags say (its checks run as it is
    made, so a bad value is a one-line error before any work)."""
    values = {}
    for item in dataclasses.fields(options):
        value = getattr(args, item.name)
        parse = item.metadata.get("parse")
        if parse is None and isinstance(item.default, tuple):
            parse = names
        values[item.name] = parse(value) if parse and value is not None else value
    return options(**values)


def options_command(name: str, doc: str, options: type, run: Callable, *, uses: str, out: str,
                    config: Path | None, config_help: str, backend: bool = True,
                    config_of: Callable[[argparse.Namespace], Path | str] | None = None
                    ) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv)`` of a research command that runs ``run(config, options, out)``: its
    --config (default ``config``, or ``config_of(args)`` when that is None), --set (and
    --backend, where the work runs on the evaluator), one flag per field of ``options`` and
    --out; a user error is one line, and a kill is resumed by the same command."""
    def parser() -> argparse.ArgumentParser:
        made = command_parser(name, doc, uses=uses)
        add_config_option(made, config, config_help)
        if backend:
            add_build_options(made)
        else:
            made.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                              help="override one config key (repeatable), e.g. --set "
                                   "proxy.epochs=3")
        add_options(made, options)
        made.add_argument("--out", default=out, help=f"output directory (default {out})")
        return made

    def main(argv: Sequence[str] | None = None) -> int:
        args = parser().parse_args(argv)

        def work() -> None:
            file = args.config or (config_of(args) if config_of else None)
            overrides = build_overrides(args) if backend else args.set
            run(load_config(file, overrides), options_from(args, options), args.out)
        return run_command(work, interrupted="rerun the same command to continue")
    return main


def check_teachers(flags: dict[str, Sequence[str]]) -> None:
    """Every name of every flag (``{"--teachers": ("vgg",)}``) a zoo teacher: a one-line error
    naming the first that is not, and the flag, before any work."""
    from akd.distill import TEACHERS  # the zoo's names; akd.distill is heavier than a parser

    for flag, given in flags.items():
        unknown = [name for name in given if name not in TEACHERS]
        if unknown:
            raise ConfigError(f"unknown teacher {unknown[0]!r} in {flag}; allowed: "
                              f"{', '.join(TEACHERS)}")


def check_at_least(flags: dict[str, tuple[object, int]]) -> None:
    """Every flag's value (``{"--seeds": (value, 1)}``) an integer at least its bound."""
    for flag, (value, least) in flags.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigError(f"{flag} must be an integer >= {least}, got {value!r}")


def flag_value(flag: str, make: Callable[[], object]):
    """``make()``, whose ValueError or KeyError (an unknown name or a bad value, as the space,
    controller and training classes raise them) is the user's: a one-line error naming
    ``flag``. Wrap only the call that reads the flag, so that a bug elsewhere keeps its
    traceback."""
    try:
        return make()
    except (ValueError, KeyError) as error:
        if isinstance(error, AkdError):  # already one line of its own
            raise
        raise ConfigError(f"{flag}: {error.args[0] if error.args else error}") from None


def checked_space(args: argparse.Namespace):
    """The mnasnet space :func:`add_space_options` names (a bad preset: one line)."""
    from search_spaces import get_space

    check_at_least({"--classes": (args.classes, 2)})
    if min(args.input) < 1:
        raise ConfigError(f"--input {' '.join(map(str, args.input))}: three positive sizes "
                          "C H W")
    return flag_value("--preset", lambda: get_space("mnasnet", preset=args.preset))
