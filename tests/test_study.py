"""The study: its tiny preset runs every part and writes the document, a rerun reads everything
back, a kill -9 resumes, the document's numbers follow from the kept files (also for the study
kept in docs/study), the statistics by hand, and its refusals."""

import json
import math
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, RUN_TIMEOUT

from akd.errors import ConfigError
from research import PRESETS
from research.studies.study import (StudyOptions, final_budget, host, keep, kept_command,
                                    load_study, random_pairs, summarize)
from research.studies.study_report import FIGURES, budget_section, markdown, search_convergence

TINY = PRESETS / "study" / "tiny.yaml"
KEPT = ROOT / "docs" / "study"


def tiny_command(out, cache, *extra):
    return [sys.executable, "-m", "research.run_study", "--config", str(TINY),
            "--out", str(out), "--set", f"cache_dir={cache}", "--set", "progress=false",
            *extra]


def lines_of(path):
    return path.read_text().splitlines() if path.exists() else []


def every_line(out):
    """Every recorded trial and training of a study directory, by file."""
    return {p.relative_to(out): p.read_text() for p in out.rglob("*.jsonl")
            if p.name != "parts.jsonl"}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, module_cache):
    """The tiny study through the command: killed with -9 in the middle of its searches, then
    finished (and kept) by the same command; its output and the trials recorded before the kill."""
    root = tmp_path_factory.mktemp("study")
    out, kept = root / "study", root / "kept"
    command = tiny_command(out, module_cache, "--keep", str(kept))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=ROOT)
    marker = out / "searches" / "vgg-seed1" / "trials.jsonl"  # the second of four searches
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


def test_the_tiny_study_runs_every_part_and_writes_the_document(tiny_study):
    out, kept, result, _ = tiny_study
    summary = json.loads((out / "study.json").read_text())
    assert set(summary["searches"]) == {"vgg-seed0", "vgg-seed1", "resnet-seed0", "resnet-seed1"}
    assert set(summary["searches"]["vgg-seed0"]) == {"akd", "nas"}
    assert set(summary["searches"]["resnet-seed0"]) == {"akd"}  # nas does not see the teacher
    assert set(summary["strategies"]) == {"lstm_ppo", "lstm_ppo+screening", "autokd", "random"}
    screened = summary["strategies"]["lstm_ppo+screening"]
    assert screened["trainings"] == 4 and screened["asked"] > 4  # asked 2x, trained the budget
    assert set(summary["parts"]) == {"searches", "final budget", "final stage", "strategies"}
    # each part's time says what it ran on, and the document names the machine
    where = host(load_study(TINY)[0])
    assert all(set(p["machines"]) == {where} for p in summary["parts"].values())
    assert f"(on {where})" in (kept / "study.md").read_text()
    # the final stage at the chosen budget, with the reference beside the arms' bests
    final = json.loads((out / "searches" / "vgg-seed0" / "final.json").read_text())
    assert final["final"]["training"]["epochs"] == summary["final_budget"]["chosen"]
    assert {s["source"] for s in final["students"]} == {"akd", "nas", "reference"}
    assert summary["main"]["gain"]["n"] == 2  # final_seeds
    probe = lines_of(out / "final-budget.jsonl")
    assert len(probe) == 2 * 2 * 1  # budgets x modes x probe seeds
    assert len(lines_of(out / "strategies-final.jsonl")) == 3 * 2  # strategies but lstm_ppo x seeds
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0 and (kept / name).stat().st_size > 0
    assert "## The answer" in (out / "study.md").read_text()
    assert "kept:" in result.stdout


def test_the_documents_numbers_follow_from_the_kept_files(tiny_study):
    out, kept, _, _ = tiny_study
    results = kept / "results"
    assert not list(results.rglob("*.pt"))  # no weights, no checkpoints in the repository
    recomputed = summarize(results)
    assert recomputed == json.loads(json.dumps(summarize(out)))  # the kept files suffice
    assert markdown(recomputed, kept_command(results)) == (kept / "study.md").read_text()
    assert kept_command(results).startswith("python -m research.run_study --config")


def test_keeping_again_replaces_the_earlier_copy_whole(tiny_study, tmp_path):
    out, kept, _, _ = tiny_study
    dest = tmp_path / "kept"
    shutil.copytree(kept, dest)
    (dest / "results" / "stale.txt").write_text("from an earlier study")
    results = keep(out, dest, "python -m research.run_study --again")
    assert not (results / "stale.txt").exists() and kept_command(results).endswith("--again")
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith("results")) == ["results"]
    assert summarize(results) == summarize(kept / "results")
    (dest / "results").rename(dest / "results.old")  # as a keep killed between its renames
    keep(out, dest, "python -m research.run_study --again")
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith("results")) == ["results"]


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


def test_kill_9_of_the_study_then_the_same_command_finishes_it(tiny_study):
    out, _, _, before = tiny_study
    after = (out / "searches" / "vgg-seed1" / "trials.jsonl").read_text().splitlines()
    assert after[:len(before)] == before  # nothing recorded before the kill lost or rewritten
    for run in [p.parent for p in [*out.glob("searches/*/config.yaml"),
                                   *out.glob("strategies/*/config.yaml")]]:
        trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
        trained = [(t["arm"], t["candidate_id"]) for t in trials if t["status"] != "predicted"]
        arms = {t["arm"] for t in trials}
        assert len(trained) == len(set(trained)) == 4 * len(arms)  # the budget, nothing twice


@pytest.mark.skipif(not (KEPT / "results").exists(), reason="no study kept in docs/study yet")
def test_the_study_kept_in_the_repository_follows_from_its_files():
    results = KEPT / "results"
    assert markdown(summarize(results), kept_command(results)) == \
        (KEPT / "study.md").read_text()


def test_the_final_budget_is_the_first_whose_doubling_gains_less_than_the_tolerance():
    def records(epochs, cls, kd):
        return [{"source": f"epochs{epochs}", "mode": mode, "seed": seed, "status": "ok",
                 "test_acc": acc + 0.001 * seed, "arch": "a"}
                for mode, acc in (("cls", cls), ("kd", kd)) for seed in (0, 1)]

    rows = records(1, 0.80, 0.78) + records(2, 0.85, 0.84) + records(4, 0.853, 0.846) \
        + records(8, 0.86, 0.85)
    # means 0.8005/0.7805, 0.8505/0.8405, 0.8535/0.8465, 0.8605/0.8505: 2 -> 4 gains 0.003
    # (CLS) and 0.006 (KD), 4 -> 8 gains 0.007 and 0.004: at 0.005 no doubling is small in both
    assert final_budget(rows, [1, 2, 4, 8], tolerance=0.005)["chosen"] == 8
    budget = final_budget(rows, [1, 2, 4, 8], tolerance=0.007)
    assert budget["chosen"] == 2 and budget["accuracy"]["4"]["kd"]["mean"] == \
        pytest.approx(0.8465)
    assert final_budget(rows, [1, 2, 4, 8], tolerance=0.001)["chosen"] == 8  # none converged
    # the document says what the next doubling would cost: twice the final stage's time
    summary = {"final_budget": final_budget(rows, [1, 2, 4, 8], tolerance=0.001),
               "parts": {"final stage": {"seconds": 600.0}}}
    text = "\n".join(budget_section(summary))
    assert ("still gained +0.007 with labels only and +0.004 with KD. A converged final budget "
            "lies beyond the probed ones: the final stage took 10 min at this budget, so the next "
            "doubling would take about 20 min for it alone.") in text


def test_the_convergence_verdict_by_hand():
    summary = {"setup": {"batch_size": 8}, "searches": {"vgg-seed0": {
        "akd": {"trainings": 64, "last_improvement": 60, "entropy": [1.0, 0.875, 0.75]},
        "nas": {"trainings": 64, "last_improvement": 20, "entropy": [1.0, 0.875, 0.75]}}}}
    text, = search_convergence(summary)
    assert "in the last quarter of the trainings in 1 of 2 arms" in text
    # 0.125 of uniform a step from 0.75: 2 more steps to 0.5, 16 trainings
    assert "fell by 0.1250" in text and "after about 2 more steps, 16 more trainings" in text
    # and what those would take: 32 more trainings at the searches' 30 s each, 16 min
    summary["parts"] = {"searches": {"seconds": 128 * 30.0}}
    with_time, = search_convergence(summary)
    assert with_time == text[:-1] + (", for all 2 arms about 16 min at the searches' pace "
                                     "(30.0 s per training).")
    del summary["parts"]
    summary["searches"]["vgg-seed0"]["nas"]["entropy"] = [0.5, 0.25, 0.125]  # low on average
    summary["searches"]["vgg-seed0"]["akd"]["entropy"] = [0.5, 0.25, 0.125]
    assert "had not converged" not in search_convergence(summary)[0]
    summary["searches"]["vgg-seed0"]["nas"]["entropy"] = None  # a controller without a policy
    summary["searches"]["vgg-seed0"]["akd"]["entropy"] = None
    assert search_convergence(summary)[0].endswith("in 1 of 2 arms.")


def test_random_pairs_by_hand():
    # one binary decision, one late trial each: two draws differ (TV 1) half the time
    pairs = random_pairs((2,), trials=4, pairs=4000)
    assert pairs["late_trials"] == 1
    assert pairs["policy_tv"]["mean"] == pytest.approx(0.5, abs=0.03)
    assert pairs["best_agreement"]["chance"] == 0.5
    assert pairs["best_agreement"]["mean"] == pytest.approx(0.5, abs=0.03)
    # more late trials: frequencies closer, distance smaller; chance is the mean of 1/choices
    many = random_pairs((3, 4), trials=40)
    assert many["policy_tv"]["mean"] < 0.5 and many["best_agreement"]["chance"] == \
        pytest.approx((1 / 3 + 1 / 4) / 2)
    assert random_pairs((3, 4), trials=40) == many  # seeded


@pytest.mark.parametrize("override, message", [
    ("study.teachers=[vgg, nope]", "unknown teacher 'nope' in study.teachers"),
    ("study.search_seeds=1", "study.search_seeds must be >= 2"),
    ("study.final_epochs=[2, 1]", "study.final_epochs must be increasing"),
    ("study.strategies=[random]", "study.strategies must include lstm_ppo"),
    ("study.strategies=[lstm_ppo, autokd-nago]", "study.strategies must include lstm_ppo"),
    ("study.colour=red", "study: .*colour"),
    ("search.arms=[akd]", "twin searches"),
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
    assert StudyOptions().teachers[0] == "vgg" and math.isclose(StudyOptions().tolerance, 0.005)
