"""A command that refuses leaves every file as it was: bad settings are found before the run
directory is written, and a directory that is not an akd run is never written into."""

import importlib
import os
import sys

import pytest
import torch
from conftest import ROOT, require_ray

from akd.cli import main

# the quick preset on synthetic data: every refusal below happens before any training
BASE = ["--config", "quick", "--set", "progress=false", "--set", "data.name=synthetic",
        "--set", "data.val_size=400", "--set", "data.proxy_size=400",
        "--set", "final.test_images=0"]  # the preset's 2,000 are more than synthetic's 600


def snapshot(folder):
    """Every file under ``folder`` with its bytes (None when ``folder`` does not exist)."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def refuse(tmp_path, capsys, *overrides, out=None):
    out = out or tmp_path / "run"
    before = snapshot(out)
    args = BASE + ["--out", str(out), "--set", f"cache_dir={tmp_path / 'cache'}"]
    code = main(args + [arg for override in overrides for arg in ("--set", override)])
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: "), errors
    assert snapshot(out) == before, "a refused start changed --out"
    return errors[0]


@pytest.mark.parametrize("override, message", [
    ("data.name=mnist", "unknown dataset 'mnist'"),
    ("data.val_size=100000", "data.val_size = 100000 gives 100000 validation images; it must "
                             "give 1..2399"),
    ("data.channels=3", "data.channels = 3 is for the imagefolder dataset"),
    ("teacher.weights=t.pt", "teacher.weights is for your own teacher; set teacher.name: user"),
    ("teacher.factory=m:f", "teacher.factory is for your own teacher; set teacher.name: user"),
    ("search.max_in_flight=3", "search.max_in_flight = 3 limits an asynchronous search"),
    ("search.schedule.name=asha", "search.schedule.name = 'asha'; allowed: flat, "
                                  "successive_halving, hyperband"),
    ("search.schedule.rungs=[4, 2]", "search.schedule.rungs = [4, 2]: epochs of each rung"),
    ("search.schedule.top_seeds=1", "search.schedule.top_seeds must be >= 2"),
    ("search.schedule={name: hyperband, tell: mean}", "search.schedule.tell = 'mean'; allowed"),
    ("search.schedule={name: hyperband, tell: per_budget}",
     "search.schedule.tell: per_budget is BOHB's model per rung, which the tpe and gp "
     "controllers keep; controller.name = 'lstm_ppo'"),
    ("search.schedule.tell=per_budget", "search.schedule.tell: per_budget keeps a model per rung "
                                        "of a synchronous successive_halving or hyperband"),
    ("search={asynchronous: true, schedule: {name: successive_halving, tell: per_budget}}",
     "search.schedule.tell: per_budget keeps a model per rung"),
    # flat's 4 x 400 images against hyperband's first bracket on 400 images: 2 candidates x 1
    # epoch, the best continued 1 more, and its second seed 2 epochs from scratch
    ("search.schedule={name: hyperband, rungs: [1, 2]}", "search.schedule: a budget of 1,600 "
                                                         "training samples per arm does not fit "
                                                         "one hyperband bracket (2,000 samples"),
    ("search.schedule.first_rung_latency=table", "search.schedule.first_rung_latency: table is "
                                                 "for a multi-fidelity schedule"),
    ("search={asynchronous: true, schedule: {name: hyperband}}",
     "search.schedule hyperband runs synchronous brackets; for search.asynchronous use "
     "successive_halving (ASHA)"),
    ("final.training.patience=-1", "final.training.patience = -1 is invalid"),
    ("proxy.precision=fp16", "proxy.precision = 'fp16' is invalid; allowed: fp32, bf16"),
    ("data.proxy_size=5000", "data.proxy_size = 5000 is more than the 2000 training images"),
    ("teacher.name=transformer", "unknown teacher 'transformer'"),
    ("space.preset=huge", "unknown mnasnet preset 'huge'"),
    ("space.options={width: 3}", "space.options: "),
    ("controller.options.lr=-1", "controller option lr = -1 is invalid"),
    ("controller.options.bogus=1", "unknown option(s) bogus for controller 'lstm_ppo'"),
    ("proxy.alpha=2", "proxy.alpha = 2.0 is invalid; allowed: a number in [0, 1]"),
    ("proxy.temperature=0", "proxy.temperature = 0.0 is invalid"),
    ("final.training.lr=0", "final.training.lr = 0.0 is invalid"),
    ("teacher.training.batch_size=0", "teacher.training.batch_size = 0 is invalid"),
    ("final.train_images=99999", "final.train_images = 99999 is more than the 2000 images of "
                                 "synthetic's training split"),
    ("final.test_images=99999", "final.test_images = 99999 is more than the"),
    ("final.test_images=-1", "final.test_images must be >= 0"),
])
def test_a_bad_setting_is_refused_before_anything_is_written(override, message, tmp_path, capsys):
    assert message in refuse(tmp_path, capsys, override)


def test_missing_files_are_refused_before_anything_is_written(tmp_path, capsys):
    assert "has no Fashion-MNIST IDX files" in refuse(
        tmp_path, capsys, "data.name=fashion_mnist", f"data.root={tmp_path / 'nowhere'}")
    assert "teacher.weights" in refuse(tmp_path, capsys, "teacher.name=user",
                                       f"teacher.weights={tmp_path / 'missing.pt'}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("key", ["latency.device", "proxy.device", "final.training.device"])
def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(key, tmp_path, capsys):
    assert "CUDA is not available" in refuse(tmp_path, capsys, f"{key}=cuda")


def test_an_unreachable_ray_cluster_is_refused_before_the_teacher_trains(tmp_path, capsys):
    require_ray()
    message = refuse(tmp_path, capsys, "evaluator.backend=ray",
                     "evaluator.address=ray://127.0.0.1:9")
    assert "no Ray cluster answers there" in message
    assert not (tmp_path / "cache" / "teachers").exists()  # refused before training it


def test_an_existing_empty_directory_stays_empty_after_a_refusal(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    refuse(tmp_path, capsys, "proxy.alpha=2", out=out)
    assert out.is_dir() and not any(out.iterdir())


def test_a_directory_of_other_files_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own files")
    assert "is a directory of other files, not an akd run" in refuse(tmp_path, capsys, out=out)
    assert os.listdir(out) == ["notes.txt"]


def test_an_out_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "file.txt"
    out.write_text("not a directory")
    assert "is a file, not a directory" in refuse(tmp_path, capsys, out=out)
    assert out.read_text() == "not a directory"


# every command that writes into an --out, tool and research alike, with the arguments that make
# it start (tiny presets; the reports read the shipped tables): one rule for all (akd.common's
# check_out), applied before any work
PRESET = "research/presets/{}/tiny.yaml"
COMMANDS = {
    "akd analyze": ("akd.cli", ["analyze", "docs/study-v1/results/searches/vgg-seed0"]),
    "akd export": ("akd.cli", ["export", "docs/study-v1/results/searches/vgg-seed0"]),
    "run_study": ("research.run_study", ["--config", PRESET.format("study")]),
    "build_table": ("research.build_table", ["--config", PRESET.format("table"), "--archs", "3",
                                             "--eval-images", "200"]),
    "build_ladder": ("research.build_ladder", []),
    "bench_efficiency": ("research.bench_efficiency", ["--config", PRESET.format("efficiency")]),
    "bench_screening": ("research.bench_screening", ["--config", PRESET.format("screening")]),
    "arch_knowledge": ("research.arch_knowledge", ["--config", PRESET.format("arch_knowledge")]),
    "table_report": ("research.table_report", []),
    "ladder_report": ("research.ladder_report", []),
    "bench_predictor": ("research.bench_predictor", []),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("out_is", ["a file", "a directory of other files"])
def test_every_command_refuses_an_out_that_is_not_its_own_before_any_work(
        command, out_is, tmp_path, capsys, monkeypatch):
    module, args = COMMANDS[command]
    out = tmp_path / "out"
    if out_is == "a file":
        out.write_text("mine\n")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine\n")
    before = snapshot(out) if out.is_dir() else out.read_text()
    monkeypatch.chdir(ROOT)  # the commands' relative paths, as the docs run them
    monkeypatch.setattr(sys, "argv", [command, *args, "--out", str(out)])
    main_of = importlib.import_module(module)
    code = main_of.akd_main() if module == "akd.cli" else main_of.main()
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1, errors
    assert errors[0].startswith(f"error: --out {str(out)!r} ")
    assert ("is a file" if out_is == "a file" else "holds other files") in errors[0]
    assert (snapshot(out) if out.is_dir() else out.read_text()) == before


# the file each command writes first into its --out, and reads back on a rerun
OWN_FILE = {"run_study": "options.json", "build_table": "table.json",
            "build_ladder": "ladder.json", "bench_efficiency": "searches.json",
            "bench_screening": "searches.json", "arch_knowledge": "students.json"}


@pytest.mark.parametrize("command", OWN_FILE)
def test_a_damaged_file_of_the_commands_own_is_a_one_line_error(command, tmp_path, capsys,
                                                                monkeypatch):
    module, args = COMMANDS[command]
    out = tmp_path / "out"
    out.mkdir()
    (out / OWN_FILE[command]).write_text('{"torn by a crash or an edit')
    before = snapshot(out)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [command, *args, "--out", str(out), "--set",
                                      f"cache_dir={tmp_path / 'cache'}"])
    code = importlib.import_module(module).main()
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1, errors
    assert str(out / OWN_FILE[command]) in errors[0] and "damaged" in errors[0]
    assert snapshot(out) == before


@pytest.mark.parametrize("command, extra, message", [
    ("build_table", ["--teachers", "vgg,nosuch"], "unknown teacher 'nosuch' in --teachers"),
    ("build_ladder", ["--top-teachers", "nosuch"], "unknown teacher 'nosuch' in --top-teachers"),
    ("bench_screening", ["--controllers", "random,nosuch"], "controller.name = 'nosuch'"),
    ("bench_efficiency", ["--strategies", "lstm_ppo,nosuch"], "unknown strategy nosuch"),
    ("arch_knowledge", ["--teachers", "vgg,nosuch"], "unknown teacher 'nosuch' in --teachers"),
    ("run_study", ["--set", "study.teachers=[vgg, nosuch]"],
     "unknown teacher 'nosuch' in study.teachers"),
])
def test_every_name_of_a_list_is_checked_before_the_first_training(command, extra, message,
                                                                   tmp_path, capsys, monkeypatch):
    module, args = COMMANDS[command]
    out = tmp_path / "out"
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [command, *args, *extra, "--out", str(out), "--set",
                                      f"cache_dir={tmp_path / 'cache'}"])
    code = importlib.import_module(module).main()
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1 and message in errors[0], errors
    assert not out.exists() and not (tmp_path / "cache").exists()  # nothing made, not even data


@pytest.mark.parametrize("module, args, message", [
    ("bench_controllers", ["--controllers", "random", "nosuch"], "--controllers: unknown nosuch"),
    ("bench_controllers", ["--space", "nosuch"], "--space: unknown mnasnet preset 'nosuch'"),
    ("bench_controllers", ["--seeds", "0"], "--seeds must be an integer >= 1"),
    ("bench_controllers", ["--samples", "10", "-5"], "--samples must be an integer >= 1"),
    ("bench_latency", ["--archs", "0"], "--archs must be an integer >= 2"),
    ("bench_latency", ["--device", "tpu"], "latency.device = 'tpu' is not a device"),
    ("bench_latency", ["--preset", "nosuch"], "--preset: unknown mnasnet preset 'nosuch'"),
    ("bench_kd_cache", ["--teacher", "nosuch"], "--teacher 'nosuch': a zoo teacher"),
    ("bench_kd_cache", ["--student", "garbage"], "--student: block 'garbage'"),
    ("bench_kd_cache", ["--epochs", "0"], "--epochs or --augment-padding: epochs = 0"),
    ("bench_scaling", ["--backends", "process,serial"], "--backends 'process,serial': process"),
    ("bench_scaling", ["--trials", "0"], "--trials must be an integer >= 1"),
    ("space_stats", ["--samples", "0"], "--samples must be an integer >= 1"),
    ("space_stats", ["--preset", "nosuch"], "--preset: unknown mnasnet preset 'nosuch'"),
    ("train_teacher", ["--epochs", "0"], "--epochs: epochs = 0"),
    ("train_teacher", ["--dataset", "nosuch"], "unknown dataset 'nosuch'"),
])
def test_a_benchmarks_bad_flag_is_one_line_before_any_work(module, args, message, capsys,
                                                          tmp_path, monkeypatch):
    """The benchmark commands that print rather than write follow the same rule: a bad flag is
    one line and exit 2, before any data, teacher or measurement is made."""
    monkeypatch.setenv("AKD_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    try:
        code = importlib.import_module(f"research.{module}").main(args)
    finally:  # a leaked thread count would change later tests' trainings in this process
        changed, _ = torch.get_num_threads(), torch.set_num_threads(threads)
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(errors) == 1 and message in errors[0], errors
    assert not (tmp_path / "cache").exists()
    assert changed == threads  # refused before it set anything of the process's


def test_a_study_option_of_the_wrong_type_is_worded_as_written(tmp_path, capsys, monkeypatch):
    module, args = COMMANDS["run_study"]
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["run_study", *args, "--set", "study.strategies=tpe,nosuch",
                                      "--out", str(tmp_path / "out")])
    assert importlib.import_module(module).main() == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == ["error: study.strategies = 'tpe,nosuch' has the wrong type; expected list"]
