"""Export round trip on a hand-made run (synthetic data, toy space, a tiny final budget): weights
trained now when the run has none, reused when it has them; every file written; the one-liner,
TorchScript and ONNX reproduce the trained model; bad runs are one-line errors."""

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import damage
from PIL import Image

from search_spaces import build_model

import akd.export
from akd.cli import export_main as main
from akd.common.io import append_line, read_lines
from akd.config import load_config, save_config
from akd.data import load_dataset
from akd.distill import evaluate
from akd.errors import ExportError
from akd.export import TOLERANCE, choose_student, export_run
from akd.final.stage import run_final
from akd.search import RunDir

FILES = {"student.pt", "student.arch", "student.json", "student.torchscript.pt", "student.onnx",
         "predict.py"}
ARCHS = {"good": "cn_r1_k3_s1_c24_noskip|cn_r1_k3_s2_c36_noskip",
         "fair": "cn_r1_k5_s2_c24_noskip|cn_r1_k3_s1_c24_noskip",
         "nas": "cn_r1_k3_s2_c48_noskip|cn_r1_k3_s2_c24_noskip"}


def trial(arm, candidate_id, arch, reward):
    return {"arm": arm, "step": 0, "index": candidate_id, "candidate_id": candidate_id,
            "arch": ARCHS[arch], "decisions": [], "val_acc": reward, "latency_ms": 0.1,
            "reward": reward, "params": 1000, "flops": 10000, "status": "ok", "error": None,
            "seconds": 1.0}


def make_run(path: Path, cache: Path) -> Path:
    """A finished search without a final stage, as run_akd.py would leave it."""
    config = load_config(None, [
        "data.name=synthetic", "data.val_size=400", "data.proxy_size=400", "space.name=toy",
        "space.preset=null", "teacher.train_images=400", "teacher.training.epochs=1",
        "final.seeds=2", "final.train_images=400", "final.training.epochs=1",
        "final.training.batch_size=64", "final.training.augment_padding=0",
        f"cache_dir={cache}", "progress=false"])
    RunDir(path).create()
    save_config(config, path / "config.yaml")
    for record in (trial("akd", 0, "fair", 0.5), trial("akd", 1, "good", 0.6),
                   trial("nas", 0, "nas", 0.55)):
        append_line(path / "trials.jsonl", record)
    return path


def outputs_of_files(folder: Path, images: torch.Tensor) -> dict:
    info = json.loads((folder / "student.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(folder / "student.torchscript.pt"))
    session = onnxruntime.InferenceSession(str(folder / "student.onnx"),
                                           providers=["CPUExecutionProvider"])
    namespace = {}
    exec(info["rebuild"].replace('"student', f'"{folder}/student'), namespace)  # the one-liner
    with torch.inference_mode():
        return {"rebuilt": namespace["model"](images).numpy(),
                "torchscript": scripted(images).numpy(),
                "onnx": session.run(None, {"images": images.numpy()})[0],
                "onnx_batch3": session.run(None, {"images": images[:3].numpy()})[0]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache (synthetic data, the tiny teacher, its logits) for the whole module."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, cache):
    """The first export of a run without weights: it trains akd #1 now."""
    run = make_run(tmp_path_factory.mktemp("export") / "run", cache)
    info = export_run(run)
    return run, info


def test_missing_weights_are_trained_now_and_recorded_as_the_final_stage_would(exported):
    run, info = exported
    assert (info["source"], info["rank"], info["mode"], info["seed"]) == ("akd", 1, "kd", 0)
    assert info["arch"] == ARCHS["good"]  # the akd arm's best by reward
    [record] = read_lines(run / "final_runs.jsonl")
    # the final stage's name for the KD training of seed 0, under the run's final budget
    assert record["weights"] == f"weights/akd-1-kd-seed0-{record['budget']}.pt"
    assert record["status"] == "ok"
    assert (run / record["weights"]).is_file() and info["run_weights"] == record["weights"]
    assert info["test_acc"] == record["test_acc"] and 0 < info["test_acc"] <= 1


def test_the_training_with_labels_only_is_exported_on_request(exported, tmp_path):
    """--mode cls: the same student's labels-only training of seed 0, trained now and recorded
    beside the KD one (the final stage's name for it)."""
    run = tmp_path / "run"
    shutil.copytree(exported[0], run)  # the fixture's run stays as the other tests expect it
    info = export_run(run, tmp_path / "cls", mode="cls")
    assert (info["source"], info["mode"], info["seed"]) == ("akd", "cls", 0)
    records = {r["mode"]: r for r in read_lines(run / "final_runs.jsonl")}
    assert info["run_weights"] == records["cls"]["weights"] == \
        f"weights/akd-1-cls-seed0-{records['cls']['budget']}.pt"
    with pytest.raises(ExportError, match="--mode 'both'; allowed: cls, kd"):
        export_run(run, tmp_path / "x", mode="both")


def test_every_file_is_written_and_reproduces_the_trained_model(exported, cache):
    run, info = exported
    folder = run / "export"
    assert {p.name for p in folder.iterdir()} == FILES and not (run / "export.partial").exists()
    assert (folder / "student.arch").read_text() == ARCHS["good"]
    saved = json.loads((folder / "student.json").read_text())
    assert saved["num_classes"] == 10 and saved["in_channels"] == 1
    assert saved["input_size"] == [1, 16, 16] and saved["dataset"] == "synthetic"
    data = load_dataset(load_config(run / "config.yaml").data, cache)
    assert saved["normalization"]["mean"] == list(data.mean)
    assert saved["normalization"]["std"] == list(data.std)
    assert saved["rebuild"].endswith('build_model(Path("student.arch").read_text(), '
                                     'num_classes=10, in_channels=1, weights="student.pt").eval()')
    for name in ("pytorch_rebuilt", "torchscript", "onnx", "onnx_batch1"):
        assert saved["checks"][name]["ok"] and saved["checks"][name]["max_abs_diff"] <= TOLERANCE
    # independently of the export's own checks: the run's weights against every exported model
    images = data.test.images[-32:]  # other images than the export checked
    [record] = read_lines(run / "final_runs.jsonl")
    trained = build_model(ARCHS["good"], 10, 1, weights=run / record["weights"]).eval()
    with torch.inference_mode():
        expected = trained(images).numpy()
    outputs = outputs_of_files(folder, images)
    assert np.array_equal(outputs["rebuilt"], expected)
    for name in ("torchscript", "onnx", "onnx_batch3"):
        output = outputs[name]
        np.testing.assert_allclose(output, expected[:len(output)], rtol=0, atol=TOLERANCE)
        assert (output.argmax(1) == expected[:len(output)].argmax(1)).all()


def test_the_export_names_its_classes_and_input_and_predict_py_runs_it_on_image_files(
        exported, tmp_path):
    run, _ = exported
    folder = run / "export"
    saved = json.loads((folder / "student.json").read_text())
    assert saved["class_names"] == [str(i) for i in range(10)]  # synthetic data names none
    assert saved["input"] == {"name": "images", "shape": ["batch", 1, 16, 16],
                              "dtype": "float32", "layout": "NCHW", "channels": "grayscale"}
    # two image files as a deployer has them
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (16, 16), dtype=np.uint8),
              rng.integers(0, 256, (16, 16), dtype=np.uint8)]
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for array, path in zip(pixels, paths):
        Image.fromarray(array, mode="L").save(path)
    shown = subprocess.run([sys.executable, str(folder / "predict.py"), *map(str, paths)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    # the same images through the trained torch model, prepared as student.json's "apply" says
    mean, std = (torch.tensor(saved["normalization"][k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    images = (torch.tensor(np.stack(pixels)[:, None], dtype=torch.float32) / 255 - mean) / std
    model = build_model(ARCHS["good"], 10, 1, weights=folder / "student.pt").eval()
    with torch.inference_mode():
        probabilities = torch.softmax(model(images), dim=1)
    expected = [f"{path}: {saved['class_names'][int(p.argmax())]} ({float(p.max()):.4f})"
                for path, p in zip(paths, probabilities)]
    assert shown.stdout.splitlines() == expected


def test_present_weights_are_used_not_trained_again(exported, tmp_path, monkeypatch, capsys):
    run, info = exported
    monkeypatch.setattr(akd.export, "evaluate_final",
                        lambda *args: pytest.fail("trained although the weights exist"))
    again = export_run(run, out=tmp_path / "again")
    assert "training it now" not in capsys.readouterr().out
    assert again["test_acc"] == info["test_acc"] and again["arch"] == info["arch"]
    first = torch.load(run / "export" / "student.pt", weights_only=True)
    second = torch.load(tmp_path / "again" / "student.pt", weights_only=True)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert {p.name for p in (tmp_path / "again").iterdir()} == FILES


def test_a_damaged_weights_file_is_set_aside_and_trained_again(exported, tmp_path, capsys):
    run, info = exported
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    [weights] = (copy / "weights").glob("*-kd-seed0-*.pt")
    damage(weights, "truncate")
    again = export_run(copy, out=tmp_path / "out")
    out = capsys.readouterr().out
    assert "is damaged" in out and "training it now" in out
    assert weights.with_name(weights.name + ".damaged").exists()
    assert again["arch"] == info["arch"] and {p.name for p in (tmp_path / "out").iterdir()} == FILES


def test_the_final_stage_keeps_the_weights_the_export_then_uses(tmp_path, cache, monkeypatch):
    run = make_run(tmp_path / "run", cache)
    config = load_config(run / "config.yaml")
    result = run_final(config, run)
    records = read_lines(run / "final_runs.jsonl")
    assert len(records) == 8  # 2 arms x CLS, KD x 2 seeds
    data = load_dataset(config.data, cache)
    for record in records:
        assert record["weights"] == (f"weights/{record['source']}-1-{record['mode']}-seed"
                                     f"{record['seed']}-{record['budget']}.pt")
        model = build_model(record["arch"], 10, 1, weights=run / record["weights"])
        # the very model it tested (trained in channels_last: allow one image to round apart)
        assert abs(evaluate(model, data.test) - record["test_acc"]) <= 1 / len(data.test)
    monkeypatch.setattr(akd.export, "evaluate_final",
                        lambda *args: pytest.fail("trained although the final stage kept it"))
    info = export_run(run)
    best = max(result["students"], key=lambda s: s["kd_mean"])
    assert (info["source"], info["kd_mean_over_seeds"]) == (best["source"], best["kd_mean"])
    assert info["run_weights"] == f"weights/{best['source']}-1-kd-seed0-{result['budget']}.pt"


def test_default_choice_is_the_best_mean_kd_of_the_searched_arms(tmp_path):
    run = make_run(tmp_path / "run", tmp_path / "cache")
    config = load_config(run / "config.yaml")
    students = [{"source": source, "rank": 1, "arch": ARCHS[arch], "kd_mean": kd}
                for source, arch, kd in (("akd", "good", 0.70), ("nas", "nas", 0.75),
                                         ("reference", "fair", 0.90))]
    (run / "final.json").write_text(json.dumps({"students": students}))
    assert choose_student(RunDir(run), config)["source"] == "nas"  # never the reference
    assert choose_student(RunDir(run), config, source="akd")["arch"] == ARCHS["good"]
    assert choose_student(RunDir(run), config, source="reference")["arch"] == ARCHS["fair"]
    (run / "final.json").unlink()
    assert choose_student(RunDir(run), config, source="nas")["arch"] == ARCHS["nas"]


@pytest.mark.parametrize("setup, args, message", [
    (None, [], r"run directory '.*nope' does not exist"),
    ("empty", [], r"is not a finished search \(no config.yaml or trials.jsonl\)"),
    ("run", ["--seed", "2"], r"--seed 2 is not one of the run's final seeds 0..1"),
    ("run", ["--rank", "2"], r"--rank 2 is not one of the run's final students 1..1"),
    ("run", ["--rank", "0"], r"--rank 0 is not one of the run's final students 1..1"),
    ("run", ["--source", "reference"], r"has no reference student: the final stage picks it"),
])
def test_a_bad_run_or_choice_is_a_one_line_error(tmp_path, capsys, setup, args, message):
    run = tmp_path / "nope"
    if setup == "empty":
        run.mkdir()
    elif setup == "run":
        make_run(run, tmp_path / "cache")
    assert main([str(run), *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert re.search(message, error), error
    assert not (run / "export").exists()


def test_exports_that_differ_from_the_model_fail_and_publish_nothing(exported, tmp_path,
                                                                     monkeypatch):
    run, _ = exported
    monkeypatch.setattr(akd.export, "TOLERANCE", -1.0)  # no export can be that close
    with pytest.raises(ValueError, match=r"the exported pytorch_rebuilt, torchscript, onnx, "
                                         r"onnx_batch1 model does not reproduce the trained one"):
        export_run(run, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    checks = json.loads((tmp_path / "out.partial" / "student.json").read_text())["checks"]
    assert checks["onnx"]["ok"] is False and checks["pytorch_rebuilt"]["max_abs_diff"] == 0


def test_the_tolerance_scales_with_the_logits():
    from akd.export import compare
    large = np.array([[15000.0, 0.0], [0.0, 14000.0]])
    assert compare(large, large + 4e-3, TOLERANCE * 15000)["ok"]  # float32 rounding at 15,000
    assert not compare(large, large + 4e-3, TOLERANCE)["ok"]
    assert not compare(large, large[:, ::-1], TOLERANCE * 15000)["ok"]  # other classes
