"""Online teacher vs cached teacher logits: the same student, the same budget, both ways.

(a) the usual KD loop runs the teacher on every batch; (b) reads logits computed once per
(teacher, split, augmentation seed). Prints images/second of both, their ratio, both accuracies
and the one-off cost of filling the cache (paid once per search, not per candidate).

    python -m research.bench_kd_cache            # default teacher, Fashion-MNIST proxy split
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from search_spaces import build_model

from akd.common import run_command
from akd.data import DataConfig, default_cache_dir, load_dataset
from akd.distill import (TEACHERS, CachedTeacher, TeacherConfig, TrainConfig, load_teacher,
                         online_teacher, train)
from akd.errors import ConfigError

from .common import check_at_least, command_parser, flag_value

# The median-MAC student of 1,000 small28 samples (research/space_stats.py, seed 0).
MEDIAN_STUDENT = ("cn_r1_k3_s1_c8|ir_r1_k5_s2_e1_c8_noskip|cn_r1_k5_s1_c16_se0.25_noskip|"
                  "cn_r1_k3_s2_c12|ds_r1_k3_s2_c24_noskip|ir_r2_k3_s1_e1_c24|"
                  "ir_r3_k3_s2_e3_c36_noskip|cn_r2_k7_s1_c64_noskip|cn_r1_k1_s1_c192")


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("bench_kd_cache", __doc__)
    parser.add_argument("--teacher", default=TeacherConfig().name, help="zoo teacher name")
    parser.add_argument("--student", default=MEDIAN_STUDENT, help="architecture string")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--augment-padding", type=int, default=0,
                        help="random crop padding (0: none, the proxy stage's setting)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    return run_command(lambda: run(args))


def run(args) -> None:
    check_at_least({"--threads": (args.threads, 1)})
    config = TrainConfig(epochs=args.epochs, alpha=0.9, temperature=4.0,
                         augment_padding=args.augment_padding, device="cpu")
    flag_value("--epochs or --augment-padding", config.check)
    flag_value("--student", lambda: build_model(args.student, 10, 1))
    if args.teacher not in TEACHERS:
        raise ConfigError(f"--teacher {args.teacher!r}: a zoo teacher, one of "
                          f"{', '.join(TEACHERS)}")
    torch.set_num_threads(args.threads)
    cache_dir = default_cache_dir()
    data = load_dataset(DataConfig(), cache_dir)
    teacher = load_teacher(TeacherConfig(name=args.teacher), data, cache_dir)
    print(f"teacher {args.teacher}: test accuracy {teacher.test_accuracy:.4f} "
          f"({teacher.description})")

    def distil(signal) -> tuple[float, float]:
        torch.manual_seed(0)
        model = build_model(args.student, data.num_classes, data.input_size[0])
        result = train(model, data.proxy, data.val, config, teacher=signal, progress=True)
        return result.images_per_second, result.accuracy

    online_speed, online_acc = distil(online_teacher(teacher))
    with tempfile.TemporaryDirectory() as fresh:  # time the fill from scratch, not a warm cache
        cached = CachedTeacher(teacher, data.proxy, config, Path(fresh))
        start = time.perf_counter()
        cached.fill(args.epochs)
        fill_seconds = time.perf_counter() - start
        cached_speed, cached_acc = distil(cached)
    print(f"student {args.student}")
    print(f"proxy {len(data.proxy)} images x {args.epochs} epochs, KD alpha {config.alpha}, "
          f"T {config.temperature}, augment padding {args.augment_padding}, {args.threads} threads")
    print(f"(a) online teacher : {online_speed:8.0f} images/s  val accuracy {online_acc:.4f}")
    print(f"(b) cached logits  : {cached_speed:8.0f} images/s  val accuracy {cached_acc:.4f}")
    passes = len(data.proxy) * (args.epochs if args.augment_padding else 1)
    print(f"speed-up {cached_speed / online_speed:.2f}x; filling the cache took "
          f"{fill_seconds:.1f} s once ({passes} teacher forward passes)")


if __name__ == "__main__":
    raise SystemExit(main())
