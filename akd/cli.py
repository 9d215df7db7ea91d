"""``run_akd.py`` / ``akd-search``: the command line of the search.

    python experiments/run_akd.py                          # the demo preset
    python experiments/run_akd.py --config quick           # a preset by name, or any YAML file
    python experiments/run_akd.py --set search.trials=16 --set evaluator.backend=process
    python experiments/run_akd.py --out runs/demo --resume  # continue a killed run
    python experiments/run_akd.py --out runs/demo --final-only --set final.seeds=5
"""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
import typing
from pathlib import Path

from .cluster import disconnect
from .fields import help_of
from .config import PRESETS, RunConfig, available_presets, config_path, load_config  # noqa: F401
from .logs import run_command

DEFAULT_PRESET = "demo"
HELP_WIDTH = 100


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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


def _parser() -> argparse.ArgumentParser:
    presets = ", ".join(available_presets())
    parser = argparse.ArgumentParser(
        prog="run_akd.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Architecture-aware KD search: an LSTM controller samples students, a "
                    "KD-guided (akd) and a ground-truth (nas) arm score them with MnasNet's "
                    "latency-aware reward.", epilog=_options_help())
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
    return parser


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
