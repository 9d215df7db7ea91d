"""Run config: YAML + --set overrides, typed and checked; the presets; MnasNet's reward."""

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from akd.cli import PRESETS, akd_main, main
from akd.common.fields import help_of
from akd.config import (RewardConfig, RunConfig, SearchConfig, load_config, save_config,
                        search_changes)
from akd.errors import ConfigError
from akd.search.reward import FAILED_REWARD, mnas_reward

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_overrides_are_typed():
    config = load_config(None, ["search.trials=3", "proxy.lr=1", "search.arms=[nas]",
                                "controller.options.lr=0.01", "data.root=/data"])
    assert config.search.trials == 3 and config.search.arms == ["nas"]
    assert config.proxy.lr == 1.0 and isinstance(config.proxy.lr, float)
    assert config.controller.options == {"lr": 0.01} and config.data.root == "/data"


def test_a_section_given_in_part_keeps_its_own_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("teacher:\n  training: {epochs: 1}\nproxy: {epochs: 2}\n")
    config = load_config(path)
    default = RunConfig()
    assert config.teacher.training.epochs == 1
    # the teacher's recipe, not a bare TrainConfig's
    assert config.teacher.training.augment_padding == default.teacher.training.augment_padding == 2
    assert config.proxy.epochs == 2 and config.proxy.alpha == default.proxy.alpha == 0.9


@pytest.mark.parametrize("override, message", [
    ("search.trialz=3", "unknown config key search.trialz; valid keys under search: arms"),
    ("bogus=1", "unknown config key bogus; valid keys: data"),
    ("search.trials=abc", "config key search.trials = 'abc' has the wrong type; expected int"),
    ("data.root=3", "config key data.root = 3 has the wrong type"),
    ("search=3", "config key search must be a mapping"),
    ("reward.constraint=medium", "reward.constraint = 'medium'; allowed: soft, hard"),
    ("search.arms=[akd, akd]", "search.arms"),
    ("proxy.alpha=0", "proxy.alpha = 0.0 leaves the akd arm without KD"),
    ("evaluator.backend=gpu", "evaluator.backend = 'gpu'; allowed: serial, process"),
    ("controller.name=bayes", "controller.name = 'bayes'; allowed: autokd, evolution, gp"),
    ("space.name=darts", "space.name = 'darts'; allowed: mnasnet, nago, toy"),
    ("noequals", "expected key.path=value"),
    ("latency.repeats=3", "latency.repeats must be an integer >= 5, got 3"),
    ("latency.max_spread=0", "latency.max_spread must be > 0"),
    ("latency.blocks=2", "latency.blocks must be an integer >= 3, got 2"),
    ("search.screening.factor=0", "search.screening.factor must be >= 1"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, [override])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_files_get_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(bad)


@pytest.mark.parametrize("preset", ["quick", "demo", "cifar10"])
def test_presets_load_and_round_trip(preset, tmp_path):
    config = load_config(PRESETS / f"{preset}.yaml")
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_search_changes_ignore_where_it_runs():
    base = load_config(None)
    assert search_changes(base, load_config(None, ["evaluator.backend=process",
                                                   "evaluator.workers=2", "progress=false"])) == []
    assert search_changes(base, load_config(None, ["proxy.lr=0.05", "search.trials=9"])) == [
        "proxy.lr", "search.trials"]


def test_reward_is_mnasnet_soft_and_hard():
    soft, hard = RewardConfig(target_ms=2.0), RewardConfig(target_ms=2.0, constraint="hard")
    assert mnas_reward(0.8, 2.0, soft) == pytest.approx(0.8)
    assert mnas_reward(0.8, 4.0, soft) == pytest.approx(0.8 * 2 ** -0.07)
    assert mnas_reward(0.8, 1.0, soft) == pytest.approx(0.8 * 0.5 ** -0.07)  # faster: a bonus
    assert mnas_reward(0.8, 1.0, hard) == pytest.approx(0.8)  # below T: latency ignored
    assert mnas_reward(0.8, 4.0, hard) == pytest.approx(0.4)  # above T: divided by the overshoot
    assert mnas_reward(math.nan, 1.0, soft) == FAILED_REWARD == 0.0


def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path):
    assert main(["--config", str(tmp_path / "none.yaml")]) == 2
    assert main(["--config", "quick", "--set", "search.trialz=1"]) == 2
    assert main(["--config", "quick", "--out", str(tmp_path / "run"), "--resume"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert "holds no run" in errors[2]


def test_help_documents_every_config_key():
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "run_akd.py"), "--help"],
                            capture_output=True, text=True, check=True, timeout=120)
    for key in ("--config", "--set", "--out", "--resume", "search:", "trials = 64",
                "evaluator:", "backend = 'serial'", "reward:", "target_ms"):
        assert key in result.stdout
    text = " ".join(result.stdout.split())
    # every field's whole comment, the lines that continue it too, and the nested sections
    for section in dataclasses.fields(RunConfig):
        default = getattr(RunConfig(), section.name)
        fields = dataclasses.fields(default) if dataclasses.is_dataclass(default) else [section]
        assert all(f"{f.name} = " in text or f"{f.name}:" in text for f in fields), section.name
    for words in ("results then depend on finishing order, so runs are no longer repeatable",
                  "unless controller.options.batch_size says otherwise",
                  "(cache_dir must then be a shared path)", "final.training",
                  "divergence_factor = 10.0"):
        assert words.replace("final.training", "training:") in text, words


def test_the_akd_command_has_a_subcommand_for_each_thing_a_user_does(capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        akd_main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert re.findall(r"^    (\w+) ", text, re.MULTILINE) == ["search", "analyze", "export"]
    with pytest.raises(SystemExit) as done:
        akd_main([])  # no command: argparse's usage error
    assert done.value.code == 2 and "required: COMMAND" in capsys.readouterr().err
    # each subcommand is the command it stands for: the same refusals, one line each
    assert akd_main(["search", "--config", "quick", "--set", "search.trialz=3"]) == 2
    assert "unknown config key search.trialz" in capsys.readouterr().err
    assert akd_main(["analyze", str(tmp_path / "nothing")]) == 2
    assert akd_main(["export", str(tmp_path / "nothing")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)


def test_every_config_field_carries_its_help_in_its_metadata():
    """The help is data, not source text: every key of every section (nested ones too) has it,
    so a field added without one fails here, and --help needs no .py source to read."""
    def leaves(section, prefix=""):
        for item in dataclasses.fields(section):
            value = getattr(section, item.name)
            yield f"{prefix}{item.name}", item
            if dataclasses.is_dataclass(value):
                yield from leaves(value, f"{prefix}{item.name}.")

    missing = [key for key, item in leaves(RunConfig()) if not help_of(item)
               and key not in {"data", "teacher", "space", "controller", "search", "proxy",
                               "reward", "latency", "evaluator", "final"}]
    assert not missing, f"config keys without help: {missing}"
    assert help_of(dataclasses.fields(SearchConfig)[1]) == "finished candidates per arm"
