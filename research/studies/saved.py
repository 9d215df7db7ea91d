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
ADDED_LATER = {"latency.blocks": 6, "data.channels": "auto", "teacher.normalization": "data",
               "proxy.patience": 0, "proxy.precision": "fp32",
               "teacher.training.patience": 0, "teacher.training.precision": "fp32"}
# Keys that decide nothing for some settings: data.image_size only resizes image folders (its
# default changed from 32 to null when folders began to keep their own size)
ONLY_FOR_IMAGE_FOLDERS = "image_size"


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
    for key, value in ADDED_LATER.items():
        *sections, name = key.split(".")
        where = saved["settings"]
        for section in sections:
            where = where.get(section) if isinstance(where, dict) else None
        if isinstance(where, dict):
            where.setdefault(name, value)
    changed = _differences(_deciding(saved["settings"]), _deciding(settings))
    if changed:
        key, there, here = changed[0]
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise RunError(f"{path.parent} holds {what} with other settings ({key}: {there!r} there, "
                       f"{here!r} here{more}); rerun with its settings to finish it, or pick "
                       "another --out")
    return saved


def _deciding(settings: dict) -> dict:
    """``settings`` without the keys that decide nothing for them."""
    data = settings.get("data")
    if isinstance(data, dict) and data.get("name") != "imagefolder":
        settings = {**settings, "data": {k: v for k, v in data.items()
                                         if k != ONLY_FOR_IMAGE_FOLDERS}}
    return settings


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
