"""The final stage's statistics by hand: the AKD gain metric, its interval, the 2x2 table."""

import math

import pytest

from akd.common.stats import mean_ci
from akd.config import load_config
from akd.final import summarize


def run(source, mode, seed, acc):
    return {"source": source, "rank": 1, "arch": source,
            "mode": mode, "seed": seed, "test_acc": acc, "status": "ok", "error": None,
            "seconds": 1.0}


def student(source):
    return {"source": source, "rank": 1, "arch": f"arch-{source}", "latency_ms": 1.0,
            "params": 1, "flops": 1, "search_reward": 0.5, "search_val_acc": 0.5}


def test_mean_and_95_interval_by_hand():
    stats = mean_ci([0.01, 0.03, 0.02])
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(0.02)
    assert stats["std"] == pytest.approx(0.01)
    half = 4.302653 * 0.01 / math.sqrt(3)  # t(0.975, df=2)
    assert stats["ci95"] == pytest.approx([0.02 - half, 0.02 + half])
    assert mean_ci([0.5])["ci95"] is None and mean_ci([])["mean"] is None


def test_gain_metric_and_2x2_table_by_hand():
    config = load_config(None, ["final.seeds=2"])
    accs = {("akd", "cls"): (0.80, 0.82), ("akd", "kd"): (0.85, 0.86),
            ("nas", "cls"): (0.83, 0.83), ("nas", "kd"): (0.84, 0.85)}
    runs = [run(s, m, seed, a[seed]) for (s, m), a in accs.items() for seed in (0, 1)]
    result = summarize(config, [student("akd"), student("nas")], runs)
    # seed 0: (0.85 - 0.80) - (0.84 - 0.83) = 0.04; seed 1: (0.86 - 0.82) - (0.85 - 0.83) = 0.02
    assert result["gain"]["per_seed"] == pytest.approx([0.04, 0.02])
    assert result["gain"]["mean"] == pytest.approx(0.03)
    assert result["gain"]["same_architecture"] is False
    table = result["table_2x2"]
    assert table["distillation"]["trained_distillation"] == pytest.approx(0.855)
    assert table["distillation"]["trained_hard_label"] == pytest.approx(0.81)
    assert table["hard_label"]["trained_distillation"] == pytest.approx(0.845)
    assert table["hard_label"]["trained_hard_label"] == pytest.approx(0.83)


def test_a_failed_run_is_left_out_not_crashed_on():
    config = load_config(None, ["final.seeds=2"])
    runs = [run(s, m, seed, 0.8) for s in ("akd", "nas") for m in ("cls", "kd")
            for seed in (0, 1)]
    runs[0].update(status="failed", test_acc=None)  # akd cls seed 0
    result = summarize(config, [student("akd"), student("nas")], runs)
    assert result["gain"]["n"] == 1  # only seed 1 has all four numbers
    assert result["students"][0]["cls_mean"] == pytest.approx(0.8)


def test_the_final_test_sample_is_fixed_spread_and_in_order():
    import torch

    from akd.data import Split
    from akd.execution.workspace import _test_sample

    labels = torch.arange(1000) // 100  # sorted by class, as a user's folder may be
    split = Split(torch.zeros(1000, 1, 2, 2), labels)
    sample = _test_sample(split, 200)
    assert len(sample) == 200 and torch.equal(sample.labels, _test_sample(split, 200).labels)
    assert set(sample.labels.tolist()) == set(range(10))  # every class, not the first two
    assert bool((sample.labels[1:] >= sample.labels[:-1]).all())  # the split's own order kept
    assert _test_sample(split, 0) is split
