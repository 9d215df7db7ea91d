"""KD hyper-parameters searched with the architecture (search.kd), and autokd (an Optuna
controller over families) in a real search: the trials record what was chosen, the final stage
trains with it, and a resume after kill -9 asks exactly what the uninterrupted search asked."""

import json
import subprocess

import pytest
from conftest import RUN_TIMEOUT, needs_fashion_mnist

from akd.components import arm_choices, build_space
from akd.config import KDRange, load_config
from akd.errors import ConfigError
from akd.search import RunDir, mnas_reward, recorded_target

SEARCHED = ["search.kd.temperature={low: 1, high: 20, log: true, levels: 8}",
            "search.kd.alpha={low: 0.1, high: 1.0, levels: 10}"]


def test_a_range_is_an_even_grid_from_low_to_high():
    assert KDRange(0.1, 1.0, levels=10).values() == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    log = KDRange(1, 20, log=True, levels=8).values()
    assert log[0] == 1 and log[-1] == 20
    ratios = [b / a for a, b in zip(log, log[1:])]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-5)  # even in log space


def test_the_akd_arm_gets_one_decision_per_searched_hyper_parameter():
    config = load_config(None, SEARCHED)
    space = build_space(config)
    assert arm_choices(config, space, "akd") == list(space.choices) + [8, 10]
    assert arm_choices(config, space, "nas") == list(space.choices)  # labels only: no KD
    assert config.search.kd.decode([0, 9]) == {"temperature": 1.0, "alpha": 1.0}
    only_t = load_config(None, SEARCHED[:1])
    assert only_t.search.kd.decode([7]) == {"temperature": 20.0}


@pytest.mark.parametrize("overrides, message", [
    (["search.kd.alpha={low: 0, high: 1}"], "search.kd.alpha = [0.0, 1.0] is invalid"),
    (["search.kd.alpha={low: 0.5, high: 1.5}"], "high <= 1"),
    (["search.kd.temperature={low: 5, high: 2}"], "low < high"),
    (["search.kd.temperature={low: 1, high: 20, levels: 1}"], "levels must be >= 2"),
    (["search.arms=[nas]", SEARCHED[0]], "no arm of search.arms distils"),
    (["search.screening.factor=2", SEARCHED[0]], "use search.kd or search.screening"),
])
def test_bad_kd_ranges_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


@needs_fashion_mnist
@pytest.mark.slow
def test_autokd_searching_kd_hyper_parameters_records_uses_and_resumes_them(
        cache, tmp_path, quick_command, kill_9_after_three_trials):
    # the quick preset's akd arm with autokd (an Optuna controller) over MnasNet families and
    # the KD temperature and alpha: 4 trainings, one family of 2 members a step
    settings = ["search.arms=[akd]", "controller.name=autokd",
                "controller.options={startup: 1, members: 2}", "final.seeds=1",
                "final.references=false", *SEARCHED]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run(quick_command(whole, cache, *settings), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr
    trials = read_trials(whole)
    config = load_config(whole / "config.yaml")
    grid = {name: r.values() for name, r in config.search.kd.searched.items()}
    assert len(trials) == 4
    for trial in trials:  # each trial names its hyper-parameters, from the grid
        assert set(trial["kd"]) == {"temperature", "alpha"}
        assert all(trial["kd"][name] in values for name, values in grid.items())
        assert trial["reward"] == mnas_reward(trial["val_acc"], trial["latency_ms"],
                                              recorded_target(config, whole))
    by_family = {}
    for trial in trials:
        by_family.setdefault(trial["family"]["index"], []).append(trial)
    assert sorted(by_family) == [0, 1] and all(len(m) == 2 for m in by_family.values())
    for members in by_family.values():  # members share the family and its KD settings
        assert members[0]["family"]["parameters"] == members[1]["family"]["parameters"]
        assert members[0]["kd"] == members[1]["kd"]
    assert "best family #" in done.stdout and "its best member" in done.stdout
    # the final stage's KD run of the best student used its searched values
    best = max(trials, key=lambda t: (t["reward"], -t["candidate_id"]))
    final = [json.loads(line) for line in (whole / "final_runs.jsonl").read_text().splitlines()]
    kd_runs = [r for r in final if r["source"] == "akd" and r["mode"] == "kd"]
    assert kd_runs and all(r["kd"] == best["kd"] for r in kd_runs)
    assert "(KD T = " in done.stdout

    # killed after the first family and resumed: the rebuilt study asks what the first one did
    no_final = [*settings, "final.enabled=false"]
    before = kill_9_after_three_trials(quick_command(killed, cache, *no_final), killed, lines=2)
    resumed = subprocess.run(quick_command(killed, cache, *no_final) + ["--resume"],
                             capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    after = read_trials(killed)
    assert after[:len(before)] == before

    def asked(rows):
        return sorted((t["candidate_id"], t["arch"], json.dumps(t["kd"]), t["val_acc"])
                      for t in rows)
    assert asked(after) == asked(trials)


def read_trials(run):
    """The trials as JSON records, through the typed trial (what a resumed search reads)."""
    return [t.to_json() for t in RunDir(run).read_trials()]
