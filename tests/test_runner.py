"""The research's one runner: its bookkeeping of trainings (what is done, what a session did, when
readers' files are refreshed) and its checks of planned searches, without training anything."""

import json
from dataclasses import dataclass

import pytest

from akd.cli import PRESETS
from akd.config import load_config
from akd.errors import ConfigError, RunError
from akd.execution import Outcome
from research.studies.runner import (Planned, Trainings, plan_configs, run_trainings, seeded,
                                     strategy_changes)


@dataclass(frozen=True)
class Task:
    name: str

    @property
    def key(self):
        return self.name


def score(task, config, lock=None):
    """The evaluator's work for the test: a training that fails for names starting with "x"."""
    if task.name.startswith("x"):
        return Outcome("failed", None, None, None, "boom", 0.5)
    return Outcome("ok", len(task.name) / 10, 1, 1, None, 0.5)


def config(tmp_path):
    return load_config(PRESETS / "quick.yaml", [f"cache_dir={tmp_path}", "progress=false"])


def trainings(published):
    return Trainings(entry=score, record=lambda task, outcome: {
                         "name": task.name, "status": outcome.status, "acc": outcome.accuracy},
                     key_of=lambda record: record["name"],
                     publish=lambda: published.append(1))


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trainings_run_what_is_missing_and_each_session_gets_its_line(tmp_path):
    published = []
    tasks = [Task("ab"), Task("xy"), Task("abcd")]
    out = tmp_path / "run"
    out.mkdir()
    (out / "trainings.jsonl").write_text(json.dumps({"name": "ab", "status": "ok",
                                                     "acc": 0.2}) + "\n")
    assert run_trainings(config(tmp_path), tasks, out, trainings(published), "host A") == 2
    records = lines(out / "trainings.jsonl")
    assert [r["name"] for r in records] == ["ab", "xy", "abcd"]  # the done one kept, not rerun
    assert records[1] == {"name": "xy", "status": "failed", "acc": None}
    assert records[2]["acc"] == pytest.approx(0.4)
    # once after each training, and once when the session ends
    assert len(published) == 3
    sessions = lines(out / "sessions.jsonl")
    assert len(sessions) == 1 and sessions[0]["trainings"] == 2 and sessions[0]["complete"]
    assert sessions[0]["host"] == "host A" and sessions[0]["backend"] == "serial"

    # a failed training counts as done: a second session trains nothing and says so
    assert run_trainings(config(tmp_path), tasks, out, trainings(published), "host B") == 0
    sessions = lines(out / "sessions.jsonl")
    assert [s["trainings"] for s in sessions] == [2, 0] and sessions[1]["complete"]
    assert len(lines(out / "trainings.jsonl")) == 3


def test_planned_searches_are_checked_before_any_runs(tmp_path):
    base = config(tmp_path)
    plans = seeded("tpe", strategy_changes("tpe"), 2)
    assert [p.name for p in plans] == ["tpe-seed0", "tpe-seed1"]
    configs = plan_configs(base, plans, tmp_path / "out")
    assert [c.search.seed for c in configs.values()] == [0, 1]
    assert {c.controller.name for c in configs.values()} == {"tpe"}
    with pytest.raises(ConfigError, match="two planned searches share the folder tpe-seed0"):
        plan_configs(base, [*plans, plans[0]])
    with pytest.raises(ConfigError, match="search.trials"):
        plan_configs(base, [Planned("bad", {"search.trials": 0})])
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="holds other files and no searches.json"):
        plan_configs(base, plans, tmp_path / "foreign")
    assert not (tmp_path / "out").exists()  # checking writes nothing
