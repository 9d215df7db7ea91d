"""Export the best student of a run: state dict, block string, TorchScript and ONNX, checked.

    akd export runs/demo                            # the best student, to runs/demo/export
    akd export runs/demo --source nas --out nasnet  # (or python experiments/export.py ...)

Which student: by default the one in ``final.json`` with the highest mean KD test accuracy among
the searched arms (akd, nas), in its KD training of seed 0. The seed is fixed rather than the
seed with the best test accuracy: choosing among trainings by the test split would make the test
accuracy reported for the export an optimistic, selected number. Without ``final.json`` (final
stage disabled or not run yet) it is the akd arm's best trial by reward. ``--source``, ``--rank``
and ``--seed`` pick another of the final stage's trainings, ``--mode cls`` its training with
labels only (where KD did not help, that is the student to ship).

Its weights are the final stage's (``weights/`` of the run). When they are missing (a run from
before the final stage kept weights, or no final stage yet) that training is done now, by the
final stage's own code and budget, and recorded in the run as the final stage would have.

The export folder (default ``<run>/export``) gets ``student.pt`` (state dict), ``student.arch``
(block string), ``student.json`` (shapes, input normalisation, provenance, accuracy, cost, the
rebuild one-liner and the checks), ``student.torchscript.pt`` and ``student.onnx`` (dynamic batch).
They are written to ``<out>.partial`` first; only when the model rebuilt from the written files,
the TorchScript module and the ONNX model under onnxruntime all reproduce the trained model's
logits on test images within ``TOLERANCE`` (and its predicted classes) are they moved to ``<out>``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from search_spaces import build_model

from .arms import ARMS, arm_kind
from .common.io import check_out, load_cached, write_json, write_lines
from .config import RunConfig, cache_dir, config_from_dict, load_config
from .data import Dataset, load_dataset
from .errors import ExportError
from .final import MODES, final_records, run_key, searched_student, student_macs
from .final.stage import config_budget, evaluate_final, final_record, final_task
from .search import RunDir, top_trials

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # largest logit difference allowed between an export and the model, in units of
# the logits' scale (their largest magnitude, at least 1): float32 runtimes round relative to it,
# and a network of sum merges (NAGO's) can have logits in the thousands
CHECK_IMAGES = 64  # test images the exports are checked on
REBUILD = ('model = build_model(Path("student.arch").read_text(), num_classes={num_classes}, '
           'in_channels={in_channels}, weights="student.pt").eval()')
IMPORTS = "from pathlib import Path; from search_spaces import build_model"
# predict.py of the export: the student under onnxruntime on image files, with nothing of akd or
# torch, as a deployer runs it (what student.json says is all it needs)
PREDICT_EXAMPLE = '''"""Classify image files with the exported student under onnxruntime (no torch, no akd):

    python predict.py IMAGE [IMAGE ...]

It prepares each image as student.json says (its channels and input size, pixels / 255, the
normalisation) and prints the most likely class with its probability."""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

HERE = Path(__file__).resolve().parent
INFO = json.loads((HERE / "student.json").read_text())


def prepare(path):
    """One image as the student's input: (channels, height, width), normalised."""
    channels, height, width = INFO["input"]["shape"][1:]
    image = Image.open(path).convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    mean = np.array(INFO["normalization"]["mean"], dtype=np.float32)[:, None, None]
    std = np.array(INFO["normalization"]["std"], dtype=np.float32)[:, None, None]
    return (pixels - mean) / std


def main(paths):
    session = onnxruntime.InferenceSession(str(HERE / "student.onnx"),
                                           providers=["CPUExecutionProvider"])
    images = np.stack([prepare(path) for path in paths]).astype(np.float32)
    logits = session.run(["logits"], {"images": images})[0]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    for path, row in zip(paths, probabilities):
        best = int(row.argmax())
        print(f"{path}: {INFO['class_names'][best]} ({row[best]:.4f})")


if __name__ == "__main__":
    main(sys.argv[1:])
'''


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
               source: str | None = None, rank: int | None = None, seed: int = 0,
               mode: str = "kd") -> dict:
    """Export a student of the run in ``run_dir`` to ``out``, its training of ``mode`` (kd, or
    cls: labels only) and ``seed``; the content of student.json."""
    _require_onnx()  # before any training
    run = RunDir(run_dir)
    # a student's files replace an earlier export of one, never another directory's files
    out = check_out(out if out else run.path / "export", "student.json", "an exported student")
    config = run_config(run)
    if not 0 <= seed < config.final.seeds:
        raise ExportError(f"--seed {seed} is not one of the run's final seeds 0.."
                          f"{config.final.seeds - 1}")
    if mode not in MODES:
        raise ExportError(f"--mode {mode!r}; allowed: {', '.join(MODES)}")
    student = choose_student(run, config, source, rank, mode)
    weights, state, record = trained_weights(run, config, student, seed, mode)
    data = load_dataset(config.data, cache_dir(config))
    try:
        model = build_model(student["arch"], data.num_classes, data.input_size[0],
                            weights=state).eval()
    except ValueError as error:  # weights that do not fit the architecture
        raise ExportError(f"{weights}: {error}") from None
    staging = out.with_name(out.name + ".partial")
    info = describe(run, config, data, model, student, record)
    stage(staging, model, data.test.images[:CHECK_IMAGES], info)
    out.mkdir(parents=True, exist_ok=True)
    for path in staging.iterdir():
        os.replace(path, out / path.name)
    staging.rmdir()
    return {**info, "folder": str(out)}


def stage(folder: Path, model: torch.nn.Module, images: torch.Tensor, info: dict) -> None:
    """Write every file of the export to ``folder`` and check them on ``images``; ExportError
    when an exported model does not reproduce ``model``."""
    shutil.rmtree(folder, ignore_errors=True)  # what a failed export left
    folder.mkdir(parents=True)
    write_files(folder, model, info["arch"], images)
    info["checks"] = check_files(folder, model, images)
    write_json(folder / "student.json", info)
    failed = [name for name, check in info["checks"].items()
              if isinstance(check, dict) and not check["ok"]]
    if failed:
        raise ExportError(f"the exported {', '.join(failed)} model does not reproduce the trained "
                          f"one within {info['checks']['tolerance']:g} (see checks in "
                          f"{folder / 'student.json'})")


def run_config(run: RunDir) -> RunConfig:
    """The run's config, with the final budget its final stage used when it has one."""
    if not run.path.is_dir():
        raise ExportError(f"run directory {str(run.path)!r} does not exist; pass the --out of a "
                          "run_akd.py run")
    if not run.config.is_file() or not run.trials.is_file():
        raise ExportError(f"{run.path} is not a finished search (no config.yaml or trials.jsonl); "
                          "run experiments/run_akd.py first")
    config = load_config(run.config)
    final = run.path / "final.json"
    if final.exists():  # --final-only may have changed the final budget after the search
        config = config_from_dict({**config.to_dict(), "final": _read_final(final)["final"]})
    return config


def choose_student(run: RunDir, config: RunConfig, source: str | None = None,
                   rank: int | None = None, mode: str = "kd") -> dict:
    """The student to export (a final.json student, or one built from a trial); see the module
    docstring for the rule (``mode``'s mean test accuracy decides between the arms)."""
    final = run.path / "final.json"
    students = _read_final(final)["students"] if final.exists() else []
    if source is None and rank is None:
        key = f"{mode}_mean"
        scored = [s for s in students if s["source"] in ARMS and s.get(key) is not None]
        if scored:  # the first of equals: final.json lists akd before nas
            return max(scored, key=lambda s: s[key])
    # an arm that distils, since the export is the distilled student; else the only arm
    source = source or next((arm for arm in config.search.arms if arm_kind(arm).distills),
                            config.search.arms[0])
    rank = 1 if rank is None else rank
    if not 1 <= rank <= config.final.top_k:
        raise ExportError(f"--rank {rank} is not one of the run's final students 1.."
                          f"{config.final.top_k} (final.top_k)")
    for student in students:
        if (student["source"], student["rank"]) == (source, rank):
            return student
    if source == "reference":
        raise ExportError(f"{run.path} has no reference student: the final stage picks it; run "
                          f"experiments/run_akd.py --out {run.path} --final-only first")
    if source not in config.search.arms:
        raise ExportError(f"--source {source}: the run searched with "
                          f"{', '.join(config.search.arms)} only")
    best = top_trials([t for t in run.read_trials() if t.arm == source], rank)
    if len(best) < rank:
        raise ExportError(f"arm {source} of {run.path} has {len(best)} successful trials, so no "
                          f"student of rank {rank}")
    return searched_student(source, rank, best[-1])


def trained_weights(run: RunDir, config: RunConfig, student: dict, seed: int, mode: str = "kd"
                    ) -> tuple[Path, dict, dict]:
    """The state-dict file of ``student``'s training of ``mode`` and ``seed``, the state dict
    (read once) and its final_runs.jsonl record; trained now, the final stage's way, when the run
    does not hold it."""
    task = final_task(run, student["source"], student["rank"], student["arch"], mode, seed,
                      student.get("kd"), config_budget(config))
    done = {run_key(r): r for r in final_records(run.path)}  # the latest line wins
    record = done.get(task.key())
    # a weights file that does not load (cut short by a crash) is set aside and trained again
    kept = run.path / record["weights"] if record and record.get("weights") else None
    state = load_cached(kept) if kept else None
    if state is not None:
        return kept, state, record
    log.info(f"{run.path} holds no trained weights of {_name(student)} ({mode.upper()}, seed "
             f"{seed}); "
             f"training it now with the run's final budget (final.training.epochs = "
             f"{config.final.training.epochs}, final.train_images = {config.final.train_images})")
    outcome = evaluate_final(task, config)
    if outcome.status != "ok":
        raise ExportError(f"training {_name(student)} ({mode.upper()}, seed {seed}) failed: "
                          f"{outcome.error}")
    record = final_record(task, outcome)
    done[task.key()] = record  # replaces a record without weights (from before they were kept)
    write_lines(run.final_runs, list(done.values()))
    return Path(task.save_to), torch.load(task.save_to, map_location="cpu", weights_only=True), \
        record


def write_files(folder: Path, model: torch.nn.Module, arch: str, example: torch.Tensor) -> None:
    """state dict, block string, TorchScript and ONNX (batch dimension dynamic) of ``model``."""
    torch.save(model.state_dict(), folder / "student.pt")
    (folder / "student.arch").write_text(arch)  # no newline: the one-liner parses it as it is
    (folder / "predict.py").write_text(PREDICT_EXAMPLE)
    with warnings.catch_warnings():  # torch.jit is deprecated, yet what C++ and mobile load
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(model).save(str(folder / "student.torchscript.pt"))
    torch.onnx.export(model, (example,), folder / "student.onnx", input_names=["images"],
                      output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                      dynamo=True, external_data=False, verbose=False)


def check_files(folder: Path, model: torch.nn.Module, images: torch.Tensor) -> dict:
    """How far each written model's logits on ``images`` are from ``model``'s."""
    import onnxruntime

    with torch.inference_mode():
        expected = model(images).numpy()
        rebuilt = build_model((folder / "student.arch").read_text(),
                              num_classes=expected.shape[1], in_channels=images.shape[1],
                              weights=folder / "student.pt").eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.load(str(folder / "student.torchscript.pt"))
        session = onnxruntime.InferenceSession(str(folder / "student.onnx"),
                                               providers=["CPUExecutionProvider"])
        outputs = {"pytorch_rebuilt": rebuilt(images).numpy(),
                   "torchscript": scripted(images).numpy(),
                   "onnx": session.run(None, {"images": images.numpy()})[0],
                   # a single image: the batch dimension really is dynamic
                   "onnx_batch1": session.run(None, {"images": images[:1].numpy()})[0]}
    scale = max(1.0, float(np.abs(expected).max()))
    checks: dict = {"images": len(images), "tolerance": TOLERANCE * scale, "logit_scale": scale}
    for name, output in outputs.items():
        checks[name] = compare(expected[:len(output)], output, TOLERANCE * scale)
    return checks


def compare(expected: np.ndarray, output: np.ndarray, tolerance: float = TOLERANCE) -> dict:
    """Largest absolute difference and agreement of predicted classes. Images whose two top
    logits are within twice the tolerance may swap classes without anything being wrong."""
    diff = float(np.abs(expected - output).max())
    top2 = np.sort(expected, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * tolerance
    same = bool((expected.argmax(1) == output.argmax(1))[decided].all())
    return {"max_abs_diff": diff, "same_argmax": same, "ok": diff <= tolerance and same}


def describe(run: RunDir, config: RunConfig, data: Dataset, model: torch.nn.Module,
             student: dict, record: dict) -> dict:
    """student.json without its checks: what rebuilds, deploys and explains the student."""
    shape = {"num_classes": data.num_classes, "in_channels": data.input_size[0]}
    return {
        "arch": student["arch"], **shape, "input_size": list(data.input_size),
        "dropout": model.dropout.p, "dataset": data.name,
        "class_names": list(data.class_names),  # label i is class_names[i]
        "input": {"name": "images", "shape": ["batch", *data.input_size], "dtype": "float32",
                  "layout": "NCHW", "channels": "grayscale" if data.input_size[0] == 1
                  else "RGB, in that order" if data.input_size[0] == 3 else "as the dataset's"},
        "normalization": {"mean": list(data.mean), "std": list(data.std),
                          "apply": "input = (image - mean) / std per channel, image as the "
                                   "dataset loader gives it (pixels / 255 for image datasets), "
                                   "shape (batch, *input_size)"},
        "rebuild": f"{IMPORTS}; {REBUILD.format(**shape)}",
        "files": {"weights": "student.pt", "arch": "student.arch",
                  "torchscript": "student.torchscript.pt", "onnx": "student.onnx",
                  "example": "predict.py: the ONNX model under onnxruntime on image files"},
        "source": student["source"], "rank": student["rank"], "mode": record["mode"],
        "seed": record["seed"], "teacher": config.teacher.name,
        "test_acc": record["test_acc"], "kd_mean_over_seeds": student.get("kd_mean"),
        "cls_mean_over_seeds": student.get("cls_mean"),
        "latency_ms": student["latency_ms"], "params": student["params"],
        "macs": student_macs(student), "run": str(run.path), "run_weights": record["weights"],
    }


def summary(info: dict) -> str:
    checks = info["checks"]
    diffs = ", ".join(f"{name} {check['max_abs_diff']:.2g}" for name, check in checks.items()
                      if isinstance(check, dict))
    return "\n".join([
        f"exported {_name(info)}, trained with "
        f"{'KD' if info['mode'] == 'kd' else 'labels only'} (seed {info['seed']}): test accuracy "
        f"{info['test_acc']:.4f}, {info['latency_ms']:.3f} ms, {info['params'] / 1e3:.1f}k "
        f"params, {info['macs'] / 1e6:.2f} MMACs",
        f"  architecture  {info['arch']}",
        f"  files         {info['folder']}/student.{{pt,arch,json,torchscript.pt,onnx}}, "
        "predict.py",
        f"  checks        max |logit diff| on {checks['images']} test images (tolerance "
        f"{checks['tolerance']:g}): {diffs}",
        f"  rebuild       {info['rebuild']}"])


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxscript", "onnxruntime")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"exporting needs {', '.join(missing)}: pip install -e '.[export]' "
                          "(make installs it)")


def _name(student: dict) -> str:
    return f"{student['source']} #{student['rank']}"


def _read_final(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ExportError(f"{path} is not valid JSON ({error}); rerun the final stage with "
                          "run_akd.py --final-only") from None
