"""The architecture-knowledge experiment at a tiny budget (synthetic data, 2 teachers, 3
students): its files, rankings, rank correlations by hand, resume, bad input."""

import csv
import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

import research.studies.arch_knowledge
from research import PRESETS
from akd.common.stats import kendall, spearman
from research.studies.arch_knowledge import choose_students, ordinal_ranks, summarize

ROOT = Path(__file__).resolve().parents[1]
cli = importlib.import_module("research.arch_knowledge")


pytestmark = pytest.mark.usefixtures("private_core_lock")


@pytest.fixture(scope="module")
def cache(module_cache):
    return module_cache


TINY = str(PRESETS / "arch_knowledge" / "tiny.yaml")


def tiny(out, cache, *extra):
    return ["--config", TINY, "--teachers", "resnet,vgg", "--students", "3", "--seeds", "1",
            "--samples", "12", "--out", str(out), "--set", f"cache_dir={cache}",
            "--set", "progress=false", *extra]


@pytest.fixture(scope="module")
def run(cache, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # a private core lock: no waiting on others
        patch.setenv("AKD_CORE_LOCK", str(cache / "cores.lock"))
        out = tmp_path_factory.mktemp("arch") / "out"
        assert cli.main(tiny(out, cache)) == 0
        yield out


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def read_results(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_writes_the_files_with_rankings_that_are_permutations(run):
    students = json.loads((run / "students.json").read_text())["students"]
    assert len({s["arch"] for s in students}) == 3
    assert all(s["latency_ms"] > 0 and s["params"] > 0 and s["macs"] > 0 for s in students)
    results = read_results(run)
    assert len(results) == 3 * 3  # students x (CLS, resnet, vgg) x 1 seed
    assert all(r["status"] == "ok" and 0 <= r["val_acc"] <= 1 for r in results)
    assert {(r["teacher"], r["mode"]) for r in results} == {
        (None, "cls"), ("resnet", "kd"), ("vgg", "kd")}
    ranking = read_csv(run / "ranking.csv")
    assert [r["student"] for r in ranking] == ["S1", "S2", "S3"]
    for column in ("CLS", "resnet", "vgg"):
        assert sorted(int(r[f"{column}_rank"]) for r in ranking) == [1, 2, 3]
    pairs = read_csv(run / "correlation.csv")
    assert [(p["a"], p["b"]) for p in pairs] == [("CLS", "resnet"), ("CLS", "vgg"),
                                                 ("resnet", "vgg")]
    for p in pairs:
        assert p["n"] == "3" and -1 <= float(p["spearman"]) <= 1
    report = (run / "arch_knowledge.md").read_text()
    assert "| S3 |" in report and "Spearman rho" in report and "Against the label-only" in report
    assert (run / "config.yaml").exists()


def test_rank_correlations_of_a_hand_made_table():
    students = [{"id": f"S{i}", "arch": f"a{i}", "latency_ms": 1.0, "params": 1, "macs": 1}
                for i in range(1, 6)]
    accs = {None: [0.9, 0.8, 0.7, 0.6, 0.5], "vgg": [0.8, 0.9, 0.7, 0.5, 0.6]}
    results = [{"teacher": t, "arch": f"a{i + 1}", "seed": seed, "status": "ok",
                "val_acc": acc + (0.02 if seed else -0.02), "teacher_test_acc": 0.9}
               for t, values in accs.items() for i, acc in enumerate(values) for seed in (0, 1)]
    results.append({**results[0], "seed": 2, "val_acc": 0.0})  # a seed not asked for: left out
    summary = summarize(students, results, ["vgg"], seeds=2)
    assert [r["acc"]["CLS"] for r in summary["students"]] == pytest.approx(accs[None])
    assert [r["rank"]["vgg"] for r in summary["students"]] == [2, 1, 3, 5, 4]
    [pair] = summary["correlations"]
    # sum of squared rank differences 4: rho = 1 - 6 * 4 / (5 * 24); 2 of 10 pairs discordant
    assert pair["spearman"] == pytest.approx(0.8)
    assert pair["kendall"] == pytest.approx(0.6)
    # ties: average ranks for rho, tau-b for tau (scipy gives the same)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))
    assert kendall([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    assert spearman([1, 1], [1, 2]) is None and kendall([1], [1]) is None
    assert ordinal_ranks([0.5, None, 0.7, 0.5]) == [2, None, 1, 3]


def test_students_are_near_the_median_latency_and_diverse():
    latencies = [1.0, 1.03, 0.95, 9.0, 1.01]  # median 1.01
    decisions = [[0, 0, 1], [0, 1, 1], [1, 1, 1], [2, 2, 2], [0, 0, 0]]
    # 2 students: the pool is the 4 nearest the median (4, 0, 1, 2), so 3 is out however
    # different; 2 differs most from the first
    assert choose_students(latencies, decisions, 2) == [4, 2]
    # 3 students: a pool of 12 holds all; 2 and 3 are equally far from 4, 2 is nearer the median
    assert choose_students(latencies, decisions, 3) == [4, 2, 3]


def test_resume_trains_only_what_is_missing(run, cache, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    # killed after 7 trainings, in the middle of writing the 8th line
    (out / "results.jsonl").write_text("".join(lines[:7]) + lines[7][:20])
    calls = []
    train_student = research.studies.arch_knowledge.train_student
    monkeypatch.setattr(research.studies.arch_knowledge, "train_student",
                        lambda *args: calls.append(args[0]) or train_student(*args))
    with pytest.warns(UserWarning, match="cut short"):
        assert cli.main(tiny(out, cache)) == 0
    assert len(calls) == 2
    results = read_results(out)
    assert len(results) == 9 and results[:7] == read_results(run)[:7]
    assert cli.main(tiny(out, cache)) == 0  # finished: nothing more to train
    assert len(calls) == 2


@pytest.mark.parametrize("args, message", [
    (["--teachers", "resnet,nope"], "unknown teacher 'nope' in --teachers; allowed: resnet"),
    (["--teachers", "vgg,vgg"], "distinct zoo teachers"),
    (["--students", "1"], "--students must be >= 2"),
    (["--set", "proxy.epochz=1"], "unknown config key proxy.epochz"),
])
def test_bad_input_is_a_one_line_error(args, message, cache, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(tiny(out, cache) + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not out.exists()


def test_other_settings_in_an_existing_out_are_refused(run, cache, capsys):
    assert cli.main(tiny(run, cache, "--set", "proxy.epochs=1")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings (proxy.epochs: 2 there, 1 here)" in err
