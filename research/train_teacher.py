"""Train (or load from the cache) a teacher and print its test accuracy and training time.

    python -m research.train_teacher                 # the default teacher on Fashion-MNIST
    python -m research.train_teacher --teacher resnet --epochs 10
    python -m research.train_teacher --ship  # keep it in akd/distill/pretrained/ (the default)
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import time
from pathlib import Path

import torch

from akd.data import DataConfig, default_cache_dir, load_dataset
from akd.distill import PRETRAINED, TEACHERS, TeacherConfig, load_teacher, teacher_record
from akd.latency import device_name

from akd.common import run_command

from .common import check_at_least, command_line, command_parser, flag_value


def main(argv: list[str] | None = None) -> int:
    default = TeacherConfig()
    parser = command_parser("train_teacher", __doc__)
    parser.add_argument("--teacher", default=default.name, choices=sorted(TEACHERS))
    parser.add_argument("--dataset", default=DataConfig.name)
    parser.add_argument("--epochs", type=int, default=default.training.epochs)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ship", action="store_true",
                        help=f"copy the teacher into {PRETRAINED} with a record of how it was "
                             "made, so that akd ships it (for the default recipe only)")
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args) -> None:
    default = TeacherConfig()
    check_at_least({"--threads": (args.threads, 1)})
    config = TeacherConfig(name=args.teacher,
                           training=dataclasses.replace(default.training, epochs=args.epochs))
    flag_value("--epochs", config.training.check)
    start = time.perf_counter()
    cache_dir = default_cache_dir()
    data = load_dataset(DataConfig(name=args.dataset), cache_dir)  # an unknown one: refused
    torch.set_num_threads(args.threads)  # only now: a refused command changes nothing
    teacher = load_teacher(config, data, cache_dir)
    path = Path(teacher.description.split(" ", 1)[1])
    record = teacher_record(path)
    print(f"{args.teacher} on {args.dataset}: test accuracy {teacher.test_accuracy:.4f}; "
          f"training took {record['seconds']:.0f} s on {args.threads} threads; this run took "
          f"{time.perf_counter() - start:.0f} s ({teacher.description})")
    if args.ship:
        PRETRAINED.mkdir(exist_ok=True)
        if path.parent != PRETRAINED:
            shutil.copyfile(path, PRETRAINED / path.name)
        made = {"file": path.name, "test_accuracy": record["test_accuracy"],
                "training_seconds": record["seconds"], "threads": args.threads,
                "machine": device_name("cpu"), "python": platform.python_version(),
                "torch": torch.__version__, "recipe": record["recipe"],
                "command": command_line("research.train_teacher", None)}
        (PRETRAINED / f"{path.stem}.json").write_text(json.dumps(made, indent=1) + "\n")
        print(f"shipped as {PRETRAINED / path.name}")


if __name__ == "__main__":
    raise SystemExit(main())
