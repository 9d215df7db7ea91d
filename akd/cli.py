"""The ``akd`` command: one subcommand for each thing a user does.

    akd search                                   # the demo preset (akd/presets/demo.yaml)
    akd search --config quick                    # a preset by name, or any YAML file
    akd search --set search.trials=16 --set evaluator.backend=process
    akd search --out runs/demo --resume          # continue a killed run
    akd search --out runs/demo --final-only --set final.seeds=5
    akd analyze runs/demo                        # report.md, CSV tables, figures
    akd export runs/demo                         # the best student: TorchScript, ONNX, weights

``akd-search`` and ``python experiments/run_akd.py`` are ``akd search``;
``experiments/analyze.py`` and ``experiments/export.py`` are the other two.
"""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path

from .common.cluster import disconnect
from .common.fields import help_of
from .common.logs import run_command
from .config import PRESETS, RunConfig, available_presets, config_path, load_config  # noqa: F401

DEFAULT_PRESET = "demo"
HELP_WIDTH = 100
Argv = typing.Sequence[str] | None


def akd_main(argv: Argv = None) -> int:
    """``akd COMMAND ...``."""
    parser = argparse.ArgumentParser(
        prog="akd", description="Architecture-aware knowledge distillation: search for the "
        "student that learns best from your teacher, report on it, export it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_options, run, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary,
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=_options_help() if name == "search" else None)
        add_options(sub)
        sub.set_defaults(run=run)
    args = parser.parse_args(argv)
    return args.run(args)


def main(argv: Argv = None) -> int:
    """``akd-search`` and ``experiments/run_akd.py``: ``akd search``."""
    return _command("run_akd.py", "search", argv)


def analyze_main(argv: Argv = None) -> int:
    """``experiments/analyze.py``: ``akd analyze``."""
    return _command("analyze.py", "analyze", argv)


def export_main(argv: Argv = None) -> int:
    """``experiments/export.py``: ``akd export``."""
    return _command("export.py", "export", argv)


def _command(prog: str, name: str, argv: Argv) -> int:
    add_options, run, summary = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=prog, description=summary,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=_options_help() if name == "search" else None)
    add_options(parser)
    return run(parser.parse_args(argv))


# --- akd search ---------------------------------------------------------------------------------

def _search_options(parser: argparse.ArgumentParser) -> None:
    presets = ", ".join(available_presets())
    parser.add_argument("--config",
                        help=f"YAML config file, or a preset name ({presets}); default: "
                             f"{DEFAULT_PRESET}, or the run's own config with --resume and "
                             "--final-only")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one config key (repeatable); the value is parsed as "
                             "YAML and type-checked, e.g. --set search.trials=16")
    parser.add_argument("--out", help="run directory (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out where it stopped (even after kill -9)")
    parser.add_argument("--final-only", action="store_true",
                        help="only the final stage, on the finished search in --out (resumes a "
                             "stopped one; --set final.* to change it)")


def _search(args: argparse.Namespace) -> int:
    preset = config_path(args.config or DEFAULT_PRESET)
    out = Path(args.out) if args.out else Path("runs") / preset.stem
    # continuing a run: its own saved config, unless another one is named
    saved = out / "config.yaml"
    source = saved if (args.resume or args.final_only) and not args.config \
        and saved.exists() else preset

    def work() -> None:
        config = load_config(source, args.set)
        from .final.stage import run_final  # after parsing: --help stays instant
        from .search.loop import run_search

        if not args.final_only:
            run_search(config, out, resume=args.resume)
        if config.final.enabled or args.final_only:
            run_final(config, out)
    try:
        return run_command(work, interrupted=f"continue with: --out {out} --resume")
    finally:
        disconnect()  # a run that used Ray ends it with the command


def _options_help() -> str:
    """Every config key with its default and its whole help (the fields' metadata); nested
    sections (``final.training``) are listed key by key too."""
    lines = ["config keys (YAML sections, or --set section.key=value):"]
    _describe_fields(RunConfig(), lines, indent=1)
    return "\n".join(lines)


def _describe_fields(section, lines: list[str], indent: int) -> None:
    pad = "  " * indent
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        comment = f"# {help_of(item)}" if help_of(item) else ""
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{item.name}:  {comment}".rstrip())
            _describe_fields(value, lines, indent + 1)
        else:
            lines += textwrap.wrap(f"{item.name} = {value!r}  {comment}", HELP_WIDTH,
                                   initial_indent=pad, subsequent_indent=pad + "    ")


# --- akd analyze ---------------------------------------------------------------------------------

def _analyze_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories to report on")
    parser.add_argument("--out", help="output directory (default: RUN_DIR/report for one run, "
                                      "a report/ folder beside the first run for several)")


def _analyze(args: argparse.Namespace) -> int:
    def work() -> None:
        from .reporting.report import analyze

        report = analyze(args.runs, args.out)
        print(f"report: {report} (with CSV tables and PNG figures beside it)")
    return run_command(work)


# --- akd export ----------------------------------------------------------------------------------

def _export_options(parser: argparse.ArgumentParser) -> None:
    from .arms import ARMS

    parser.add_argument("run_dir", help="a run directory of akd search")
    parser.add_argument("--out", help="export folder (default: RUN_DIR/export)")
    parser.add_argument("--source", choices=(*ARMS, "reference"),
                        help="whose student: an arm's, or the hand-designed reference (default: "
                             "the searched student with the best mean test accuracy in --mode)")
    parser.add_argument("--rank", type=int,
                        help="the source's student of this reward rank (default 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="which of the final stage's trainings (default 0)")
    parser.add_argument("--mode", choices=("kd", "cls"), default="kd",
                        help="the student trained with KD (default) or with labels only (cls): "
                             "export the one that tested better in final.json's table")


def _export(args: argparse.Namespace) -> int:
    def work() -> None:
        from .export import export_run, summary

        info = export_run(args.run_dir, args.out, args.source, args.rank, args.seed, args.mode)
        print(summary(info))
    return run_command(work)


# name -> (its options, what it runs, one line of help)
COMMANDS: dict[str, tuple[Callable, Callable[[argparse.Namespace], int], str]] = {
    "search": (_search_options, _search,
               "Architecture-aware KD search: an LSTM controller samples students, a KD-guided "
               "(akd) and a ground-truth (nas) arm score them with MnasNet's latency-aware "
               "reward; then the final stage retrains the best."),
    "analyze": (_analyze_options, _analyze,
                "The report of one or several run directories: report.md, CSV tables and PNG "
                "figures (it reads only the files a run wrote)."),
    "export": (_export_options, _export,
               "Export the best student of a run (trained weights, block string, TorchScript, "
               "ONNX), checked against the PyTorch model on test images."),
}
