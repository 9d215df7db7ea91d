"""What a resumable study keeps beside its results: the settings that decide them, checked on
every rerun so that a finished part is never mixed with one made under other settings."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import RunConfig
from ..errors import RunError


def deciding_settings(config: RunConfig) -> dict:
    """The config's part that decides a study's students and their accuracies (the teacher's
    name is not in it: teachers only add trainings)."""
    values = config.to_dict()
    teacher = {k: v for k, v in values["teacher"].items() if k != "name"}
    return {"data": values["data"], "teacher": teacher, "space": values["space"],
            "proxy": values["proxy"], "latency": values["latency"],
            "seed": values["search"]["seed"]}


def read_saved(path: Path, settings: dict, what: str) -> dict | None:
    """The study file at ``path`` (its ``settings`` equal to ``settings``), or None when there
    is none; :class:`RunError` naming the keys that differ."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    changed = [key for key in settings if saved["settings"].get(key) != settings[key]]
    if changed:
        raise RunError(f"{path.parent} holds {what} with other settings ({', '.join(changed)}); "
                       "rerun with its settings to finish it, or pick another --out")
    return saved
