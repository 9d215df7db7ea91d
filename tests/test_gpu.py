"""The GPU path: the prepared check's dry run (anywhere), device-resident data (anywhere), and the
CUDA tests proper (only where a GPU is; skipped with the reason elsewhere)."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, RUN_TIMEOUT, cuda, end_to_end

from search_spaces import build_model

from akd.data import Split
from akd.distill import TrainConfig, train


def _blobs(n: int, seed: int, device: str = "cpu") -> Split:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    images = torch.randn(n, 1, 8, 8, generator=g) + labels.view(-1, 1, 1, 1).float()
    return Split(images.to(device), labels.to(device))


def test_a_split_is_copied_to_a_device_once_and_is_itself_where_it_is():
    split = _blobs(16, 0)
    assert split.on("cpu")[0] is split.images  # no copy where it already is
    meta = split.on("meta")
    assert meta[0].device.type == "meta" and split.on("meta")[0] is meta[0]  # kept, not redone


def test_bf16_autocast_trains_and_is_checked():
    torch.manual_seed(0)
    model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
    result = train(model, _blobs(256, 0), _blobs(128, 1),
                   TrainConfig(epochs=2, batch_size=32, lr=0.05, precision="bf16"))
    assert result.status == "ok" and result.accuracy > 0.5
    with pytest.raises(ValueError, match=r"precision = 'fp16' is invalid; allowed: fp32, bf16"):
        TrainConfig(precision="fp16").check()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_check_says_in_one_line_that_there_is_no_gpu(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "gpu_check.py"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: no CUDA device here") and done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_step_that_would_start_after_the_time_limit_is_skipped_and_reported(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "gpu_check.py"),
                           "--dry-run", "--minutes", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 1  # the check did not do everything
    steps = json.loads((tmp_path / "report.json").read_text())["steps"]
    assert len(steps) == 6 and all(s["status"] == "skipped" for s in steps.values())
    assert "quick_end_to_end: skipped" in (tmp_path / "report.md").read_text()


@end_to_end
def test_the_gpu_check_dry_run_runs_every_step_and_reports(tmp_path):
    """--dry-run: the check's own code on the CPU at a tiny size; every step ok, the report's
    rates are its own counts over its own times."""
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "gpu_check.py"),
                           "--dry-run", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["device"] == "cpu" and report["torch"] == torch.__version__
    assert {name: step["status"] for name, step in report["steps"].items()} == {
        name: "ok" for name in ("quick_end_to_end", "gpu_throughput", "cpu_throughput",
                                "teacher_throughput", "precision", "latency_repeatability")}
    rows = report["steps"]["gpu_throughput"]["by_workers"]
    assert [r["workers"] for r in rows] == [1, 2]
    for row in rows + report["steps"]["cpu_throughput"]["by_workers"]:
        assert row["failed"] == 0 and row["students"] >= row["workers"]
        assert row["students_per_hour"] == pytest.approx(
            row["students"] / row["seconds"] * 3600, rel=0.01)
    assert (tmp_path / "quick" / "export" / "student.onnx").exists()
    text = (tmp_path / "report.md").read_text()
    assert "## Students trained per hour" in text and "| cpu | 2 | 1 |" in text


@cuda
def test_a_training_on_cuda_keeps_its_data_and_logits_on_the_gpu(tmp_path):
    from akd.distill import CachedTeacher, Teacher

    train_split, val = _blobs(256, 0), _blobs(128, 1)
    torch.manual_seed(0)
    net = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1).eval()
    teacher = CachedTeacher(Teacher(net, 0.0, "tiny", "test"), train_split,
                            TrainConfig(device="cuda"), tmp_path, progress=False)
    torch.manual_seed(0)
    model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1)
    result = train(model, train_split, val, TrainConfig(epochs=2, batch_size=32, lr=0.05,
                                                        alpha=0.5, device="cuda"),
                   teacher=teacher)
    assert result.status == "ok" and next(model.parameters()).is_cuda
    cached = train_split.on("cuda")
    assert cached[0].is_cuda and train_split.on("cuda")[0] is cached[0]  # moved once, kept
    on_gpu = teacher._on(0, torch.device("cuda"))  # the logits the training read, kept there
    assert on_gpu.is_cuda and teacher._on(1, torch.device("cuda")) is on_gpu


@cuda
def test_cuda_latency_is_timed_and_repeatable():
    from akd.latency.measure import measure_latency

    model = build_model("cn_r1_k3_s1_c8|cn_r1_k3_s2_c16", num_classes=3, in_channels=1).eval()
    medians = [measure_latency(model, (1, 28, 28), device="cuda").median_ms for _ in range(5)]
    assert all(m > 0 for m in medians)
    assert max(medians) < 3 * min(medians)


@cuda
@end_to_end
def test_the_quick_preset_runs_on_cuda(tmp_path):
    from akd.cli import main

    run = tmp_path / "run"
    assert main(["--config", "quick", "--out", str(run), "--set", "progress=false",
                 "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "latency.device=cuda",
                 "--set", "proxy.device=cuda", "--set", "final.training.device=cuda"]) == 0
    final = json.loads((run / "final.json").read_text())
    assert all(r["status"] == "ok" for s in final["students"] for r in s["runs"])


def test_the_dry_run_accepts_an_export_refused_only_for_an_untrained_student(tmp_path):
    """The dry run's few steps can leave a student whose logits reach millions (batch norm's
    running statistics far off), where ONNX and torch differ beyond the relative tolerance
    though every class agrees: the dry run goes on with the written files. A student whose
    classes differ, or any refusal outside the dry run, still fails."""
    from research.gpu_check import DRY, FULL, Check

    run = tmp_path / "quick"
    (run / "export.partial").mkdir(parents=True)

    def refused(scale, same):
        checks = {"images": 64, "tolerance": 1e-4 * scale, "logit_scale": scale,
                  "torchscript": {"max_abs_diff": 0.0, "same_argmax": True, "ok": True},
                  "onnx": {"max_abs_diff": 3e-3 * scale, "same_argmax": same, "ok": False}}
        (run / "export.partial" / "student.json").write_text(json.dumps({"checks": checks}))

    refused(2.7e7, True)
    assert Check(tmp_path, DRY, "cpu", None)._untrained_dry_run(run)
    assert not Check(tmp_path, FULL, "cuda", None)._untrained_dry_run(run)
    refused(2.7e7, False)
    assert not Check(tmp_path, DRY, "cpu", None)._untrained_dry_run(run)
    refused(30.0, True)  # a trained student's scale: a real refusal
    assert not Check(tmp_path, DRY, "cpu", None)._untrained_dry_run(run)
