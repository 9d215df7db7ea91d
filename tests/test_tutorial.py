"""docs/your-own-teacher.md, end to end at a tiny size: its commands, in its order, from an image
folder and a teacher trained outside akd to a prediction of the exported ONNX student."""

import json
import runpy
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import ROOT, RUN_TIMEOUT, end_to_end

EXAMPLE = ROOT / "examples" / "your_own_teacher"
TUTORIAL = ROOT / "docs" / "your-own-teacher.md"

# the tutorial's commands (as its reader types them), each run below with tiny sizes added
COMMANDS = [
    "python examples/your_own_teacher/make_image_folder.py --out data/fashion_png",
    "python examples/your_own_teacher/train_teacher.py --data data/fashion_png --out teacher.pt",
    "python experiments/run_akd.py --config examples/your_own_teacher/search.yaml --out runs/mine",
    "python experiments/analyze.py runs/mine",
    "python experiments/export.py runs/mine",
    "python runs/mine/export/predict.py",
]
TINY = ["search.trials=2", "search.batch_size=2", "evaluator.backend=serial",
        "evaluator.workers=1", "reward.target_samples=4", "latency.warmup=1", "latency.repeats=5",
        "latency.blocks=3", "final.seeds=1", "final.training.epochs=3", "progress=false"]


def test_the_tutorial_lists_the_commands_this_test_runs():
    text = TUTORIAL.read_text()
    for command in COMMANDS:
        assert command in text, command
    readme = (ROOT / "README.md").read_text().splitlines()
    assert any("docs/your-own-teacher.md" in line for line in readme[:30])  # the first screen


@end_to_end
def test_the_tutorial_runs_from_an_image_folder_to_an_onnx_prediction(tmp_path):
    def run(script, *args):
        done = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    run("examples/your_own_teacher/make_image_folder.py", "--out", "data/fashion_png",
        "--per-class", 12, "--download-to", tmp_path / "download")
    shown = run("examples/your_own_teacher/train_teacher.py", "--data", "data/fashion_png",
                "--out", "teacher.pt", "--epochs", 1, "--batch-size", 32)
    own_accuracy = float(shown.split("test accuracy ")[1].split()[0])
    overrides = [f"teacher.factory={EXAMPLE / 'teacher.py'}:resnet18_gray", *TINY]
    overrides.append(f"cache_dir={tmp_path / 'cache'}")
    shown = run("experiments/run_akd.py", "--config", EXAMPLE / "search.yaml", "--out",
                "runs/mine", *[a for o in overrides for a in ("--set", o)])
    # akd judges the teacher on the inputs it was trained on (teacher.normalization): the
    # accuracy its own script measured
    assert f"teacher user: test accuracy {own_accuracy:.4f}" in shown
    run("experiments/analyze.py", "runs/mine")
    assert (tmp_path / "runs" / "mine" / "report" / "report.md").exists()
    run("experiments/export.py", "runs/mine")
    export = tmp_path / "runs" / "mine" / "export"
    info = json.loads((export / "student.json").read_text())
    # grayscale PNGs at their own size: one channel, 28x28; the folders' class names
    assert info["input"]["shape"] == ["batch", 1, 28, 28]
    assert info["class_names"][:2] == ["Ankle boot", "Bag"]
    final = json.loads((tmp_path / "runs" / "mine" / "final.json").read_text())
    runs = [r for s in final["students"] for r in s["runs"]]
    assert runs and all(1 <= r["stopping"]["epochs"] <= 3 for r in runs)  # patience stopped
    config = yaml.safe_load((tmp_path / "runs" / "mine" / "config.yaml").read_text())
    assert config["data"]["val_size"] == "auto" and config["final"]["training"]["patience"] == 2
    image = next((tmp_path / "data" / "fashion_png" / "test" / "Bag").iterdir())
    predicted = subprocess.run([sys.executable, str(export / "predict.py"), str(image)],
                               capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    name, _, rest = predicted.stdout.strip().rpartition(" (")
    assert name.split(": ")[1] in info["class_names"] and 0 < float(rest.rstrip(")")) <= 1


@pytest.mark.parametrize("bad, message", [
    ("teacher.normalization=imagenet", "imagenet has 3 channels but imagefolder has 1"),
    ("teacher.weights=missing.pt", "does not exist"),
])
def test_the_tutorial_config_names_a_wrong_teacher_setting_in_one_line(bad, message, tmp_path):
    from PIL import Image

    for part in ("train", "test"):  # a tiny grayscale folder of the tutorial's shape
        for label in ("Bag", "Coat"):
            (tmp_path / "data" / "fashion_png" / part / label).mkdir(parents=True)
            for i in range(3):
                Image.new("L", (28, 28), 40 * i).save(
                    tmp_path / "data" / "fashion_png" / part / label / f"{i}.png")
    factory = runpy.run_path(str(EXAMPLE / "teacher.py"))["resnet18_gray"]
    torch.save(factory(num_classes=2).state_dict(), tmp_path / "teacher.pt")
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "run_akd.py"), "--config",
                           str(EXAMPLE / "search.yaml"), "--out", "runs/mine", "--set",
                           f"teacher.factory={EXAMPLE / 'teacher.py'}:resnet18_gray", "--set",
                           bad, "--set", "progress=false", "--set",
                           f"cache_dir={tmp_path / 'cache'}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs" / "mine").exists()  # nothing half-written
