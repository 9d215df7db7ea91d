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


@pytest.mark.parametrize("module", ["research.studies.table.build", "research.studies.table.ladder",
                                    "research.studies.arch_knowledge"])
def test_a_commands_flags_are_its_options_fields(module):
    """Every field of an experiment's Options is a --flag with the field's help and default, and
    the flags given back build the same Options: declared once, on the class."""
    import argparse
    import dataclasses
    import importlib

    from research.common import add_options, options_from

    options = importlib.import_module(module).Options
    parser = argparse.ArgumentParser()
    add_options(parser, options)
    assert options_from(parser.parse_args([]), options) == options()
    text = " ".join(parser.format_help().split())
    for item in dataclasses.fields(options):
        assert f"--{item.name.replace('_', '-')}" in text
        assert " ".join(item.metadata["help"].split()) in text
    changed = options_from(parser.parse_args(["--seeds", "3", "--teachers", "resnet, vgg"]),
                           options)
    assert (changed.seeds, changed.teachers) == (3, ("resnet", "vgg"))


def test_the_ladders_rungs_flag_reads_and_writes_its_pairs():
    import argparse

    from research.common import add_options, options_from
    from research.studies.table.ladder import Options

    parser = argparse.ArgumentParser()
    add_options(parser, Options)
    assert "3000x1,6000x2,6000x8,6000x16" in parser.format_help()
    assert options_from(parser.parse_args(["--rungs", "10x1, 20x2"]), Options).rungs == \
        ((10, 1), (20, 2))
    with pytest.raises(ConfigError, match="--rungs '10x': give IMAGESxEPOCHS pairs"):
        options_from(parser.parse_args(["--rungs", "10x"]), Options)


def test_a_copy_of_a_published_build_continues_from_its_records(tmp_path):
    """A shipped build holds what publish wrote and no trainings.jsonl: its records are the
    ones done, and only the rest train."""
    out = tmp_path / "copy"
    out.mkdir()
    (out / "published.json").write_text(json.dumps([{"name": "ab", "status": "ok", "acc": 0.2}]))
    copied = Trainings(entry=score, record=lambda task, outcome: {"name": task.name},
                       key_of=lambda record: record["name"], published=out / "published.json",
                       load_published=lambda path: json.loads(path.read_text()))
    assert run_trainings(config(tmp_path), [Task("ab"), Task("abc")], out, copied, "host") == 1
    assert [r["name"] for r in lines(out / "trainings.jsonl")] == ["ab", "abc"]
