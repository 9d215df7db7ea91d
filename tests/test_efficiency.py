"""The sample-efficiency benchmark's arithmetic on hand-made searches, and its refusals."""

import numpy as np
import pytest
from conftest import made_trial

from akd.errors import ConfigError
from akd.search import best_so_far
from research.studies.curves import trainings_to_reach
from research.studies.efficiency_bench import Options, summarize


def trials(*rewards):
    return [made_trial(r) for r in rewards]


def test_trainings_to_reach_the_reference_and_the_speedup_by_hand():
    runs = {"lstm_ppo-seed0": trials(0.1, 0.2, 0.3, 0.5),
            "lstm_ppo-seed1": trials(0.4, 0.4, 0.4, 0.6),
            "autokd-seed0": trials(0.5, None, 0.2, 0.2),
            "autokd-seed1": trials(0.1, 0.3, 0.6, 0.7)}
    result = summarize(runs, Options(("autokd", "lstm_ppo"), seeds=2), budget=4)
    assert best_so_far(runs["autokd-seed0"]) == [0.5, 0.5, 0.5, 0.5]
    assert trainings_to_reach([0.1, 0.3, 0.6, 0.7], 0.6) == 3
    autokd = result["strategies"]["autokd"]
    assert [r["reaches_reference_best_after"] for r in autokd["seeds"]] == [1, 3]
    assert autokd["mean_trainings_to_reach"] == 2.0 and autokd["speedup"] == 2.0
    assert autokd["difference"]["mean"] == pytest.approx(((0.5 - 0.5) + (0.7 - 0.6)) / 2)
    assert result["strategies"]["lstm_ppo"]["speedup"] == 1.0  # 4 / 4: its own best, at the end


@pytest.mark.parametrize("options, message", [
    (dict(strategies=("bayes",)), "unknown strategy bayes"),
    (dict(strategies=("autokd",)), "the reference strategy 'lstm_ppo' is not among autokd"),
    (dict(seeds=0), "seeds must be >= 1"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        Options(**options)


def test_on_the_table_a_candidate_is_its_nearest_student_and_the_search_is_cheap():
    from akd.components import build_space
    from akd.config import load_config
    from akd.tables import Table
    from research.studies.table_efficiency import Options as TableOptions, TablePool, run_on_table

    config = load_config(None, ["space.name=toy", "space.preset=null"])
    space = build_space(config)
    rng = np.random.default_rng(0)
    students = [space.sample(rng) for _ in range(12)]
    records = tuple({"arch": str(space.decode(d)), "decisions": d, "mode": "vgg", "seed": seed,
                     "status": "ok", "val_acc": 0.5 + 0.03 * i + 0.01 * seed, "latency_ms": 1.0}
                    for i, d in enumerate(students) for seed in (0, 1))
    pool = TablePool(Table(records), "vgg")
    assert pool.nearest(students[3]) == pool.archs.index(str(space.decode(students[3])))
    assert pool.score(students[11]) == pytest.approx(max(pool.mean_rewards))  # 0.83 + 0.005
    assert pool.reward(students[11]) in pool.seed_rewards[pool.nearest(students[11])]
    with pytest.raises(ValueError, match="no successful trainings of mode 'cls'; it has vgg"):
        TablePool(Table(records), "cls")
    result = run_on_table(Table(records), config, space,
                          TableOptions(("random", "lstm_ppo"), seeds=2, budget=20))
    for summary in result["strategies"].values():
        curve = summary["mean_curve"]
        assert len(curve) == 20 and curve == sorted(curve)  # the best so far never falls
    assert result["pool"] == 12 and result["strategies"]["lstm_ppo"]["reached"] == 2
    with pytest.raises(ConfigError, match="cannot search the table"):
        TableOptions(("autokd-nago", "lstm_ppo"))


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_and_reads_back_what_it_ran(tmp_path, capsys):
    import json
    import sys

    from akd.config import load_config
    from research import PRESETS, bench_efficiency

    argv = ["bench_efficiency.py", "--config", str(PRESETS / "efficiency" / "tiny.yaml"),
            "--strategies", "lstm_ppo,autokd-nago", "--seeds", "1", "--final-seeds", "1",
            "--out", str(tmp_path / "out"), "--set", f"cache_dir={tmp_path / 'cache'}",
            "--set", "progress=false", "--set", "reward.target_ms=auto",
            "--set", "reward.target_samples=4",
            # one worker of one thread (conftest.pytest_configure says why one thread)
            "--set", "evaluator.backend=process", "--set", "evaluator.workers=1",
            "--set", "evaluator.threads=1"]
    for _ in range(2):  # the second time, every search and final training is read back
        sys.argv = argv
        assert bench_efficiency.main() == 0
    result = json.loads((tmp_path / "out" / "efficiency.json").read_text())
    assert set(result["strategies"]) == {"lstm_ppo", "autokd-nago"}
    assert (tmp_path / "out" / "efficiency.png").stat().st_size > 0
    config = load_config(tmp_path / "out" / "autokd-nago-seed0" / "config.yaml")
    target = json.loads((tmp_path / "out" / "lstm_ppo-seed0" / "reward_target.json").read_text())
    # NAGO's search is rewarded against the MnasNet space's target: the same latency trade-off
    assert config.space.name == "nago" and config.reward.target_ms == target["target_ms"]
    finals = (tmp_path / "out" / "final" / "final_runs.jsonl").read_text().splitlines()
    assert len(finals) == 4  # 2 strategies x CLS and KD x 1 seed, once: not again on the rerun
    assert result["final"]["students"]["autokd-nago"]["arch"].startswith("nago:")
    assert "x fewer" in capsys.readouterr().out
