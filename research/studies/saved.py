"""What a resumable study keeps beside its results: the settings that decide them, checked on
every rerun so that a finished part is never mixed with one made under other settings."""

from __future__ import annotations

import json
from pathlib import Path

from akd.config import RunConfig
from akd.errors import RunError


def deciding_settings(config: RunConfig) -> dict:
    """The config's part that decides a study's students and their accuracies (the teacher's
    name is not in it: teachers only add trainings)."""
    values = config.to_dict()
    teacher = {k: v for k, v in values["teacher"].items() if k != "name"}
    return {"data": values["data"], "teacher": teacher, "space": values["space"],
            "proxy": values["proxy"], "latency": values["latency"],
            "seed": values["search"]["seed"]}


# Settings keys added after studies were kept, with the value the code used before each
# existed: a study saved without the key was made with that value, and finishing it still works.
ADDED_LATER = {"latency": {"blocks": 6}, "data": {"channels": "auto"}}


def read_saved(path: Path, settings: dict, what: str) -> dict | None:
    """The study file at ``path`` (its ``settings`` equal to ``settings``), or None when there
    is none; :class:`RunError` naming the first key that differs, with both values."""
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        saved["settings"]
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        raise RunError(f"{path} is damaged (not the JSON {what} wrote); restore it, or delete "
                       "it to start that part again") from None
    for section, keys in ADDED_LATER.items():
        if isinstance(saved["settings"].get(section), dict):
            saved["settings"][section] = {**keys, **saved["settings"][section]}
    changed = _differences(saved["settings"], settings)
    if changed:
        key, there, here = changed[0]
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise RunError(f"{path.parent} holds {what} with other settings ({key}: {there!r} there, "
                       f"{here!r} here{more}); rerun with its settings to finish it, or pick "
                       "another --out")
    return saved


def _differences(saved: dict, settings: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, saved value, current value) of every leaf that differs; a key on one side
    only has the value None on the other."""
    out = []
    for key in [*settings, *(k for k in saved if k not in settings)]:
        value, there = settings.get(key), saved.get(key)
        if isinstance(value, dict) and isinstance(there, dict):
            out += _differences(there, value, f"{prefix}{key}.")
        elif there != value:
            out.append((f"{prefix}{key}", there, value))
    return out
