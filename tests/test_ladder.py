"""The ladder table: its statistics against hand computations on a hand-made ladder, the builder
on synthetic data (resume after kill -9, a shipped copy continues, settings that differ are
refused), the loader and its one-line errors, and the bottom rung repeating the table's code."""

import gzip
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import RUN_TIMEOUT
from scipy import stats as scipy_stats

from search_spaces import get_space

from akd.config import load_config
from akd.errors import DataError
from akd.tables import FIELDS, LADDER_FIELDS, Table, load_ladder, save_table
from research import PRESETS
from research.studies.table import build as table_build, ladder as ladder_build
from research.studies.table.ladder_analysis import (best_students, ceiling, difference,
                                                    extrapolate, kd_gain_by_rung, loss_sum,
                                                    repeat_of_table, rungs_against_top,
                                                    score_estimators, target_columns,
                                                    top_rung_predictor)
from research.studies.table.ladder_report import frontier

ROOT = Path(__file__).resolve().parents[1]
SPACE = get_space("mnasnet", preset="small28")
TINY = str(PRESETS / "table" / "tiny.yaml")


build_cli = importlib.import_module("research.build_ladder")
report_cli = importlib.import_module("research.ladder_report")

pytestmark = pytest.mark.usefixtures("private_core_lock")


@pytest.fixture(scope="module")
def cache(module_cache):
    return module_cache


# --- a hand-made ladder ---------------------------------------------------------------------------

ARCHS = [str(SPACE.decode(SPACE.sample(np.random.default_rng(i)))) for i in range(8)]
# rung -> mode -> seed -> accuracy of each of the 8 students
ACC = {
    0: {"cls": {0: [.30, .42, .35, .50, .20, .41, .33, .28],
                1: [.36, .40, .31, .45, .25, .38, .30, .35]},
        "vgg": {0: [.28, .39, .37, .44, .15, .40, .35, .30],
                1: [.25, .45, .30, .47, .22, .33, .29, .26]}},
    1: {"cls": {0: [.70, .78, .74, .80, .60, .79, .72, .69],
                1: [.72, .77, .71, .82, .62, .75, .73, .70]},
        "vgg": {0: [.73, .80, .77, .83, .61, .81, .72, .74],
                1: [.74, .78, .79, .84, .65, .80, .76, .71]}},
}
RUNGS = {0: (100, 1), 1: (100, 4)}


def curve_of(rung, mode, seed, student):
    """A curve whose numbers follow from the student: 4 steps an epoch (100 images, batch 32)."""
    epochs = RUNGS[rung][1]
    base = 1.0 + student / 10 + seed / 100 + (mode == "vgg")
    loss = [[base / (e + 1), base / (e + 1.5)] for e in range(epochs)]  # runs of 3 and 1 steps
    acc = [ACC[rung][mode][seed][student] * (e + 1) / epochs for e in range(epochs)]
    return {"loss_every": 3, "train_loss": loss, "train_ce": [[v / 2 for v in e] for e in loss],
            "val_acc": acc}


def ladder_record(rung, mode, seed, student, acc):
    images, epochs = RUNGS[rung]
    return {"arch": ARCHS[student], "decisions": SPACE.encode(SPACE.decode(
                SPACE.sample(np.random.default_rng(student)))),
            "mode": mode, "seed": seed, "status": "ok", "val_acc": acc, "test_acc": acc - 0.01,
            "latency_ms": 1.0 + student, "params": 1000 + 7 * student, "macs": 9000 - student,
            "seconds": 1.0 + rung, "budget": {"train_images": images, "epochs": epochs,
                                              "batch_size": 32},
            "teacher_test_acc": None if mode == "cls" else 0.9, "host": "cpu: test",
            "error": None, "rung": rung, "curve": curve_of(rung, mode, seed, student)}


def hand_records():
    return [ladder_record(rung, mode, seed, i, acc) for rung, modes in ACC.items()
            for mode, seeds in modes.items() for seed, accs in seeds.items()
            for i, acc in enumerate(accs)]


@pytest.fixture
def hand_ladder(tmp_path):
    path = tmp_path / "ladder.jsonl.gz"
    save_table(hand_records(), path, fields=LADDER_FIELDS)
    return load_ladder(path)


def _rho(x, y):
    return scipy_stats.spearmanr(x, y).statistic


def _column(rung, mode, seed):
    return np.array(ACC[rung][mode][seed])


def test_loader_reads_rungs_and_tables(hand_ladder, tmp_path):
    assert len(hand_ladder) == 64 and [r.name for r in hand_ladder.rungs] == ["100x1", "100x4"]
    assert hand_ladder.rung(-1).samples == 400 and hand_ladder.rung(0).index == 0
    top = hand_ladder.at(-1)
    assert isinstance(top, Table) and len(top) == 32 and top.modes == ["cls", "vgg"]
    assert top.filter(mode="vgg").accuracy()[ARCHS[3]] == pytest.approx((.83 + .84) / 2)
    assert hand_ladder.at(0).lookup(ARCHS[0]).records[0]["curve"]["loss_every"] == 3
    with pytest.raises(IndexError, match=r"no rung 2 in this ladder \(its rungs: 0, 1\)"):
        hand_ladder.at(2)
    # a rung not trained yet leaves a gap: indices stay the rungs' own, -1 the top
    gapped = type(hand_ladder)(tuple({**r, "rung": 3} if r["rung"] == 1 else r
                                     for r in hand_ladder.records))
    assert [r.index for r in gapped.rungs] == [0, 3] and gapped.rung(-1).index == 3
    assert gapped.at(3).records == gapped.at(-1).records and len(gapped.at(0)) == 32
    with pytest.raises(IndexError, match="no rung 1"):
        gapped.at(1)
    # a plain .jsonl loads alike; the directory form finds ladder.jsonl.gz
    plain = tmp_path / "plain.jsonl"
    plain.write_text(gzip.decompress((tmp_path / "ladder.jsonl.gz").read_bytes()).decode())
    assert load_ladder(plain).records == hand_ladder.records
    assert load_ladder(tmp_path).records == hand_ladder.records


@pytest.mark.parametrize("damage, message", [
    (lambda line: line[:50], "line 2 is not JSON"),
    (lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "rung"}),
     "line 2 has no 'rung'"),
    (lambda line: json.dumps({**json.loads(line), "budget": {"train_images": 100}}),
     "record 2: its budget has no integer train_images and epochs"),
])
def test_a_damaged_ladder_is_a_one_line_error(damage, message, tmp_path):
    lines = [json.dumps(r) for r in hand_records()[:3]]
    lines[1] = damage(lines[1])
    path = tmp_path / "ladder.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as error:
        load_ladder(path)
    assert "\n" not in str(error.value)


def test_a_missing_ladder_names_the_shipped_ones(tmp_path):
    with pytest.raises(DataError, match="ladder table .*does not exist.*shipped"):
        load_ladder(tmp_path / "nothing.jsonl.gz")
    with pytest.raises(DataError, match="fashion_mnist-small28"):
        load_ladder("no-such-ladder")


def test_the_ceiling_and_each_rung_against_the_top_by_hand(hand_ladder):
    t0, t1 = _column(1, "vgg", 0), _column(1, "vgg", 1)
    target = (t0 + t1) / 2
    c = ceiling(hand_ladder.at(-1), "vgg", resamples=200)
    r1 = _rho(t0, t1)
    assert c["spearman"] == pytest.approx(r1)
    assert c["kendall"] == pytest.approx(scipy_stats.kendalltau(t0, t1).statistic)
    assert c["reliability_2"] == pytest.approx(2 * r1 / (1 + r1))
    assert c["max_correlation"] == pytest.approx(math.sqrt(2 * r1 / (1 + r1)))
    assert c["mean_abs_diff"] == pytest.approx(np.mean(np.abs(t0 - t1)))
    low, high = c["spearman_ci"]
    assert low <= r1 <= high
    [row] = rungs_against_top(hand_ladder, "vgg", resamples=200)
    e0, e1 = _column(0, "vgg", 0), _column(0, "vgg", 1)
    assert row["name"] == "100x1" and row["samples"] == 100
    assert row["one_seed"]["spearman"] == pytest.approx((_rho(e0, target) + _rho(e1, target)) / 2)
    assert row["two_seeds"]["spearman"] == pytest.approx(_rho((e0 + e1) / 2, target))
    assert row["two_seeds"]["kendall"] == pytest.approx(
        scipy_stats.kendalltau((e0 + e1) / 2, target).statistic)
    assert row["seed_to_seed"] == pytest.approx(_rho(e0, e1))


def test_kd_gain_per_rung_by_hand(hand_ladder):
    rows = kd_gain_by_rung(hand_ladder, "vgg")
    for row, rung in zip(rows, (0, 1)):
        gains = ((_column(rung, "vgg", 0) - _column(rung, "cls", 0))
                 + (_column(rung, "vgg", 1) - _column(rung, "cls", 1))) / 2
        half = scipy_stats.t.ppf(0.975, 7) * gains.std(ddof=1) / math.sqrt(8)
        assert row["gain"]["mean"] == pytest.approx(gains.mean())
        assert row["gain"]["ci95"] == pytest.approx([gains.mean() - half, gains.mean() + half])
        assert row["helped"] == pytest.approx(np.mean(gains > 0))


def test_best_students_and_their_difference_against_pooled_seed_noise(hand_ladder):
    result = best_students(hand_ladder.at(-1), "cls", "vgg")
    cls = (_column(1, "cls", 0) + _column(1, "cls", 1)) / 2
    vgg = (_column(1, "vgg", 0) + _column(1, "vgg", 1)) / 2
    assert result["best"] == {"cls": ARCHS[int(np.argmax(cls))], "vgg": ARCHS[int(np.argmax(vgg))]}
    assert result["same"] == (np.argmax(cls) == np.argmax(vgg))
    diff = _column(1, "vgg", 0) - _column(1, "vgg", 1)
    pooled = math.sqrt(np.mean(diff ** 2 / 2))  # the variance of two values: (a - b)^2 / 2
    assert result["vgg"]["seed_sd"] == pytest.approx(pooled)
    assert result["vgg"]["detectable"] == pytest.approx(scipy_stats.t.ppf(0.975, 8) * pooled)


def test_loss_sum_weights_each_run_by_its_steps():
    curve = {"loss_every": 3, "steps_per_epoch": 4, "train_loss": [[2.0, 1.0], [0.5, 0.25]],
             "train_ce": [[1.0, 1.0], [1.0, 1.0]]}
    assert loss_sum(curve) == pytest.approx(3 * 2.0 + 1 * 1.0 + 3 * 0.5 + 1 * 0.25)
    assert loss_sum(curve, 1) == pytest.approx(7.0)
    assert loss_sum(curve, 2, last=True) == pytest.approx(1.75)
    assert loss_sum(curve, key="train_ce") == pytest.approx(8.0)


def test_power_law_extrapolation_recovers_a_power_law():
    epochs = np.arange(1, 9)
    assert extrapolate(list(0.9 - 0.3 * epochs ** -0.7), 16) == pytest.approx(
        0.9 - 0.3 * 16 ** -0.7, abs=1e-3)
    assert extrapolate([0.4, 0.5], 16) == 0.5  # fewer points than parameters: the last value


def test_estimators_are_scored_against_the_two_seed_target(hand_ladder):
    rows = {r["name"]: r for r in score_estimators(hand_ladder, "vgg", resamples=200)}
    target = (_column(1, "vgg", 0) + _column(1, "vgg", 1)) / 2
    kd = rows["100x1 KD accuracy"]
    assert kd["cost"] == pytest.approx(0.25) and kd["kind"] == "one_seed"
    assert kd["spearman"] == pytest.approx(
        (_rho(_column(0, "vgg", 0), target) + _rho(_column(0, "vgg", 1), target)) / 2)
    assert rows["100x1 labels-only accuracy"]["spearman"] == pytest.approx(
        (_rho(_column(0, "cls", 0), target) + _rho(_column(0, "cls", 1), target)) / 2)
    assert rows["latency"]["spearman"] == pytest.approx(_rho(1.0 + np.arange(8), target))
    # the curves' losses fall with the student's index (base 1 + i / 10): the sum ranks by it
    loss = rows["100x1 KD loss sum"]
    assert loss["spearman"] == pytest.approx(_rho(-np.arange(8), target))
    cut = rows["top rung's first 2 epochs: KD accuracy"]  # half the final accuracy there
    assert cut["cost"] == pytest.approx(0.5) and cut["spearman"] == pytest.approx(
        (_rho(_column(1, "vgg", 0), target) + _rho(_column(1, "vgg", 1), target)) / 2)
    assert "top rung's first 4 epochs: KD accuracy" not in rows  # that is the top rung itself
    # over a subset of the students (those chosen for latency alone) as well
    spread = {r["name"]: r for r in score_estimators(hand_ladder, "vgg", resamples=200,
                                                      spread=ARCHS[2:])}
    assert "spread" not in rows["latency"]
    assert spread["latency"]["spread"]["n"] == 6 and spread["latency"]["spread"][
        "spearman"] == pytest.approx(_rho(1.0 + np.arange(2, 8), target[2:]))
    # a ladder with a rung not trained yet (index 3 the top, no 1 or 2) scores alike
    gapped = type(hand_ladder)(tuple({**r, "rung": 3} if r["rung"] == 1 else r
                                     for r in hand_ladder.records))
    again = {r["name"]: r for r in score_estimators(gapped, "vgg", resamples=200)}
    assert again["100x1 KD accuracy"]["spearman"] == kd["spearman"]
    assert rungs_against_top(gapped, "vgg", resamples=200)[0]["two_seeds"]["spearman"] == \
        pytest.approx(_rho((_column(0, "vgg", 0) + _column(0, "vgg", 1)) / 2, target))


def test_an_estimator_against_another_is_a_paired_difference_over_students(hand_ladder):
    target = target_columns(hand_ladder.at(-1), "vgg")
    kd = {"kind": "one_seed", "values": {a: [_column(0, "vgg", 0)[i], _column(0, "vgg", 1)[i]]
                                         for i, a in enumerate(ARCHS)}}
    latency = {"kind": "fixed", "values": {a: 1.0 + i for i, a in enumerate(ARCHS)}}
    mean = (_column(1, "vgg", 0) + _column(1, "vgg", 1)) / 2
    by_hand = ((_rho(_column(0, "vgg", 0), mean) + _rho(_column(0, "vgg", 1), mean)) / 2
               - _rho(1.0 + np.arange(8), mean))
    versus = difference(kd, latency, target, resamples=200)
    assert versus["n"] == 8 and versus["difference"] == pytest.approx(by_hand)
    assert versus["ci"][0] <= versus["difference"] <= versus["ci"][1]
    # the same estimator against itself: every resample draws the same students for both
    assert difference(kd, kd, target, resamples=200) == {"n": 8, "difference": 0.0,
                                                        "ci": [0.0, 0.0]}
    # students only one of them has are left out; below 5 shared students it says nothing
    few = {"kind": "fixed", "values": {a: 1.0 + i for i, a in enumerate(ARCHS[:4])}}
    assert difference(kd, few, target, resamples=200) is None
    # the report's rows carry it against the table's proxy, when a table is given
    rows = score_estimators(hand_ladder, "vgg", resamples=200)
    assert all("minus_table_proxy" not in r for r in rows)


def test_the_refitted_predictor_never_sees_the_student_it_predicts(hand_ladder):
    predicted = top_rung_predictor(hand_ladder, "vgg", SPACE, folds=4)  # trees, leaves of 3
    assert set(predicted) == set(ARCHS)
    assert len(set(predicted.values())) > 2  # it learns from 6 students, not their mean alone
    changed = [dict(r) for r in hand_ladder.records]
    for r in changed:  # another top-rung accuracy for student 0 only
        if r["arch"] == ARCHS[0] and r["rung"] == 1:
            r["val_acc"] = 0.01
    again = top_rung_predictor(type(hand_ladder)(tuple(changed)), "vgg", SPACE, folds=4)
    assert again[ARCHS[0]] == pytest.approx(predicted[ARCHS[0]])
    assert any(again[a] != pytest.approx(predicted[a]) for a in ARCHS[1:])


def test_frontier_keeps_the_best_estimator_up_to_each_cost():
    rows = [{"name": "free", "cost": 0.0, "spearman": 0.3, "spearman_ci": [0.1, 0.5]},
            {"name": "cheap", "cost": 0.1, "spearman": 0.6, "spearman_ci": [0.4, 0.8]},
            {"name": "worse", "cost": 0.1, "spearman": 0.5, "spearman_ci": [0.2, 0.7]},
            {"name": "dear", "cost": 0.5, "spearman": 0.55, "spearman_ci": [0.3, 0.7]}]
    result = [(cost, best["name"], others) for cost, best, others in frontier(rows)]
    assert result == [(0.0, "free", []), (0.1, "cheap", ["worse"])]


def test_the_bottom_rung_against_the_table(hand_ladder):
    table_records = []
    for r in hand_ladder.at(0):
        other = dict(r)
        if r["mode"] == "cls" and r["seed"] == 0 and r["arch"] in ARCHS[:2]:
            other["val_acc"] = r["val_acc"] + 0.1
            other["host"] = "cpu: elsewhere"
        table_records.append(other)
    rows = {(r["mode"], r["seed"]): r for r in repeat_of_table(hand_ladder, Table(tuple(
        table_records)))}
    assert rows[("cls", 0)]["equal"] == 6 and rows[("cls", 0)]["same_host"] == 6
    assert rows[("cls", 0)]["mean_abs_diff"] == pytest.approx(0.2 / 8)
    assert rows[("vgg", 1)]["equal"] == 8 and rows[("vgg", 1)]["spearman"] == pytest.approx(1.0)


# --- choosing the students and the order of the trainings ---------------------------------------

def test_students_are_the_extremes_of_each_mode_and_a_latency_spread():
    vgg = {0: 0.9, 1: 0.0}  # student 0 is the worst with labels and the best with KD
    records = []
    for i, arch in enumerate(ARCHS):
        for seed in (0, 1):
            for mode, acc in (("cls", i / 10), ("vgg", vgg.get(i, i / 10))):
                records.append({"arch": arch, "decisions": [i], "mode": mode, "seed": seed,
                                "status": "ok", "val_acc": acc, "latency_ms": 2.0 ** i,
                                "params": i, "macs": i})
    students = ladder_build.choose_students(Table(tuple(records)), ("cls", "vgg"), 6, 1)
    why = {s["arch"]: s["chosen"] for s in students}
    assert [s["arch"] for s in students] == [a for a in ARCHS if a in why]  # the table's order
    assert why[ARCHS[7]] == ["best cls"] and why[ARCHS[0]] == ["worst cls", "best vgg"]
    assert why[ARCHS[1]] == ["worst vgg"]
    # the other three spread evenly over log latency among students 2..6
    assert why[ARCHS[2]] == why[ARCHS[4]] == why[ARCHS[6]] == ["latency spread"]
    assert len(why) == 6 and students[0]["table_val_acc"] == {"cls": 0.0, "vgg": 0.9}
    with pytest.raises(Exception, match="--students 2 is fewer than the 3 best and worst"):
        ladder_build.choose_students(Table(tuple(records)), ("cls", "vgg"), 2, 1)


def test_tasks_put_the_cheap_rungs_then_the_top_then_the_rest():
    options = ladder_build.Options(rungs=((10, 1), (10, 2), (10, 4), (10, 8)), seeds=1,
                                   teachers=("vgg",), top_teachers=("resnet",))
    order = [(t.rung, t.arch, t.mode) for t in options.tasks(["A", "B"])]
    assert order[:4] == [(0, "A", "cls"), (0, "A", "vgg"), (0, "B", "cls"), (0, "B", "vgg")]
    assert [r for r, _, _ in order] == [0] * 4 + [1] * 4 + [3] * 4 + [2] * 4 + [3] * 2
    assert order[-2:] == [(3, "A", "resnet"), (3, "B", "resnet")]


@pytest.mark.parametrize("kwargs, message", [
    ({"rungs": ((10, 2), (10, 1))}, "--rungs must grow"),
    ({"rungs": ((10, 0),)}, "IMAGESxEPOCHS pairs of positive integers"),
    ({"teachers": ("nope",)}, "unknown teacher 'nope' in --teachers"),
    ({"students": 1}, "--students must be an integer >= 2"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(Exception, match=message):
        ladder_build.Options(**kwargs)


# --- building it on synthetic data -----------------------------------------------------------------

def _source_table(directory: Path) -> Path:
    """A benchmark table of 6 real students on the tiny preset's synthetic data (hand-made
    accuracies: the ladder only chooses from them)."""
    directory.mkdir(parents=True, exist_ok=True)
    records = []
    for i, arch in enumerate(ARCHS[:6]):
        for mode in ("cls", "vgg"):
            for seed in (0, 1):
                records.append({**ladder_record(0, mode, seed, i, 0.1 + i / 10 + seed / 100),
                                "budget": {"train_images": 100, "epochs": 1}})
    save_table(records, directory / "table.jsonl.gz")
    shutil.copy(TINY, directory / "config.yaml")
    return directory


def tiny(out, cache, table, *extra):
    return ["--table", str(table), "--config", TINY, "--students", "4", "--extremes", "1",
            "--rungs", "100x1,100x3", "--teachers", "vgg", "--top-teachers", "resnet",
            "--eval-images", "100", "--curve-every", "1", "--out", str(out),
            "--set", f"cache_dir={cache}", "--set", "progress=false", *extra]


@pytest.mark.slow
def test_build_resume_after_kill_9_a_shipped_copy_and_the_report(cache, tmp_path,
                                                                  kill_9_after_three_trials):
    """The whole path on synthetic data, on the process pool: a build killed with -9 after a few
    trainings, resumed (training only what is missing), the report; a copy as it ships (no
    trainings.jsonl) continues with another seed."""
    table = _source_table(tmp_path / "table")
    out = tmp_path / "ladder"
    command = [sys.executable, "-m", "research.build_ladder",
               *tiny(out, cache, table, "--backend", "process", "--set", "evaluator.workers=2")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    before = kill_9_after_three_trials(command, out, file="trainings.jsonl")
    total = 4 * 2 * 2 * 2 + 4 * 2  # students x rungs x modes x seeds, and resnet at the top
    assert 3 <= len(before) < total
    subprocess.run(command, check=True, timeout=RUN_TIMEOUT, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sessions = [json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()]
    assert len(sessions) == 2 and sessions[0]["trainings"] >= len(before) - 2
    assert sessions[-1]["trainings"] == total - len(before) and sessions[-1]["complete"]
    ladder = load_ladder(out)
    assert len(ladder) == total
    assert len({(r["arch"], r["mode"], r["seed"], r["rung"]) for r in ladder}) == total
    assert all(r in list(ladder) for r in before)  # kept as they were, not trained again
    students = json.loads((out / "ladder.json").read_text())["students"]
    assert [s["arch"] for s in students] == ladder.at(0).archs
    for r in ladder:
        assert set(r) == set(LADDER_FIELDS) and r["status"] == "ok"
        images, epochs = (100, 1) if r["rung"] == 0 else (100, 3)
        assert (r["budget"]["train_images"], r["budget"]["epochs"]) == (images, epochs)
        assert len(r["curve"]["val_acc"]) == epochs and r["curve"]["val_acc"][-1] == r["val_acc"]
        assert [len(e) for e in r["curve"]["train_loss"]] == [2] * epochs  # 64 + 36 images
    assert ladder.at(-1).modes == ["cls", "resnet", "vgg"] and ladder.at(0).modes == ["cls",
                                                                                      "vgg"]
    # the report from the build directory
    assert report_cli.main([str(out), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    for heading in ("## Each rung against the top rung", "## KD gain per rung",
                    "## At the top rung: labels only against KD from vgg",
                    "## At the top rung: vgg against resnet", "## Cheap estimators",
                    "## The bottom rung repeats"):
        assert heading in report
    for name in ("ladder_rank.png", "ladder_kd_gain.png", "ladder_estimators.png",
                 "ladder_top_cls_vs_kd.png", "ladder_curves.png"):
        assert (tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG"
    # a copy as it ships continues: a third seed
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("ladder.json", "config.yaml", "ladder.jsonl.gz", "sessions.jsonl"):
        shutil.copy(out / name, shipped / name)
    assert build_cli.main(tiny(shipped, cache, table, "--seeds", "3")) == 0
    extended = load_ladder(shipped)
    assert len(extended) == total * 3 // 2
    assert [r for r in extended if r["seed"] < 2] == list(ladder)


def test_the_bottom_rung_repeats_the_tables_training(cache):
    """The same student, seed and budget give the table's accuracy exactly (on one host)."""
    config = load_config(TINY, [f"cache_dir={cache}", "progress=false"])
    arch = "cn_r1_k3_s1_c8|ir_r1_k3_s2_e3_c12|cn_r1_k1_s1_c32"
    torch.set_num_threads(1)
    for mode in ("cls", "vgg"):
        if mode != "cls":
            table_build._teacher_signal(config, ladder_build.workspace(config).dataset, mode)
        table = table_build.train_table_entry(table_build.Training(arch, mode, 1, 100), config)
        ladder = ladder_build.train_ladder_entry(ladder_build.Training(
            arch, mode, 1, 100, 0, config.data.proxy_size, config.proxy.epochs, 4), config)
        assert table.status == ladder.status == "ok"
        assert (ladder.accuracy, ladder.test_accuracy) == (table.accuracy, table.test_accuracy)
        assert ladder.curve["val_acc"] == [ladder.accuracy]


@pytest.mark.parametrize("extra, message", [
    (["--eval-images", "50"], "other settings (eval_images: 100 there, 50 here)"),
    (["--rungs", "100x1,100x4"], "other settings (rungs: [[100, 1], [100, 3]] there"),
    (["--set", "proxy.lr=0.2"], "other settings (proxy.lr: 0.05 there, 0.2 here)"),
])
def test_options_that_differ_from_the_build_are_a_one_line_error(extra, message, cache, tmp_path,
                                                                 capsys):
    table = _source_table(tmp_path / "table")
    out = tmp_path / "ladder"
    out.mkdir()
    settings = {**ladder_build.deciding_settings(load_config(TINY, [f"cache_dir={cache}"])),
                **ladder_build.Options(table=str(table), students=4, extremes=1,
                                       rungs=((100, 1), (100, 3)), eval_images=100,
                                       curve_every=1).settings()}
    (out / "ladder.json").write_text(json.dumps({"settings": settings, "students": []}))
    before = sorted(p.name for p in out.iterdir())
    assert build_cli.main(tiny(out, cache, table, *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("extra, message", [
    (["--rungs", "100xone"], "--rungs '100xone': give IMAGESxEPOCHS pairs"),
    (["--eval-images", "100000"], "--eval-images 100000 is more than the 400 validation"),
    (["--rungs", "100x1,99999x1"], "a rung trains on 99999 images, more than"),
    (["--students", "50"], "--students 50 is more than the 6 students"),
])
def test_bad_input_is_a_one_line_error_and_writes_nothing(extra, message, cache, tmp_path,
                                                          capsys):
    table = _source_table(tmp_path / "table")
    out = tmp_path / "ladder"
    assert build_cli.main(tiny(out, cache, table, *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not out.exists()


def test_a_foreign_directory_is_refused_and_untouched(cache, tmp_path, capsys):
    table = _source_table(tmp_path / "table")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert build_cli.main(tiny(out, cache, table)) == 2
    assert "not a ladder table" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_the_table_format_is_unchanged_by_the_ladder_fields(tmp_path):
    path = tmp_path / "table.jsonl.gz"
    save_table(hand_records()[:2], path)
    assert set(json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])) == set(FIELDS)


def test_the_report_waits_for_the_top_rung(tmp_path, capsys):
    """A build that has not reached its top rung is refused in one line (every number of the
    report is against the top rung), not reported against a lower one."""
    save_table(hand_records(), tmp_path / "ladder.jsonl.gz", fields=LADDER_FIELDS)
    rungs = [{"index": i, "train_images": 100, "epochs": e} for i, e in enumerate((1, 4, 8))]
    (tmp_path / "ladder.json").write_text(json.dumps({"settings": {"table": "x"},
                                                      "rungs": rungs, "students": []}))
    assert report_cli.main([str(tmp_path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the top rung (100x8) has no trainings yet" in err
    assert not (tmp_path / "report").exists()


def test_the_shipped_ladder_reads_and_agrees_with_its_settings_and_table():
    """Whatever part of it is built: every record at its rung's budget, on a student of the
    shipped table that ladder.json chose, with a learning curve that ends at its accuracy."""
    from akd import load_table
    from akd.tables import SHIPPED

    ladder = load_ladder("fashion_mnist-small28-ladder")
    saved = json.loads((SHIPPED / "fashion_mnist-small28-ladder" / "ladder.json").read_text())
    rungs = {r["index"]: (r["train_images"], r["epochs"]) for r in saved["rungs"]}
    students = {s["arch"] for s in saved["students"]}
    table = set(load_table(saved["settings"]["table"]).archs)
    assert len(students) == 32 and students <= table
    for r in ladder:
        assert r["arch"] in students and r["status"] == "ok"
        assert (r["budget"]["train_images"], r["budget"]["epochs"]) == rungs[r["rung"]]
        assert len(r["curve"]["val_acc"]) == r["budget"]["epochs"]
        assert r["curve"]["val_acc"][-1] == pytest.approx(r["val_acc"], abs=1e-4)
