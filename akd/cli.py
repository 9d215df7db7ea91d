"""``run_akd.py`` / ``akd-search``: the command line of the search.

    python experiments/run_akd.py                          # the demo preset
    python experiments/run_akd.py --config quick           # a preset by name, or any YAML file
    python experiments/run_akd.py --set search.trials=16 --set evaluator.backend=process
    python experiments/run_akd.py --out runs/demo --resume  # continue a killed run
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
import typing
from pathlib import Path

from .config import ConfigError, RunConfig, load_config

PRESETS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
DEFAULT_PRESET = "demo"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config_path = _config_path(args.config)
    try:
        config = load_config(config_path, args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / config_path.stem
    from .search import RunError, run_search  # after parsing: --help stays instant

    try:
        run_search(config, out, resume=args.resume)
    except (RunError, ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: --out {out} --resume", file=sys.stderr)
        return 130
    return 0


def _config_path(name: str) -> Path:
    path = Path(name)
    if not path.suffix and not path.exists():
        path = PRESETS / f"{name}.yaml"  # a preset by name
    return path


def _parser() -> argparse.ArgumentParser:
    presets = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
    parser = argparse.ArgumentParser(
        prog="run_akd.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Architecture-aware KD search: an LSTM controller samples students, a "
                    "KD-guided (akd) and a ground-truth (nas) arm score them with MnasNet's "
                    "latency-aware reward.", epilog=_options_help())
    parser.add_argument("--config", default=DEFAULT_PRESET,
                        help=f"YAML config file, or a preset name ({presets}); default: "
                             f"{DEFAULT_PRESET}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one config key (repeatable); the value is parsed as "
                             "YAML and type-checked, e.g. --set search.trials=16")
    parser.add_argument("--out", help="run directory (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out where it stopped (even after kill -9)")
    return parser


def _options_help() -> str:
    """Every config key with its default and comment, read from the dataclasses' source."""
    lines = ["config keys (YAML sections, or --set section.key=value):"]
    defaults = RunConfig()
    for section in dataclasses.fields(RunConfig):
        default = getattr(defaults, section.name)
        if dataclasses.is_dataclass(default):
            lines.append(f"  {section.name}:")
            comments = _field_comments(type(default))
            for item in dataclasses.fields(default):
                value = getattr(default, item.name)
                lines.append(f"    {item.name} = {value!r}  {comments.get(item.name, '')}")
        else:
            lines.append(f"  {section.name} = {default!r}  "
                         f"{_field_comments(RunConfig).get(section.name, '')}")
    return "\n".join(lines)


def _field_comments(cls: type) -> dict[str, str]:
    comments = {}
    for line in inspect.getsource(cls).splitlines():
        name, sep, rest = line.strip().partition(":")
        if sep and "#" in rest and name.isidentifier():
            comments[name] = "# " + rest.split("#", 1)[1].strip()
    return comments
