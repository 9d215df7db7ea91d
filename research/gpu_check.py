"""The prepared GPU check: akd's CUDA path end to end, and what a GPU buys at the demo's budget.

    python experiments/gpu_check.py                  # on a machine with one CUDA GPU (<= 8 min)
    python experiments/gpu_check.py --dry-run        # the same code on the CPU, at a tiny size
    python experiments/gpu_check.py --cpu-baseline   # this machine's CPU alone, for the ratio

Steps, each timed and reported even when another fails:

1. the quick preset on the device end to end: search, final stage, report, export (the ONNX model
   checked under onnxruntime, on CUDA where its CUDA provider is installed);
2. students trained per hour at the demo's proxy budget (5,000 images x 1 epoch, KD) with 1, 2, 4
   and 8 concurrent process workers on the GPU, and with 1, 2, 4, ... workers on the machine's
   CPU cores, by the same code (akd's process evaluator running the search's own candidate
   evaluation); with the GPU's sampled utilisation and the achieved FLOP/s;
3. the default teacher's (vgg) training throughput;
4. bf16 autocast against fp32 on the same students: speed and validation accuracy (paired);
5. CUDA latency's repeatability: the coefficient of variation of 10 measurements per student.

It writes ``report.json`` and ``report.md`` (the GPU, torch's version, the command) to ``--out``.
docs/gpu.md says how to run it on a bare, offline GPU machine and keeps its reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from akd.common import mean_ci, write_json, write_text

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "docs" / "gpu" / "cpu_baseline.json"  # this project's 2-core machine
# dense peaks from the vendors' data sheets (FLOP/s), for the share of the GPU the students use
PEAKS = {"H100": {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12},
         "H200": {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12},
         "A100": {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12}}


@dataclass(frozen=True)
class Sizes:
    """How much each step does: the real check's, or the dry run's tiny ones."""

    quick: tuple[str, ...]  # overrides of the quick preset
    proxy: tuple[str, ...]  # the throughput's budget: overrides of the demo preset
    gpu_workers: tuple[int, ...]
    students_per_worker: int  # timed students per GPU worker
    cpu_students_per_worker: int  # the same on the CPU, where a student takes seconds
    teacher_images: int
    precision_students: int
    latency_students: int
    latency_measurements: int


UNTRAINED_LOGITS = 1e4  # a dry-run student with logits beyond this never learned: see below

FULL = Sizes(quick=(), proxy=("data.proxy_size=5000", "proxy.epochs=1"),
             gpu_workers=(1, 2, 4, 8), students_per_worker=4, cpu_students_per_worker=1,
             teacher_images=20000,
             precision_students=6, latency_students=3, latency_measurements=10)
DRY = Sizes(quick=("search.trials=2", "search.batch_size=2", "reward.target_samples=4",
                   "latency.warmup=1", "latency.repeats=5", "latency.blocks=3", "final.seeds=1",
                   "final.train_images=200", "final.test_images=200", "data.val_size=200",
                   "data.proxy_size=200", "teacher.train_images=500"),
            proxy=("data.proxy_size=200", "data.val_size=200", "proxy.epochs=1",
                   "teacher.train_images=500"),
            gpu_workers=(1, 2), students_per_worker=1, cpu_students_per_worker=1,
            teacher_images=500,
            precision_students=2, latency_students=1, latency_measurements=3)
# the quick preset's teacher (VGG, 5,000 images, 1 epoch): trained by step 1, reused by the rest
QUICK_TEACHER = ("teacher.train_images=5000", "teacher.training.epochs=1",
                 "teacher.training.augment_padding=0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python experiments/gpu_check.py",
                                     description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[2:6]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="run every step on the CPU at a tiny size (what the tests run)")
    mode.add_argument("--cpu-baseline", action="store_true",
                      help=f"measure only the CPU throughput, into {BASELINE.relative_to(ROOT)}")
    parser.add_argument("--out", help="report folder (default: runs/gpu_check, "
                                      "runs/gpu_check_dry with --dry-run)")
    parser.add_argument("--data", help="folder of the Fashion-MNIST IDX files (default: "
                                       "Debian's, else gpu_bundle/fashion-mnist)")
    parser.add_argument("--minutes", type=float, default=8.0,
                        help="time limit: a step that would start after it is skipped and "
                             "reported as such (default 8)")
    args = parser.parse_args(argv)
    if not (args.dry_run or args.cpu_baseline) and not torch.cuda.is_available():
        print("error: no CUDA device here (torch.cuda.is_available() is False); "
              "--dry-run runs the same code on the CPU", file=sys.stderr)
        return 2
    out = Path(args.out or ("runs/gpu_check_dry" if args.dry_run else "runs/gpu_check"))
    out.mkdir(parents=True, exist_ok=True)
    sizes = DRY if args.dry_run else FULL
    if args.cpu_baseline:  # the number every GPU run is compared with: worth a larger sample
        sizes = dataclasses.replace(sizes, cpu_students_per_worker=4)
    check = Check(out, sizes,
                  "cpu" if (args.dry_run or args.cpu_baseline) else "cuda", _data_root(args.data),
                  args.minutes * 60)
    if args.cpu_baseline:
        result = check.step("cpu_throughput", check.cpu_throughput)
        write_json(BASELINE, {**check.environment(), "cpu_throughput": result,
                              "command": "python experiments/gpu_check.py --cpu-baseline"})
        print(f"wrote {BASELINE}")
        return 0
    check.run_all(command=" ".join(["python experiments/gpu_check.py", *(argv or sys.argv[1:])]))
    return 0 if all(r.get("status") == "ok" for r in check.results.values()) else 1


def _data_root(given: str | None) -> str | None:
    if given:
        return given
    bundled = ROOT / "gpu_bundle" / "fashion-mnist"
    return str(bundled) if bundled.is_dir() and not Path(
        "/usr/share/datasets/fashion-mnist").is_dir() else None


class Check:
    def __init__(self, out: Path, sizes: Sizes, device: str, data_root: str | None,
                 seconds: float = math.inf) -> None:
        self.out, self.sizes, self.device, self.seconds = out, sizes, device, seconds
        self.cache = out / "cache"
        self.base = [f"cache_dir={self.cache}", "progress=false"] + (
            [f"data.root={data_root}"] if data_root else [])
        self.results: dict[str, dict] = {}
        self.started = time.perf_counter()

    # --- running the steps -----------------------------------------------------------------

    def run_all(self, command: str) -> None:
        steps = [("quick_end_to_end", self.quick_end_to_end),
                 ("gpu_throughput", self.gpu_throughput),
                 ("teacher_throughput", self.teacher_throughput),
                 ("precision", self.precision),
                 ("latency_repeatability", self.latency_repeatability),
                 # last: the GPU is compared with the 2-core baseline kept in docs/gpu/; this
                 # machine's own cores are a second comparison
                 ("cpu_throughput", self.cpu_throughput)]
        for name, step in steps:  # most important first: a late step is the one skipped
            if time.perf_counter() - self.started > self.seconds:
                self.results[name] = {"status": "skipped", "seconds": 0.0,
                                      "error": f"the {self.seconds / 60:.0f}-minute limit was "
                                               "reached before it started"}
            else:
                self.step(name, step)
            self.write(command)

    def step(self, name: str, work) -> dict:
        print(f"[{time.perf_counter() - self.started:6.0f} s] {name} ...", flush=True)
        start = time.perf_counter()
        try:
            result = {"status": "ok", **work()}
        except Exception as error:  # one broken step must not hide the others' numbers
            where = traceback.extract_tb(error.__traceback__)[-1]
            result = {"status": "failed", "error": f"{type(error).__name__}: {error} "
                                                   f"({Path(where.filename).name}:{where.lineno})"}
        result["seconds"] = round(time.perf_counter() - start, 1)
        self.results[name] = result
        print(f"[{time.perf_counter() - self.started:6.0f} s] {name}: {result['status']}"
              + (f" ({result['error']})" if result["status"] != "ok" else ""), flush=True)
        return result

    def write(self, command: str) -> None:
        report = {**self.environment(), "command": command, "device": self.device,
                  "total_seconds": round(time.perf_counter() - self.started, 1),
                  "steps": self.results}
        write_json(self.out / "report.json", report)
        write_text(self.out / "report.md", markdown(report, _baseline()))

    def environment(self) -> dict:
        gpu = None
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                   "multiprocessors": props.multi_processor_count,
                   "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
        return {"torch": torch.__version__, "python": platform.python_version(),
                "cpu": _cpu_name(), "cores": os.cpu_count(), "gpu": gpu,
                "commit": _commit(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}

    def config(self, preset: str, *overrides: str):
        from akd.config import PRESETS, load_config

        return load_config(PRESETS / f"{preset}.yaml", [*self.base, *overrides])

    # --- step 1: the quick preset end to end -----------------------------------------------

    def quick_end_to_end(self) -> dict:
        from akd.cli import analyze_main, export_main, main as search_main

        run = self.out / "quick"
        device = [f"{key}={self.device}" for key in
                  ("proxy.device", "teacher.training.device", "final.training.device",
                   "latency.device")]
        args = ["--config", "quick", "--out", str(run),
                *[a for o in [*self.base, *device, *self.sizes.quick] for a in ("--set", o)]]
        if (run / "config.yaml").exists():
            args.append("--resume")
        times, folder = {}, run / "export"
        for name, command, command_args in (("search_and_final", search_main, args),
                                            ("report", analyze_main, [str(run)]),
                                            ("export", export_main, [str(run)])):
            start = time.perf_counter()
            code = command(command_args)
            times[name] = round(time.perf_counter() - start, 1)
            if code != 0 and name == "export" and self._untrained_dry_run(run):
                folder = run / "export.partial"  # the files are there; the check is moot
            elif code != 0:
                raise RuntimeError(f"{name} exited with {code}")
        final = json.loads((run / "final.json").read_text())
        student = json.loads((folder / "student.json").read_text())
        return {"seconds_by_part": times, "onnx_on_cuda": self._onnx_on_device(folder),
                "final_students": [(s["source"], s["arch"]) for s in final["students"]],
                "export_checks": student.get("checks")}

    def _untrained_dry_run(self, run: Path) -> bool:
        """Whether an export refused only because the dry run's student is untrained: a few
        steps leave batch norm's running statistics so far off that its logits reach millions
        and float32 kernels differ beyond the relative tolerance, though every class agrees. A
        trained student (the GPU run's) never gets here: its refusal fails the step."""
        if self.sizes is not DRY:
            return False
        path = run / "export.partial" / "student.json"
        checks = json.loads(path.read_text()).get("checks", {}) if path.exists() else {}
        return checks.get("logit_scale", 0) > UNTRAINED_LOGITS and all(
            check.get("same_argmax") for name, check in checks.items() if isinstance(check, dict))

    def _onnx_on_device(self, folder: Path) -> dict:
        """The exported ONNX model under onnxruntime's CUDA provider against the torch model on
        the device, on random inputs; a note where the provider is missing."""
        import onnxruntime

        from search_spaces import build_model

        providers = onnxruntime.get_available_providers()
        if self.device != "cuda" or "CUDAExecutionProvider" not in providers:
            return {"checked": False, "providers": providers,
                    "note": "no CUDA provider (onnxruntime-gpu); the export checked it on CPU"}
        info = json.loads((folder / "student.json").read_text())
        shape = info["input"]["shape"][1:]
        model = build_model((folder / "student.arch").read_text(), len(info["class_names"]),
                            shape[0], weights=folder / "student.pt").eval().cuda()
        x = torch.randn(16, *shape)
        with torch.inference_mode():
            expected = model(x.cuda()).cpu().numpy()
        session = onnxruntime.InferenceSession(str(folder / "student.onnx"),
                                               providers=["CUDAExecutionProvider"])
        got = session.run(None, {"images": x.numpy()})[0]
        scale = max(1.0, float(np.abs(expected).max()))
        return {"checked": True, "max_abs_difference": float(np.abs(got - expected).max()),
                "scale": scale}

    # --- step 2: students per hour ----------------------------------------------------------

    def gpu_throughput(self) -> dict:
        if self.device != "cuda":
            return {"note": "dry run: the GPU's workers measured on the CPU",
                    "by_workers": [self.students_per_hour(n, "cpu")
                                   for n in self.sizes.gpu_workers]}
        return {"by_workers": [self.students_per_hour(n, "cuda") for n in self.sizes.gpu_workers]}

    def cpu_throughput(self) -> dict:
        cores = os.cpu_count() or 1
        counts = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= cores]
        if self.sizes is DRY:
            counts = counts[:1]
        return {"cores": cores, "by_workers": [
            self.students_per_hour(n, "cpu", self.sizes.cpu_students_per_worker) for n in counts]}

    def students_per_hour(self, workers: int, device: str, per_worker: int | None = None) -> dict:
        """The search's own candidate evaluation (KD at the demo's proxy budget) on ``workers``
        process workers; the first candidate of each worker (start-up, CUDA set-up, cuDNN's
        kernel choice) is left out of the timing."""
        from akd.execution import make_evaluator, workspace
        from akd.search import Task, evaluate_candidate

        threads = max(1, (os.cpu_count() or 1) // workers)
        config = self.config("demo", *QUICK_TEACHER, *self.sizes.proxy,
                             f"proxy.device={device}", "evaluator.backend=process",
                             f"evaluator.workers={workers}", f"evaluator.threads={threads}")
        workspace(config)  # the teacher and its logits, before any worker reads them
        per_worker = per_worker or self.sizes.students_per_worker
        archs = self.archs(config, workers * (per_worker + 1))
        tasks = [Task("akd", 0, i, i, [], arch) for i, arch in enumerate(archs)]
        with make_evaluator(config, evaluate_candidate) as evaluator:
            for task in tasks[:workers]:  # warm-up, untimed
                evaluator.submit(task)
            while evaluator.in_flight:
                evaluator.next_finished()
            sampler = _UtilisationSampler(device)
            start = time.perf_counter()
            for task in tasks[workers:]:
                evaluator.submit(task)
            outcomes = []
            while evaluator.in_flight:
                outcomes.append(evaluator.next_finished()[1])
            wall = time.perf_counter() - start
            utilisation = sampler.stop()
        done = [o for o in outcomes if o.status == "ok"]
        dataset = workspace(config).dataset
        flops = sum(_training_flops(o.macs, len(dataset.proxy), len(dataset.val),
                                    config.proxy.epochs) for o in done)
        return {"workers": workers, "threads_per_worker": threads, "device": device,
                "students": len(outcomes), "failed": len(outcomes) - len(done),
                "seconds": round(wall, 4), "students_per_hour": round(len(done) / wall * 3600, 1),
                "achieved_tflops": round(flops / wall / 1e12, 4), "gpu_utilisation": utilisation}

    def archs(self, config, count: int) -> list[str]:
        from akd.components import build_space

        space = build_space(config)
        rng = np.random.default_rng(0)
        return [str(space.decode(space.sample(rng))) for _ in range(count)]

    # --- steps 3 to 5 ----------------------------------------------------------------------

    def teacher_throughput(self) -> dict:
        from akd.distill import TEACHERS, TrainConfig, train
        from akd.execution import workspace

        dataset = workspace(self.config("demo", *QUICK_TEACHER, *self.sizes.proxy)).dataset
        split = dataset.train.subset(torch.arange(self.sizes.teacher_images))
        rows = []
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            model = TEACHERS["vgg"](dataset.input_size[0], dataset.num_classes)
            result = train(model, split, dataset.val, TrainConfig(
                epochs=1, batch_size=128, lr=0.05, device=self.device, precision=precision))
            rows.append({"teacher": "vgg", "precision": precision, "status": result.status,
                         "images_per_second": round(result.images_per_second, 1),
                         "val_acc": result.accuracy})
        return {"images": len(split), "runs": rows}

    def precision(self) -> dict:
        """The same students trained as the search trains them, fp32 then bf16: time and
        validation accuracy, paired by student."""
        from akd.execution import train_student, workspace

        config = self.config("demo", *QUICK_TEACHER, *self.sizes.proxy,
                             f"proxy.device={self.device}")
        space = workspace(config)
        rows = []
        for arch in self.archs(config, self.sizes.precision_students):
            row = {"arch": arch}
            for precision in ("fp32", "bf16"):
                training = dataclasses.replace(space.training("akd"), precision=precision)
                outcome = train_student(arch, lambda: (space.dataset, 0, space.dataset.proxy,
                                                       space.dataset.val, training,
                                                       space.signal), None)
                row[precision] = {"status": outcome.status, "val_acc": outcome.accuracy,
                                  "seconds": round(outcome.seconds, 3)}
            rows.append(row)
        paired = [r for r in rows if r["fp32"]["status"] == r["bf16"]["status"] == "ok"]
        return {"students": rows,
                "accuracy_difference": mean_ci([r["bf16"]["val_acc"] - r["fp32"]["val_acc"]
                                                for r in paired]),
                "speedup": mean_ci([r["fp32"]["seconds"] / r["bf16"]["seconds"]
                                    for r in paired])}

    def latency_repeatability(self) -> dict:
        from search_spaces import build_model

        from akd.latency import measure_latency

        config = self.config("demo")
        rows = []
        for arch in self.archs(config, self.sizes.latency_students):
            model = build_model(arch, 10, 1).eval()
            medians = [measure_latency(model, (1, 28, 28), device=self.device).median_ms
                       for _ in range(self.sizes.latency_measurements)]
            rows.append({"arch": arch, "median_ms": medians,
                         "cv": float(np.std(medians, ddof=1) / np.mean(medians))})
        return {"device": self.device, "students": rows}


class _UtilisationSampler:
    """The GPU's busy share (nvidia-smi's utilisation, through torch and NVML) every half
    second until stopped; None on the CPU or without NVML."""

    def __init__(self, device: str) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = None
        if device == "cuda":
            try:
                torch.cuda.utilization()
            except Exception:  # no NVML bindings: report none rather than fail the step
                return
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(torch.cuda.utilization())

    def stop(self) -> dict | None:
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join()
        return {"mean_percent": round(float(np.mean(self.samples)), 1) if self.samples else None,
                "samples": len(self.samples)}


def _training_flops(macs: int | None, train_images: int, val_images: int, epochs: int) -> float:
    """A candidate's arithmetic: forward and backward (3 passes of 2 FLOPs per MAC) per
    training image and epoch, one forward per validation image."""
    if not macs:
        return 0.0
    return 2.0 * macs * (3 * train_images * epochs + val_images)


def _baseline() -> dict | None:
    return json.loads(BASELINE.read_text()) if BASELINE.exists() else None


def _cpu_name() -> str:
    from akd.latency import device_name  # the name every latency cache key carries

    return device_name("cpu").removeprefix("cpu: ")


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# --- the markdown report -----------------------------------------------------------------------

def markdown(report: dict, baseline: dict | None) -> str:
    gpu = report["gpu"]
    lines = ["# GPU check", "",
             f"`{report['command']}` on {gpu['name'] if gpu else 'no GPU'} "
             f"({report['cpu']}, {report['cores']} cores), torch {report['torch']}, "
             f"commit {report['commit']}, {report['date']}; {report['total_seconds']:.0f} s in all.",
             ""]
    steps = report["steps"]
    for name, result in steps.items():
        lines.append(f"- {name}: {result['status']}, {result['seconds']:.0f} s"
                     + (f" ({result['error']})" if result["status"] != "ok" else ""))
    lines += ["", "## Students trained per hour (demo proxy budget, KD)", "",
              "| device | workers | threads each | students | seconds | students / hour | "
              "achieved TFLOP/s | GPU busy |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = []
    for name in ("gpu_throughput", "cpu_throughput"):
        rows += steps.get(name, {}).get("by_workers", [])
    for row in rows:
        busy = row["gpu_utilisation"]["mean_percent"] if row.get("gpu_utilisation") else "-"
        lines.append(f"| {row['device']} | {row['workers']} | {row['threads_per_worker']} | "
                     f"{row['students']} | {row['seconds']} | {row['students_per_hour']} | "
                     f"{row['achieved_tflops']} | {busy} |")
    best_gpu = max((r["students_per_hour"] for r in steps.get("gpu_throughput", {})
                    .get("by_workers", []) if r["device"] == "cuda"), default=None)
    if baseline and best_gpu:
        best_cpu = max(r["students_per_hour"] for r in baseline["cpu_throughput"]["by_workers"])
        lines += ["", f"Best GPU rate against the 2-core baseline ({baseline['cpu']}, "
                      f"{best_cpu} students / hour, {baseline['date']}): "
                      f"**{best_gpu / best_cpu:.1f}x** (goal: 50x)."]
    if gpu and best_gpu:
        peak = next((p for key, p in PEAKS.items() if key in gpu["name"]), None)
        achieved = max(r["achieved_tflops"] for r in steps["gpu_throughput"]["by_workers"])
        if peak:
            lines.append(f"Achieved {achieved} TFLOP/s: {achieved * 1e12 / peak['fp32']:.2%} of the "
                         f"fp32 peak, {achieved * 1e12 / peak['tf32']:.2%} of the TF32 peak.")
    precision = steps.get("precision", {})
    if precision.get("status") == "ok":
        difference, speedup = precision["accuracy_difference"], precision["speedup"]
        lines += ["", "## bf16 autocast against fp32 (same students, paired)", "",
                  f"Validation accuracy bf16 - fp32: {_interval(difference)}; speed-up "
                  f"(fp32 time / bf16 time): {_interval(speedup, sign='')} over "
                  f"{difference['n']} students."]
    teacher = steps.get("teacher_throughput", {})
    if teacher.get("status") == "ok":
        lines += ["", "## Teacher training (vgg, one epoch)", ""]
        lines += [f"- {r['precision']}: {r['images_per_second']} images / s" for r in teacher["runs"]]
    latency = steps.get("latency_repeatability", {})
    if latency.get("status") == "ok":
        lines += ["", f"## Latency repeatability ({latency['device']}, batch 1)", ""]
        lines += [f"- CV {r['cv']:.3f} over {len(r['median_ms'])} measurements, median "
                  f"{np.median(r['median_ms']):.3f} ms: `{r['arch'][:60]}...`"
                  for r in latency["students"]]
    quick = steps.get("quick_end_to_end", {})
    if quick.get("status") == "ok":
        lines += ["", "## Quick preset end to end", "",
                  f"Seconds by part: {quick['seconds_by_part']}; ONNX on the device: "
                  f"{quick['onnx_on_cuda']}."]
    return "\n".join(lines) + "\n"


def _interval(summary: dict, sign: str = "+") -> str:
    if summary["mean"] is None:
        return "none"
    number = f"{{:{sign}.4f}}".format
    if summary["ci95"] is None:
        return number(summary["mean"])
    low, high = summary["ci95"]
    return f"{number(summary['mean'])} [{number(low)}, {number(high)}]"


if __name__ == "__main__":
    sys.exit(main())
