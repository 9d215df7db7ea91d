"""Train (or load from the cache) a teacher and print its test accuracy and training time.

    python experiments/train_teacher.py                 # the default teacher on Fashion-MNIST
    python experiments/train_teacher.py --teacher resnet --epochs 10
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from akd.data import DataConfig, default_cache_dir, load_dataset
from akd.distill import TEACHERS
from akd.distill import TeacherConfig, load_teacher, teacher_record


def main() -> None:
    default = TeacherConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=default.name, choices=sorted(TEACHERS))
    parser.add_argument("--dataset", default=DataConfig.name)
    parser.add_argument("--epochs", type=int, default=default.training.epochs)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    cache_dir = default_cache_dir()
    data = load_dataset(DataConfig(name=args.dataset), cache_dir)
    config = TeacherConfig(name=args.teacher,
                           training=dataclasses.replace(default.training, epochs=args.epochs))
    teacher = load_teacher(config, data, cache_dir)
    path = teacher.description.split(" ", 1)[1]
    record = teacher_record(path)
    print(f"{args.teacher} on {args.dataset}: test accuracy {teacher.test_accuracy:.4f}; "
          f"training took {record['seconds']:.0f} s on {args.threads} threads; this run took "
          f"{time.perf_counter() - start:.0f} s ({teacher.description})")


if __name__ == "__main__":
    main()
