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
import inspect
import sys
import typing
from pathlib import Path

from .config import ConfigError, RunConfig, load_config

PRESETS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
DEFAULT_PRESET = "demo"


def main(argv: typing.Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    preset = _config_path(args.config or DEFAULT_PRESET)
    out = Path(args.out) if args.out else Path("runs") / preset.stem
    # continuing a run: its own saved config, unless another one is named
    saved = out / "config.yaml"
    config_path = saved if (args.resume or args.final_only) and not args.config \
        and saved.exists() else preset
    try:
        config = load_config(config_path, args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from .final import run_final  # after parsing: --help stays instant
    from .search import RunError, run_search

    try:
        if not args.final_only:
            run_search(config, out, resume=args.resume)
        if config.final.enabled or args.final_only:
            run_final(config, out)
    except (RunError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: --out {out} --resume", file=sys.stderr)
        return 130
    finally:
        if "akd.ray_evaluator" in sys.modules:  # the run used Ray: end it with the command
            sys.modules["akd.ray_evaluator"].end_ray()
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
