"""The study: its tiny preset runs every part and writes the document, a kill -9 resumes, a rerun
reads everything back; its main numbers recomputed from the kept JSON lines by code written here
(scipy, not the study's own statistics), for the tiny study and for the one kept in docs/study;
the statistics' helpers by hand; its refusals."""

import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, RUN_TIMEOUT
from scipy import stats

from akd.errors import ConfigError
from research import PRESETS
from research.studies.study import (SEED_BLOCK, StudyOptions, keep, kept_command, load_study,
                                    planned_searches)
from research.studies.study_report import FIGURES, markdown, verdict
from research.studies.study_stats import (detectable, summarize, two_level_bootstrap,
                                          variance_components, welch)

TINY = PRESETS / "study" / "tiny.yaml"
KEPT = ROOT / "docs" / "study"


def tiny_command(out, cache, *extra):
    return [sys.executable, "-m", "research.run_study", "--config", str(TINY),
            "--out", str(out), "--set", f"cache_dir={cache}", "--set", "progress=false",
            *extra]


def every_line(out):
    """Every recorded trial and training of a study directory, by file."""
    return {p.relative_to(out): p.read_text() for p in out.rglob("*.jsonl")
            if p.name != "parts.jsonl"}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, module_cache):
    """The tiny study through the command: killed with -9 in the middle of its second search,
    then finished (and kept) by the same command; its output and the trials recorded before the
    kill."""
    root = tmp_path_factory.mktemp("study")
    out, kept = root / "study", root / "kept"
    command = tiny_command(out, module_cache, "--keep", str(kept))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=ROOT)
    marker = out / "searches" / "vgg-seed1" / "trials.jsonl"
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (marker.exists() and marker.read_text().count("\n") >= 2):
            assert process.poll() is None and time.monotonic() < deadline, "ended too early"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait(timeout=60)
    before = marker.read_text().splitlines()
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out, kept, result, before


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_the_tiny_study_runs_every_part_and_writes_the_document(tiny_study):
    out, kept, result, _ = tiny_study
    options = json.loads((out / "options.json").read_text())
    folders = sorted(p.parent.relative_to(out).as_posix() for p in out.glob("*/*/config.yaml"))
    assert folders == ["searches/resnet-seed100", "searches/resnet-seed101",
                       "searches/vgg-seed0", "searches/vgg-seed1",
                       "strategies/random-seed300", "strategies/random-seed301",
                       "strategies/tpe-seed200", "strategies/tpe-seed201"]
    # every search its own seed, and one latency target: measured by the first, given to the rest
    seeds = [int(f.rsplit("seed", 1)[1]) for f in folders]
    assert len(set(seeds)) == len(seeds)
    measured = json.loads((out / "searches/vgg-seed0/reward_target.json").read_text())
    assert "target_ms: auto" in (out / "searches/vgg-seed0/config.yaml").read_text()
    for folder in folders[1:]:
        if folder != "searches/vgg-seed0":
            assert f"target_ms: {measured['target_ms']}" in \
                (out / folder / "config.yaml").read_text()
    twin = read_jsonl(out / "searches/vgg-seed0/trials.jsonl")
    assert {t["arm"] for t in twin} == {"akd", "nas"}
    assert {t["arm"] for t in read_jsonl(out / "searches/resnet-seed100/trials.jsonl")} == {"akd"}
    # the re-timing: every winner, every hand-designed student, the target's sample, one sitting
    retimed = json.loads((out / "retimed.json").read_text())
    winners = {a for arms in retimed["winners"].values() for a in arms.values()}
    assert winners | set(retimed["references"].values()) | set(retimed["target_sample"]) == \
        set(retimed["latency_ms"])
    assert len(retimed["references"]) == len(options["widths"])
    assert not (out / "retiming-cache.jsonl").exists()
    # final trainings: each twin winner and each nearest reference in both modes, the strategies'
    # winners with KD, every seed, each architecture once; validation beside test
    runs = read_jsonl(out / "final_runs.jsonl")
    assert all(r["status"] == "ok" and 0 <= r["val_acc"] <= 1 for r in runs)
    keys = [(r["arch"], r["mode"], r["seed"]) for r in runs]
    assert len(keys) == len(set(keys))
    ms = retimed["latency_ms"]

    def nearest(arch):
        return min(retimed["references"].values(), key=lambda r: abs(ms[r] - ms[arch]))
    twins = {a for f, arms in retimed["winners"].items() if f.startswith("searches/vgg")
             for a in arms.values()}
    others = {arms["akd"] for f, arms in retimed["winners"].items() if f.startswith("strateg")}
    both = twins | {nearest(a) for a in twins | others}
    expected = {(a, m, s) for s in range(2) for a in both for m in ("cls", "kd")} | \
        {(a, "kd", s) for s in range(2) for a in others - both}
    assert set(keys) == expected
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0 and (kept / name).stat().st_size > 0
    assert "## The answer" in (out / "study.md").read_text()
    assert "kept:" in result.stdout


def test_kill_9_of_the_study_then_the_same_command_finishes_it(tiny_study):
    out, _, _, before = tiny_study
    after = (out / "searches" / "vgg-seed1" / "trials.jsonl").read_text().splitlines()
    assert after[:len(before)] == before  # nothing recorded before the kill lost or rewritten
    for run in [p.parent for p in out.glob("*/*/config.yaml")]:
        trials = read_jsonl(run / "trials.jsonl")
        done = [(t["arm"], t["candidate_id"], t["rung"], t["seed"]) for t in trials]
        assert len(done) == len(set(done))  # no training twice
        # the budget, all spent: two brackets per arm of 2 candidates x 100 images, the better
        # continued 1 epoch (100) and trained again with a second seed (2 epochs, 200): 500 each
        for arm in {t["arm"] for t in trials}:
            assert sum(t["samples"] for t in trials if t["arm"] == arm) == 2 * 500


def test_a_rerun_reads_every_part_back_and_trains_nothing(tiny_study, module_cache, capsys):
    out, _, _, _ = tiny_study
    before = every_line(out)
    result = subprocess.run(tiny_command(out, module_cache), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert every_line(out) == before
    from research import run_study
    assert run_study.main(tiny_command(out, module_cache, "--set", "study.final_seeds=3")[3:]) == 2
    assert "holds a study with other settings (study.final_seeds: 2)" in capsys.readouterr().err
    assert every_line(out) == before


def test_the_kept_files_suffice_and_keeping_again_replaces_the_copy(tiny_study, tmp_path):
    out, kept, _, _ = tiny_study
    results = kept / "results"
    assert not list(results.rglob("*.pt"))  # no weights, no checkpoints in the repository
    recomputed = summarize(results)
    # (a rerun appends its own part timings to out's parts.jsonl: those may differ)
    assert {k: v for k, v in recomputed.items() if k != "parts"} == \
        {k: v for k, v in json.loads(json.dumps(summarize(out))).items() if k != "parts"}
    assert markdown(recomputed, kept_command(results)) == (kept / "study.md").read_text()
    dest = tmp_path / "kept"
    shutil.copytree(kept, dest)
    (dest / "results" / "stale.txt").write_text("from an earlier study")
    again = keep(out, dest, "python -m research.run_study --again")
    assert not (again / "stale.txt").exists() and kept_command(again).endswith("--again")
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith("results")) == ["results"]


# ---- the numbers, recomputed here from the JSON lines -----------------------------------------

def winner_of(trials, arm):
    """The arm's winner, as the search defines it, written again: among the candidates of the
    highest rung, the best mean reward over their seeds (ties: the lower candidate id)."""
    ok = [t for t in trials if t["arm"] == arm and t["status"] == "ok"]
    top = max(t["rung"] for t in ok)
    rewards = {}
    for t in ok:
        if t["rung"] == top:
            rewards.setdefault(t["candidate_id"], []).append(t)
    cid = min(rewards, key=lambda c: (-np.mean([t["reward"] for t in rewards[c]]), c))
    return rewards[cid][0]["arch"]


def t_interval(values):
    values = np.asarray(values, dtype=float)
    if np.std(values) == 0:
        return float(values.mean()), [float(values.mean())] * 2
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                 scale=stats.sem(values))
    return float(values.mean()), [float(low), float(high)]


def independent_numbers(results):
    """The AKD gain and the akd-minus-nas KD difference per twin search and over searches, the
    akd winners against their nearest hand-designed student, and each strategy's reward minus
    lstm_ppo's (Welch), from the kept files."""
    options = json.loads((results / "options.json").read_text())
    retimed = json.loads((results / "retimed.json").read_text())
    ms = retimed["latency_ms"]
    acc = {}
    for r in read_jsonl(results / "final_runs.jsonl"):
        if r["status"] == "ok":
            acc.setdefault((r["arch"], r["mode"]), {})[r["seed"]] = r["test_acc"]
    teacher = options["teachers"][0]
    gains, kd_diffs, hand, strategy_kd = [], [], [], {}
    for i in range(options["twins"]):
        trials = read_jsonl(results / "searches" / f"{teacher}-seed{i}" / "trials.jsonl")
        a, n = winner_of(trials, "akd"), winner_of(trials, "nas")
        seeds = range(options["final_seeds"])
        gains.append(np.mean([(acc[a, "kd"][s] - acc[a, "cls"][s])
                              - (acc[n, "kd"][s] - acc[n, "cls"][s]) for s in seeds]))
        kd_diffs.append(np.mean([acc[a, "kd"][s] - acc[n, "kd"][s] for s in seeds]))
        ref = min(retimed["references"].values(), key=lambda r: abs(ms[r] - ms[a]))
        hand.append(np.mean(list(acc[a, "kd"].values())) - np.mean(list(acc[ref, "kd"].values())))
        strategy_kd.setdefault("lstm_ppo", []).append(np.mean(list(acc[a, "kd"].values())))
    for g, strategy in enumerate(options["strategies"], start=len(options["teachers"])):
        for j in range(options["strategy_searches"]):
            seed = SEED_BLOCK * g + j
            trials = read_jsonl(results / "strategies" / f"{strategy}-seed{seed}" / "trials.jsonl")
            w = winner_of(trials, "akd")
            strategy_kd.setdefault(strategy, []).append(np.mean(list(acc[w, "kd"].values())))
    return {"gain": t_interval(gains), "gains": gains, "kd": t_interval(kd_diffs),
            "hand": t_interval(hand), "strategy_kd": strategy_kd}


def check_against(results, summary):
    mine = independent_numbers(results)
    gain = summary["gain"]
    assert gain["gain"]["per_search"] == pytest.approx(mine["gains"], abs=1e-12)
    assert gain["gain"]["mean"] == pytest.approx(mine["gain"][0], abs=1e-12)
    assert gain["gain"]["ci95"] == pytest.approx(mine["gain"][1], abs=1e-9)
    assert gain["kd_difference"]["mean"] == pytest.approx(mine["kd"][0], abs=1e-12)
    assert gain["kd_difference"]["ci95"] == pytest.approx(mine["kd"][1], abs=1e-9)
    hand = summary["hand_design"]["akd"]["accuracy"]
    assert hand["mean"] == pytest.approx(mine["hand"][0], abs=1e-12)
    assert hand["ci95"] == pytest.approx(mine["hand"][1], abs=1e-9)
    base = mine["strategy_kd"]["lstm_ppo"]
    for strategy, values in mine["strategy_kd"].items():
        assert summary["strategies"][strategy]["kd"]["mean"] == pytest.approx(np.mean(values))
        if strategy == "lstm_ppo":
            continue
        welch_ci = stats.ttest_ind(values, base, equal_var=False).confidence_interval(0.95)
        ours = summary["strategies"][strategy]["minus_lstm_ppo"]["kd"]
        if np.std(values) + np.std(base) > 0:
            assert ours["ci95"] == pytest.approx([welch_ci.low, welch_ci.high], abs=1e-9)
    # and the document prints them
    text = markdown(summary, kept_command(results))
    low, high = mine["gain"][1]
    assert (f"the AKD gain ([KD - CLS] of the akd winner minus that of the nas winner) is "
            f"{mine['gain'][0] * 100:+.2f} [{low * 100:+.2f}, {high * 100:+.2f}] points") in text


def test_the_tiny_studys_numbers_recomputed_independently(tiny_study):
    _, kept, _, _ = tiny_study
    check_against(kept / "results", summarize(kept / "results"))


@pytest.mark.skipif(not (KEPT / "results").exists(), reason="no study kept in docs/study yet")
def test_the_kept_studys_numbers_recomputed_independently():
    results = KEPT / "results"
    summary = summarize(results)
    check_against(results, summary)
    assert markdown(summary, kept_command(results)) == (KEPT / "study.md").read_text()


# ---- the statistics' helpers by hand ---------------------------------------------------------

def test_the_smallest_detectable_difference_by_hand():
    # n = 8, sd = 0.01: (t_0.975,7 + t_0.8,7) * 0.01 / sqrt(8) = (2.3646 + 0.8960) * 0.003536
    assert detectable(0.01, 8) == pytest.approx((2.364624 + 0.896029) * 0.01 / math.sqrt(8),
                                                rel=1e-5)
    assert detectable(None, 8) is None and detectable(0.01, 1) is None


def test_welch_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    # va = 1/3, vb = 6.6667/4 = 1.6667; se = sqrt(2); df = 4 / (1/9/2 + 2.7778/3) = 4.0541
    result = welch(a, b)
    se = math.sqrt(1 / 3 + 20 / 3 / 4)
    df = (1 / 3 + 5 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)
    assert result["mean"] == -3.0
    assert result["ci95"] == pytest.approx([-3 - stats.t.ppf(0.975, df) * se,
                                            -3 + stats.t.ppf(0.975, df) * se])
    assert welch([1.0], b)["ci95"] is None


def test_the_two_level_bootstrap_and_variance_components_by_hand():
    assert two_level_bootstrap([[0.5, 0.5], [0.5, 0.5]]) == [0.5, 0.5]
    assert two_level_bootstrap([[0.5]]) is None
    low, high = two_level_bootstrap([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    assert 0.0 <= low < 0.5 < high <= 1.0
    # groups 0/2 and 2/4 (means 1 and 3, within variance 2): between-means variance 2, less
    # within/k = 1: between sd 1; within sd sqrt(2)
    parts = variance_components([[0.0, 2.0], [2.0, 4.0]])
    assert parts["within_sd"] == pytest.approx(math.sqrt(2))
    assert parts["between_sd"] == pytest.approx(1.0)


def test_the_verdict_words_follow_the_interval():
    assert verdict({"ci95": [0.01, 0.02], "detectable": 0.01}) == "above zero"
    assert verdict({"ci95": [-0.02, -0.01], "detectable": 0.01}) == "below zero"
    assert verdict({"ci95": [-0.01, 0.02], "detectable": 0.015}) == (
        "not distinguishable from zero (the design could have detected about 1.50 points)")


def test_every_search_has_a_seed_of_its_own():
    options = StudyOptions()
    seeds = [s.seed for s in planned_searches(options)]
    assert len(seeds) == len(set(seeds)) == 8 + 3 + 3 * 3
    assert [s.folder for s in planned_searches(options)][:2] == ["searches/vgg-seed0",
                                                                 "searches/vgg-seed1"]
    assert statistics.mean(s.kind == "twin" for s in planned_searches(options)) == 8 / 20


# ---- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("study.teachers=[vgg, nope]", "unknown teacher 'nope' in study.teachers"),
    ("study.twins=1", "study.twins must be a whole number from 2"),
    ("study.strategies=[lstm_ppo]", "other than lstm_ppo"),
    ("study.strategies=[autokd-nago]", "study.strategies must name"),
    ("study.widths=[]", "study.widths must be positive"),
    ("study.colour=red", "study: .*colour"),
    ("search.arms=[akd]", "twin searches"),
    ("final.references=true", "set final.references: false"),
])
def test_bad_study_settings_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_study(TINY, [override])


def test_refusals_leave_out_as_it_was(tmp_path, module_cache, capsys):
    from research import run_study

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    base = ["--config", str(TINY), "--set", f"cache_dir={module_cache}", "--set",
            "progress=false"]
    assert run_study.main([*base, "--out", str(foreign)]) == 2
    assert "holds other files and no options.json: it is not a study" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    fresh = tmp_path / "fresh"
    assert run_study.main([*base, "--out", str(fresh), "--set", "study.teachers=[nope]"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "unknown teacher 'nope'" in error
    assert not fresh.exists()
    with pytest.raises(Exception, match="no finished study"):
        keep(fresh, tmp_path / "kept", "command")
