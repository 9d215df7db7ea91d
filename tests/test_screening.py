"""Screening a search's candidates with the KD-accuracy predictor: the screener learns a planted
rule and the run's own scale, the table it starts from must fit the run, and in the quick preset
the budget counts trainings, screened-out candidates are marked, and resume after kill -9 is
exact."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import RUN_TIMEOUT, made_trial, needs_fashion_mnist
from test_predict import SPACE, TEACHERS, planted_records

from akd.common.stats import spearman
from akd.config import config_path, load_config
from akd.errors import ConfigError
from akd.search import Trial, TrialStatus, best_so_far, mnas_reward, recorded_target
from akd.search.screener import RUN_MODE, Screener
from akd.search.screening import find_table
from akd.tables import SHIPPED
from research import PRESETS
from research.studies.curves import trainings_to_reach
from research.studies.predictor_bench import mean_ceiling
from research.studies.screening_bench import Options, summarize

SCREENING = ("final.enabled=false", "search.screening.factor=3", "search.arms=[akd]")


def as_trials(records, shift=0.0):
    """Table records as the run's trained trials would record them, ``shift`` added."""
    return [Trial("akd", 0, i, i, r["arch"], [], r["val_acc"] + shift, r["latency_ms"], 0.0,
                  r["params"], r["macs"], TrialStatus.OK, None, 0.0)
            for i, r in enumerate(records)]


def costs(records):
    return [{"params": r["params"], "macs": r["macs"], "latency_ms": r["latency_ms"]}
            for r in records]


def test_without_a_table_it_waits_for_the_warmup_then_learns_the_run():
    records = [r for r in planted_records(160) if r["mode"] == "cls"]
    own, unseen = as_trials(records[:120]), records[120:]
    screener = Screener(SPACE, "cls", "trees", warmup=40)
    assert not screener.ready(own[:39]) and screener.ready(own[:40])
    predicted = screener.predict([r["arch"] for r in unseen], costs(unseen), own)
    assert spearman(predicted, [r["val_acc"] for r in unseen]) > 0.8


def test_a_table_prior_is_moved_to_the_runs_scale_by_its_trainings():
    records = planted_records(160)
    table = [r for r in records[:360]]  # 120 students, every mode
    unseen = [r for r in records[360:] if r["mode"] == "vgg"]
    teachers = {**TEACHERS, RUN_MODE: TEACHERS["vgg"]}  # the run's teacher looks like vgg
    screener = Screener(SPACE, RUN_MODE, "trees", table, teachers, warmup=50)
    assert screener.ready([])  # a prior ranks from the first step
    truth = np.array([r["val_acc"] for r in unseen])
    before = screener.predict([r["arch"] for r in unseen], costs(unseen), [])
    assert spearman(before, truth) > 0.8  # vgg's rule, carried by the embedding
    # ten of the run's own trainings, at a budget that reaches 0.1 more than the table's
    own = as_trials([r for r in table if r["mode"] == "vgg"][:10], shift=0.1)
    after = screener.predict([r["arch"] for r in unseen], costs(unseen), own)
    assert abs(np.mean(after - truth) - 0.1) < 0.02
    assert spearman(after, truth) > 0.8


def test_a_screener_knows_only_the_runs_modes():
    with pytest.raises(ValueError, match="screening mode 'vgg'"):
        Screener(SPACE, "vgg")


def test_the_table_must_fit_the_runs_dataset_and_space(tmp_path):
    shipped = SHIPPED / "fashion_mnist-small28"

    def config(*overrides):
        return load_config(config_path("quick"), ["search.screening.factor=2", *overrides])

    path, table_config = find_table(config())
    assert path.parent == shipped and table_config.data.name == "fashion_mnist"
    assert find_table(config("search.screening.table=null")) is None
    assert find_table(config("data.name=synthetic")) is None  # auto: none of that dataset
    with pytest.raises(ConfigError, match="was built on fashion_mnist, not synthetic"):
        find_table(config("data.name=synthetic", f"search.screening.table={shipped}"))
    with pytest.raises(ConfigError, match="was built on the space mnasnet small28"):
        find_table(config("space.preset=null", "space.name=toy",
                          "search.screening.table=fashion_mnist-small28"))
    with pytest.raises(ConfigError, match="no such table"):
        find_table(config(f"search.screening.table={tmp_path / 'none.jsonl.gz'}"))
    # predicting a schedule's top rung: the prior is a ladder's (auto: the shipped one)
    top = ("search.schedule.name=successive_halving", "search.screening.target=top")
    path, _ = find_table(config(*top))
    assert path == SHIPPED / "fashion_mnist-small28-ladder" / "ladder.jsonl.gz"
    with pytest.raises(ConfigError, match="no such ladder .*target: top predicts from a ladder"):
        find_table(config(*top, "search.screening.table=fashion_mnist-small28"))


@pytest.mark.parametrize("overrides, message", [
    (["search.screening.factor=0"], "search.screening.factor must be >= 1"),
    (["search.screening.model=forest"], "allowed: neural, trees"),
    (["search.screening.factor=2", "search.asynchronous=true"], "needs search.asynchronous"),
    (["search.screening.target=last"], "search.screening.target = 'last'; allowed: first, top"),
    (["search.screening.factor=2", "search.screening.target=top"],
     "target: top predicts a schedule's top rung; a flat search has one budget"),
])
def test_bad_screening_settings_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config_path("quick"), overrides)


def read_trials(run):
    return [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def screened_run(cache, tmp_path_factory, quick_command):
    run = tmp_path_factory.mktemp("screened") / "run"
    result = subprocess.run(quick_command(run, cache, *SCREENING), capture_output=True,
                            text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    return run


@needs_fashion_mnist
@pytest.mark.slow
def test_the_budget_counts_trainings_and_the_screened_out_are_marked(screened_run):
    trials = read_trials(screened_run)
    target = recorded_target(load_config(screened_run / "config.yaml"), screened_run)
    for arm in ("akd",):  # one arm keeps the test short; the nas arm screens the same way
        mine = [t for t in trials if t["arm"] == arm]
        trained = [t for t in mine if t["status"] != "predicted"]
        predicted = [t for t in mine if t["status"] == "predicted"]
        assert len(trained) == 4 and len(predicted) == 8  # 2 steps of 3 x 2 asked, 2 trained
        for t in predicted:  # told the reward of their predicted accuracy, never trained
            assert t["val_acc"] is None and t["seconds"] == 0.0
            assert t["reward"] == pytest.approx(mnas_reward(t["predicted_acc"], t["latency_ms"],
                                                            target))
        for step in (0, 1):  # each step trained the candidates of the highest predicted reward
            asked = [t for t in mine if t["step"] == step]
            assert len(asked) == 6
            best = sorted(asked, key=lambda t: (-mnas_reward(t["predicted_acc"], t["latency_ms"],
                                                             target), t["candidate_id"]))[:2]
            assert {t["candidate_id"] for t in best} == {
                t["candidate_id"] for t in asked if t["status"] != "predicted"}
        for t in trained:
            assert t["status"] == "ok" and t["predicted_acc"] is not None
            assert t["reward"] == pytest.approx(mnas_reward(t["val_acc"], t["latency_ms"], target))


@needs_fashion_mnist
@pytest.mark.slow
def test_a_screened_search_resumes_exactly_after_kill_9(
        screened_run, cache, tmp_path, quick_command, kill_9_after_three_trials):
    run = tmp_path / "run"
    command = quick_command(run, cache, *SCREENING)
    before = kill_9_after_three_trials(command, run, lines=5)  # into step 0's trainings
    assert 5 <= len(before) < 12
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = read_trials(run)
    assert after[:len(before)] == before
    keys = [(t["arm"], t["candidate_id"]) for t in after]
    assert len(keys) == len(set(keys)) == 12  # nothing twice, nothing missing

    def story(trials, arm):  # what was asked, what was trained, what was predicted
        return sorted((t["step"], t["arch"], t["status"], round(t["predicted_acc"], 6))
                      for t in trials if t["arm"] == arm)
    reference = read_trials(screened_run)
    assert story(after, "akd") == story(reference, "akd")


def test_the_mean_of_seeds_has_a_higher_ceiling_than_one_seed():
    assert mean_ceiling(0.6, 2) == pytest.approx((1.2 / 1.6) ** 0.5)
    assert mean_ceiling(1.0, 2) == pytest.approx(1.0) and mean_ceiling(0.6, 1) == pytest.approx(
        0.6 ** 0.5)
    assert mean_ceiling(None, 2) is None and mean_ceiling(-0.1, 2) is None


def test_the_benchmark_counts_the_trainings_a_screened_search_needs():
    def trials(rewards):
        return [made_trial(r) for r in rewards]
    assert best_so_far(trials([0.5, None, 0.4, 0.7])) == [0.5, 0.5, 0.5, 0.7]
    assert trainings_to_reach([0.5, 0.6, 0.7], 0.6) == 2
    assert trainings_to_reach([0.5, 0.6], 0.9) is None
    runs = {"random-plain-seed0": trials([0.5, 0.6, 0.7, 0.8]),
            "random-screened-seed0": trials([0.6, 0.8, 0.8, 0.9]),
            "random-plain-seed1": trials([0.5, 0.6, 0.7, 0.9]),
            "random-screened-seed1": trials([0.5, 0.5, 0.6, 0.7])}
    result = summarize(runs, Options(("random",), 2, 4), budget=4)["controllers"]["random"]
    assert [s["screened_reaches_plain_best_after"] for s in result["seeds"]] == [2, None]
    assert result["reached"] == 1 and result["mean_saved"] == 2.0
    assert result["mean_curve"]["plain"] == pytest.approx([0.5, 0.6, 0.7, 0.85])


@pytest.mark.slow
def test_the_screening_benchmark_runs_resumes_and_reads_back(tmp_path, monkeypatch):
    bench = importlib.import_module("research.bench_screening")
    out = tmp_path / "bench"
    monkeypatch.setattr(sys, "argv", [
        "bench_screening.py", "--config", str(PRESETS / "screening" / "tiny.yaml"),
        "--controllers", "random", "--seeds", "1", "--factor", "3", "--out", str(out),
        "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "progress=false"])
    assert bench.main() == 0
    result = json.loads((out / "screening.json").read_text())
    screened = read_trials(out / "random-screened-seed0")
    plain = read_trials(out / "random-plain-seed0")
    assert sum(t["status"] != "predicted" for t in screened) == 4 == len(plain)
    assert any(t["status"] == "predicted" for t in screened)  # after the 2-training warm-up
    assert len(result["curves"]["random-screened-seed0"]) == 4
    assert (out / "screening.png").read_bytes()[:4] == b"\x89PNG"
    assert "saves" in (out / "screening.md").read_text() or "not within" in (
        out / "screening.md").read_text()
    before = {p: p.read_bytes() for p in out.rglob("trials.jsonl")}
    assert bench.main() == 0  # finished runs are read back, nothing trains again
    assert {p: p.read_bytes() for p in out.rglob("trials.jsonl")} == before
