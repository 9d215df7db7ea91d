"""The report (experiments/analyze.py): every table and figure from a quick run, the gain metric
recomputed from a hand-made final.json, partial and damaged run directories, several runs."""

import csv
import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import end_to_end

from akd.errors import RunError
from akd.reporting.analysis import load_run
from akd.reporting.report import CSV_COLUMNS, analyze, gain_in_words

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_data = end_to_end


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(directory):
    """Content hash of every file, to prove the report only reads the run."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@needs_data
def test_report_of_the_quick_run_has_every_table_and_figure(quick_run, tmp_path):
    before = snapshot(quick_run)
    report = analyze([quick_run], tmp_path / "report")
    assert snapshot(quick_run) == before  # read-only
    text = report.read_text()
    for heading in ("## Search", "## Learned policies", "## Final stage", "2x2 table",
                    "AKD gain", "hand design"):
        assert heading in text
    assert "Missing or partial" not in text
    for name in ("curves", "pareto", "policy"):
        png = tmp_path / "report" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and f"]({name}.png)" in text
    for name, columns in CSV_COLUMNS.items():
        with open(tmp_path / "report" / f"{name}.csv", newline="") as handle:
            assert tuple(next(csv.reader(handle))) == columns
    trials = [json.loads(line) for line in (quick_run / "trials.jsonl").read_text().splitlines()]
    assert len(read_csv(tmp_path / "report" / "trials.csv")) == len(trials)
    curves = read_csv(tmp_path / "report" / "curves.csv")
    assert {(r["arm"], r["step"]) for r in curves} == {(t["arm"], str(t["step"])) for t in trials}
    for arm in ("akd", "nas"):  # best so far is the running maximum of the recorded rewards
        rewards = [float(r["reward_best_so_far"]) for r in curves if r["arm"] == arm]
        assert rewards == sorted(rewards)
        assert rewards[-1] == pytest.approx(max(t["reward"] for t in trials if t["arm"] == arm))
    policy = read_csv(tmp_path / "report" / "policy.csv")
    for arm in ("akd", "nas"):  # each decision's probabilities, read from the checkpoint, sum to 1
        rows = [r for r in policy if r["arm"] == arm]
        assert {r["source"] for r in rows} == {"controller"}
        for decision in {r["decision"] for r in rows}:
            assert sum(float(r["probability"]) for r in rows
                       if r["decision"] == decision) == pytest.approx(1, abs=1e-5)
    distance = read_csv(tmp_path / "report" / "policy_distance.csv")
    assert len(distance) == 1 and 0 <= float(distance[0]["mean_tv"]) <= 1
    final = json.loads((quick_run / "final.json").read_text())
    gain = read_csv(tmp_path / "report" / "gain.csv")[0]
    assert float(gain["mean"]) == pytest.approx(final["gain"]["mean"])


def hand_made_final(directory: Path, accs: dict) -> Path:
    """A run directory holding only a final.json, with a wrong stored gain the report must not
    trust."""
    directory.mkdir()
    students = []
    for source in ("akd", "nas"):
        runs = [{"source": source, "rank": 1, "arch": f"arch-{source}", "mode": mode,
                 "seed": seed, "test_acc": acc, "status": "ok", "error": None, "seconds": 1.0}
                for mode in ("cls", "kd") for seed, acc in enumerate(accs[source, mode])]
        students.append({"source": source, "rank": 1, "arch": f"arch-{source}",
                         "latency_ms": 1.0, "params": 1000, "flops": 1000, "runs": runs})
    (directory / "final.json").write_text(json.dumps(
        {"final": {"seeds": 3}, "students": students, "gain": {"mean": 99.0},
         "table_2x2": {}}))
    return directory


def test_gain_from_a_hand_made_final_json_equals_the_hand_computation(tmp_path):
    accs = {("akd", "cls"): (0.80, 0.82, 0.81), ("akd", "kd"): (0.85, 0.86, 0.86),
            ("nas", "cls"): (0.83, 0.83, 0.84), ("nas", "kd"): (0.84, 0.85, 0.86)}
    run = hand_made_final(tmp_path / "run", accs)
    report = analyze([run], tmp_path / "out").read_text()
    # per seed: (0.85-0.80)-(0.84-0.83) = 0.04, (0.86-0.82)-(0.85-0.83) = 0.02,
    # (0.86-0.81)-(0.86-0.84) = 0.03; mean 0.03, sd 0.01, t(0.975, 2) = 4.302653
    half = 4.302653 * 0.01 / math.sqrt(3)
    gain = read_csv(tmp_path / "out" / "gain.csv")[0]
    assert [float(g) for g in gain["per_seed"].split()] == pytest.approx([0.04, 0.02, 0.03])
    assert float(gain["mean"]) == pytest.approx(0.03)
    assert float(gain["std"]) == pytest.approx(0.01)
    assert float(gain["ci95_low"]) == pytest.approx(0.03 - half)
    assert float(gain["ci95_high"]) == pytest.approx(0.03 + half)
    assert "Searching with the teacher helped" in report and "+3.00 percentage points" in report
    table = [line for line in report.splitlines() if line.startswith("| distillation |")]
    assert table == [f"| distillation | {0.81:.4f} | {(0.85 + 0.86 + 0.86) / 3:.4f} |"]
    # the report names what a final.json alone leaves out
    assert "config.yaml is missing" in report and "trials.jsonl is missing" in report


def test_gain_in_words_covers_every_case():
    assert "no evidence" in gain_in_words(
        {"n": 3, "mean": 0.001, "ci95": [-0.01, 0.012], "same_architecture": False}).lower()
    assert "did not help" in gain_in_words(
        {"n": 3, "mean": -0.03, "ci95": [-0.05, -0.01], "same_architecture": False})
    assert "single seed" in gain_in_words(
        {"n": 1, "mean": 0.01, "ci95": None, "same_architecture": False})
    assert "same student" in gain_in_words(
        {"n": 3, "mean": 0.0, "ci95": [0.0, 0.0], "same_architecture": True})
    assert "needs both arms" in gain_in_words(None)


def test_a_folder_with_nothing_of_a_run_is_refused_and_nothing_written(tmp_path):
    """An empty folder, or someone else's (akd analyze /etc wrote /etc/report before): one
    line, no report."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    for folder in ("empty", "foreign"):
        with pytest.raises(RunError, match=f"{folder} is not a run directory .none of "
                                           "config.yaml, trials.jsonl"):
            analyze([tmp_path / folder])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["empty", "foreign", "notes.txt"]


def test_a_run_with_only_its_config_is_reported_with_what_is_missing(tmp_path):
    (tmp_path / "started").mkdir()
    (tmp_path / "started" / "config.yaml").write_text("{}\n")
    text = analyze([tmp_path / "started"], tmp_path / "out").read_text()
    assert "trials.jsonl is missing" in text and "No trials recorded" in text
    assert "No final stage results" in text


@needs_data
def test_a_killed_run_is_reported_with_what_is_missing(quick_run, tmp_path):
    run = tmp_path / "killed"
    shutil.copytree(quick_run, run)
    lines = (run / "trials.jsonl").read_bytes().splitlines(keepends=True)
    torn = b"".join(lines[:3]) + lines[3][:25]  # three trials and a line cut by kill -9
    (run / "trials.jsonl").write_bytes(torn)
    (run / "checkpoints" / "nas.pt").unlink()
    (run / "final.json").unlink()
    finished = (run / "final_runs.jsonl").read_text().splitlines(keepends=True)
    (run / "final_runs.jsonl").write_text("".join(finished[:5]))
    (run / "timing.json").write_text("{not json")
    loaded = load_run(run)
    assert len(loaded.trials) == 3
    assert loaded.policies["nas"].source == "late trials"
    text = analyze([run], tmp_path / "out").read_text()
    assert (run / "trials.jsonl").read_bytes() == torn  # the report never repairs the run
    for note in ("line cut short", "of 4 trials", "nas.pt is missing", "final stage incomplete",
                 "timing.json cannot be read"):
        assert note in text
    assert "## Final stage" in text and (tmp_path / "out" / "pareto.png").exists()


def test_a_damaged_config_is_a_note(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("search: {trialz: 3}\n")
    text = analyze([run], tmp_path / "out").read_text()
    assert "config.yaml cannot be used" in text and "trialz" in text


@needs_data
def test_several_runs_are_compared_by_teacher_and_seed(quick_run, tmp_path):
    other_seed, other_teacher = tmp_path / "seed1", tmp_path / "resnet"
    for copy, key, value in ((other_seed, "search", {"seed": 1}),
                             (other_teacher, "teacher", {"name": "resnet"})):
        shutil.copytree(quick_run, copy)
        config = yaml.safe_load((copy / "config.yaml").read_text())
        config[key].update(value)  # the label only: the report never re-runs anything
        (copy / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "compare"
    text = analyze([quick_run, other_seed, other_teacher], out).read_text()
    assert "## Comparison across runs" in text
    assert "same teacher, other seed" in text and "other teacher" in text
    rows = read_csv(out / "comparison.csv")
    assert len(rows) == 3 * 2  # three pairs of runs, two arms
    same = [r for r in rows if r["run_b"] == "seed1"]
    assert all(float(r["policy_mean_tv"]) == 0 and r["same_teacher"] == "True" for r in same)
    assert (out / "comparison-policy-distance.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / f"{quick_run.name}-curves.png").exists() and (out / "resnet-policy.png").exists()


def test_the_command_fails_in_one_line_on_a_missing_directory(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "analyze.py"),
                             str(tmp_path / "nope")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    expected = f"error: {tmp_path / 'nope'} is not a run directory (no such directory)"
    assert result.stderr.strip() == expected
