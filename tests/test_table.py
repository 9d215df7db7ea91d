"""The benchmark table: building it at a tiny budget (synthetic data), resume after kill -9, the
report, the statistics against hand computations, the loader on a hand-made table, bad input."""

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
from conftest import RUN_TIMEOUT
from scipy import stats as scipy_stats

from search_spaces import get_space

from akd import load_table
from akd.components import build_space
from akd.config import load_config
from akd.errors import DataError, RunError
from akd.tables import FIELDS, Table, save_table
from research import PRESETS
from research.studies.predictor_bench import run_benchmark
from research.studies.saved import read_saved
from research.studies.table.analysis import (bootstrap_ci, compare_modes, decision_labels,
                                             disattenuate, gain_by_decision, kd_gains,
                                             noise_ceiling, reliability, top_overlap)
from research.studies.table.build import Options
from research.studies.table.pool import spread_by_cost

ROOT = Path(__file__).resolve().parents[1]


build_cli = importlib.import_module("research.build_table")
report_cli = importlib.import_module("research.table_report")
TINY = str(PRESETS / "table" / "tiny.yaml")
SPACE = get_space("mnasnet", preset="small28")


pytestmark = pytest.mark.usefixtures("private_core_lock")


@pytest.fixture(scope="module")
def cache(module_cache):
    return module_cache


def tiny(out, cache, *extra):
    return ["--config", TINY, "--teachers", "vgg", "--archs", "3", "--seeds", "2",
            "--eval-images", "200", "--out", str(out), "--set", f"cache_dir={cache}",
            "--set", "progress=false", *extra]


# --- a hand-made table ------------------------------------------------------------------------

def record(arch_index, mode, seed, val_acc, latency=1.0, status="ok"):
    decisions = [0] * len(SPACE.choices)
    decisions[0] = arch_index % SPACE.choices[0]  # b0.op differs between students
    decisions[1] = arch_index % SPACE.choices[1]
    return {"arch": str(SPACE.decode(decisions)) + f"#{arch_index}", "decisions": decisions,
            "mode": mode, "seed": seed, "status": status,
            "val_acc": val_acc if status == "ok" else None,
            "test_acc": val_acc - 0.01 if status == "ok" else None,
            "latency_ms": latency, "params": 1000 + arch_index, "macs": 5000 + 10 * arch_index,
            "seconds": 1.5, "budget": {"train_images": 100}, "host": "cpu: test",
            "teacher_test_acc": None if mode == "cls" else 0.9,
            "error": None if status == "ok" else "diverged"}


# accuracies of 6 students: mode -> seed -> per student
ACC = {"cls": {0: [0.50, 0.60, 0.55, 0.70, 0.65, 0.40], 1: [0.52, 0.58, 0.57, 0.69, 0.60, 0.45]},
       "vgg": {0: [0.60, 0.50, 0.66, 0.72, 0.61, 0.44], 1: [0.58, 0.49, 0.70, 0.71, 0.63, 0.40]}}


def hand_table():
    return Table(tuple(record(i, mode, seed, acc, latency=1.0 + i)
                       for mode, seeds in ACC.items() for seed, accs in seeds.items()
                       for i, acc in enumerate(accs)))


def test_loader_filters_and_looks_up_a_hand_made_table(tmp_path):
    path = tmp_path / "table.jsonl.gz"
    records = list(hand_table()) + [record(0, "resnet", 0, 0.3),
                                    record(1, "resnet", 0, 0.0, status="failed")]
    save_table(records, path)
    table = load_table(path)
    assert len(table) == 26 and table.modes == ["cls", "resnet", "vgg"]
    assert table.teachers == ["resnet", "vgg"] and table.seeds("resnet") == [0]
    assert len(table.filter(mode="cls")) == 12 and len(table.filter(mode="kd")) == 13
    assert len(table.filter(mode="kd", ok=False)) == 14
    assert len(table.filter(teacher="vgg", seed=1)) == 6
    first = table.archs[0]
    assert {(r["mode"], r["seed"]) for r in table.lookup(first)} == {
        ("cls", 0), ("cls", 1), ("vgg", 0), ("vgg", 1), ("resnet", 0)}
    means = table.filter(mode="cls").accuracy()
    assert means[first] == pytest.approx((0.50 + 0.52) / 2)
    assert table.filter(mode="vgg").accuracy("test_acc")[first] == pytest.approx(0.59 - 0.01)
    # the same records give the same bytes, and a plain .jsonl loads alike
    again = tmp_path / "again.jsonl.gz"
    save_table(reversed(records), again)
    assert again.read_bytes() == path.read_bytes()
    plain = tmp_path / "table.jsonl"
    plain.write_text(gzip.decompress(path.read_bytes()).decode())
    assert load_table(plain).records == table.records


@pytest.mark.parametrize("damage, message", [
    (lambda line: line[:40], "line 2 is not JSON"),
    (lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "seed"}),
     "line 2 has no 'seed'"),
    (lambda line: line.replace('"seed": 1', '"seed": "one"'), "line 2: seed = 'one' has the "
                                                              "wrong type"),
])
def test_a_damaged_table_line_is_a_one_line_error(damage, message, tmp_path):
    path = tmp_path / "table.jsonl"
    lines = [json.dumps({f: r[f] for f in FIELDS}) for r in hand_table()][6:9]
    lines[1] = damage(lines[1])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as error:
        load_table(path)
    assert "\n" not in str(error.value)


def test_a_missing_table_names_the_shipped_ones(tmp_path):
    with pytest.raises(DataError, match="does not exist.*shipped table"):
        load_table(tmp_path / "nope.jsonl.gz")


# --- statistics by hand -------------------------------------------------------------------------

def test_noise_ceiling_by_hand():
    noise = noise_ceiling(hand_table(), "cls", resamples=200)
    x, y = ACC["cls"][0], ACC["cls"][1]
    assert noise["n"] == 6
    assert noise["spearman"] == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    assert noise["kendall"] == pytest.approx(scipy_stats.kendalltau(x, y).statistic)
    assert noise["mean_abs_diff"] == pytest.approx(np.mean(np.abs(np.subtract(x, y))))
    # top 10% of 6 is one student: the best of seed 0 (index 3) is the best of seed 1 too
    assert noise["top_overlap"] == 1.0
    low, high = noise["spearman_ci"]
    assert low <= noise["spearman"] <= high


def test_labels_against_kd_by_hand():
    pair = compare_modes(hand_table(), "cls", "vgg", resamples=200)
    a, b = np.array([ACC["cls"][0], ACC["cls"][1]]), np.array([ACC["vgg"][0], ACC["vgg"][1]])
    rho = scipy_stats.spearmanr(a.mean(0), b.mean(0)).statistic
    assert pair["spearman"] == pytest.approx(rho)
    assert pair["kendall"] == pytest.approx(scipy_stats.kendalltau(a.mean(0), b.mean(0)).statistic)
    r_a = scipy_stats.spearmanr(a[0], a[1]).statistic
    r_b = scipy_stats.spearmanr(b[0], b[1]).statistic
    # Spearman-Brown for a mean of two seeds, then Spearman's correction
    expected = rho / math.sqrt((2 * r_a / (1 + r_a)) * (2 * r_b / (1 + r_b)))
    assert pair["disattenuated"] == pytest.approx(expected)
    cross = (scipy_stats.spearmanr(a[0], b[1]).statistic
             + scipy_stats.spearmanr(a[1], b[0]).statistic) / 2
    assert pair["cross_seed"] == pytest.approx(cross)
    assert pair["same_mode"] == pytest.approx((r_a + r_b) / 2)
    assert pair["excess"] == pytest.approx((r_a + r_b) / 2 - cross)
    assert pair["mean_diff"] == pytest.approx(float(np.mean(b.mean(0) - a.mean(0))))
    for key in ("spearman", "disattenuated", "excess"):
        assert len(pair[f"{key}_ci"]) == 2


def test_reliability_disattenuation_and_top_overlap_by_hand():
    assert reliability(0.5, 2) == pytest.approx(2 * 0.5 / 1.5)
    assert reliability(0.5, 1) == 0.5
    assert reliability(-0.1, 2) is None and reliability(None, 2) is None
    assert disattenuate(0.4, 0.8, 0.5) == pytest.approx(0.4 / math.sqrt(0.4))
    assert disattenuate(0.4, None, 0.5) is None
    # top 10% of 20 = 2 students: {19, 18} by x; {19, 0} by y
    x = list(range(20))
    y = [100] + list(range(1, 19)) + [200]
    assert top_overlap(x, y) == 0.5
    assert top_overlap(x, x, fraction=0.25) == 1.0


def test_bootstrap_is_reproducible_and_matches_its_definition():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    first = bootstrap_ci(lambda v: float(np.mean(v)), [x], seed=7, resamples=2000)
    assert first == bootstrap_ci(lambda v: float(np.mean(v)), [x], seed=7, resamples=2000)
    # the percentile interval of the mean is close to the t interval for a normal sample
    half = scipy_stats.t.ppf(0.975, 199) * x.std(ddof=1) / math.sqrt(200)
    assert first[0] == pytest.approx(x.mean() - half, abs=0.03)
    assert first[1] == pytest.approx(x.mean() + half, abs=0.03)
    # a perfect ranking stays perfect in every resample of distinct values
    ranks = bootstrap_ci(lambda a, b: scipy_stats.spearmanr(a, b).statistic,
                         [range(10), range(10)], resamples=200)
    assert ranks == pytest.approx([1.0, 1.0])
    assert bootstrap_ci(np.mean, [[1.0, 2.0]]) is None  # too few students


def test_kd_gain_pairs_the_same_seed_and_pools_decisions():
    table = hand_table()
    gains = kd_gains(table, "vgg")
    first = table.archs[0]
    assert gains[first] == pytest.approx(((0.60 - 0.50) + (0.58 - 0.52)) / 2)
    rows = gain_by_decision(table, "vgg", SPACE, resamples=200)
    by_key = {(r["field"], r["value"]): r for r in rows}
    # b0.op takes op number (i % 5): students 0 and 5 chose the first op in b0, and every
    # other stage of every student chose it too (decision 0)
    ops = SPACE.decisions[0].values
    counts = {}
    for i in range(6):
        labels = decision_labels(SPACE, table.lookup(table.archs[i]).records[0]["decisions"])
        for key in labels:
            counts.setdefault(key, []).append(i)
    conv = ("op", str(ops[0]))
    expected = sum(gains[table.archs[i]] for i in counts[conv]) / len(counts[conv])
    assert by_key[conv]["gain"] == pytest.approx(expected)
    assert by_key[conv]["stages"] == len(counts[conv])
    mean_gain = np.mean(list(gains.values()))
    assert by_key[conv]["vs_mean"] == pytest.approx(expected - mean_gain)
    assert {r["field"] for r in rows} == {"op", "kernel", "SE", "skip", "width", "depth"}


def test_the_pool_spreads_over_the_cost_range():
    costs = [1, 2, 4, 8, 16, 32, 64, 3, 5, 6, 7]
    chosen = spread_by_cost(costs, 4)
    # log-even targets 1, 4, 16, 64 are all present
    assert sorted(costs[i] for i in chosen) == [1, 4, 16, 64]
    assert len(set(spread_by_cost(costs, len(costs)))) == len(costs)


def test_options_list_every_training_student_by_student():
    options = Options(archs=2, teachers=("vgg",), seeds=2, extra_teachers=("wide",),
                      eval_images=10)
    keys = [t.key for t in options.tasks(["A", "B"])]
    assert keys == [("A", "cls", 0), ("A", "cls", 1), ("A", "vgg", 0), ("A", "vgg", 1),
                    ("B", "cls", 0), ("B", "cls", 1), ("B", "vgg", 0), ("B", "vgg", 1),
                    ("A", "wide", 0), ("B", "wide", 0)]


# --- building it -------------------------------------------------------------------------------

@pytest.mark.slow
def test_build_resume_after_kill_9_and_report(cache, tmp_path, kill_9_after_three_trials):
    """The whole path on synthetic data, on the process pool: a build killed with -9 after a few
    trainings, resumed (training only what is missing), then the report with its plots."""
    out = tmp_path / "table"
    command = [sys.executable, "-m", "research.build_table",
               *tiny(out, cache, "--backend", "process", "--set", "evaluator.workers=2")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    before = kill_9_after_three_trials(command, out, file="trainings.jsonl")
    assert 3 <= len(before) < 12
    subprocess.run(command, check=True, timeout=RUN_TIMEOUT, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sessions = [json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()]
    assert sessions[-1]["trainings"] == 12 - len(before) and sessions[-1]["complete"]
    table = load_table(out / "table.jsonl.gz")
    assert len(table) == 12 and len({(r["arch"], r["mode"], r["seed"]) for r in table}) == 12
    assert table.records[:0] == () and list(table)[0]["mode"] == "cls"
    pool = json.loads((out / "table.json").read_text())["pool"]
    assert table.archs == [s["arch"] for s in pool]
    for r in table:
        assert set(r) == set(FIELDS) and r["status"] == "ok"
        assert 0 <= r["val_acc"] <= 1 and 0 <= r["test_acc"] <= 1
        assert r["budget"]["train_images"] == 300 and r["budget"]["eval_images"] == 200
        assert (r["teacher_test_acc"] is None) == (r["mode"] == "cls")
    # the records before the kill are kept as they were
    assert all(r in list(table) for r in before)
    assert report_cli.main([str(out), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## The noise ceiling" in report and "AKD paper's questions" in report
    for name in ("cls_vs_vgg.png", "rank_cls_vs_vgg.png", "kd_gain_by_decision_vgg.png",
                 "kd_gain_vs_latency_vgg.png"):
        assert (tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG"
    analysis = json.loads((tmp_path / "report" / "analysis.json").read_text())
    assert analysis["students"] == 3 and analysis["modes"] == ["cls", "vgg"]
    # the predictor benchmark runs on it (probes from the teachers, folds, ablation)
    config = load_config(out / "config.yaml")
    bench = run_benchmark(config, table, build_space(config), tmp_path / "predictor",
                          models=("trees",))
    assert set(bench["held_out_architectures"]["trees"]) == {"vgg"}
    assert set(bench["held_out_teacher"]["trees"]) == {"vgg@0", "vgg@5", "vgg@20"}
    assert bench["ablation_model"] == "trees" and set(bench["seconds"]) == {
        "probes", "models", "ablation"}
    probes = json.loads((tmp_path / "predictor" / "probes.json").read_text())
    assert len(probes["probes"]) == 3 * 2 and len(probes["teachers"]["vgg"]) == 102
    # a copy of the table as it ships (no trainings.jsonl) continues: one more teacher, seed 0
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("table.json", "config.yaml", "table.jsonl.gz"):
        shutil.copy(out / name, shipped / name)
    assert build_cli.main(tiny(shipped, cache, "--extra-teachers", "resnet")) == 0
    extended = load_table(shipped / "table.jsonl.gz")
    assert len(extended) == 15 and extended.filter(mode="resnet").seeds() == [0]
    assert [r for r in extended if r["mode"] != "resnet"] == list(table)


@pytest.mark.parametrize("args, message", [
    (["--teachers", "vgg,nope"], "unknown teacher 'nope' in --teachers; allowed: resnet"),
    (["--extra-teachers", "vgg"], "name a teacher twice"),
    (["--archs", "1"], "--archs must be an integer >= 2"),
    (["--eval-images", "100000"], "--eval-images 100000 is more than the 400 validation"),
    (["--set", "search.arms=[nas]", "--set", "proxy.alpha=0"],
     "leaves the KD trainings without the teacher"),
])
def test_bad_input_is_a_one_line_error_and_writes_nothing(args, message, cache, tmp_path,
                                                          capsys):
    out = tmp_path / "out"
    assert build_cli.main(tiny(out, cache) + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not out.exists()


def test_a_foreign_directory_is_refused_and_untouched(cache, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert build_cli.main(tiny(out, cache)) == 2
    assert "not a benchmark table" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_table_saved_before_latency_blocks_existed_reads_as_six_blocks(tmp_path):
    """The shipped table was built when the interleaved timing always used 6 blocks, before
    latency.blocks existed: finishing it needs blocks 6, and the refusal says so."""
    settings = {"latency": {"method": "interleaved", "blocks": 20}, "archs": 300}
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"settings": {"latency": {"method": "interleaved"},
                                             "archs": 300}}))
    with pytest.raises(RunError, match=r"other settings \(latency.blocks: 6 there, 20 here\)"):
        read_saved(path, settings, "a table")
    settings["latency"]["blocks"] = 6
    assert read_saved(path, settings, "a table")["settings"] == settings
    with pytest.raises(RunError, match=r"\(archs: 300 there, 301 here and 1 more\)"):
        read_saved(path, {**settings, "archs": 301, "seed": 1}, "a table")
