"""The sample-efficiency benchmark's arithmetic on hand-made searches, and its refusals."""

import pytest

from akd.errors import ConfigError
from akd.studies.curves import best_so_far, trainings_to_reach
from akd.studies.efficiency_bench import Options, summarise


def trials(*rewards):
    return [{"status": "ok" if r is not None else "failed", "reward": r} for r in rewards]


def test_trainings_to_reach_the_reference_and_the_speedup_by_hand():
    runs = {"lstm_ppo-seed0": trials(0.1, 0.2, 0.3, 0.5),
            "lstm_ppo-seed1": trials(0.4, 0.4, 0.4, 0.6),
            "autokd-seed0": trials(0.5, None, 0.2, 0.2),
            "autokd-seed1": trials(0.1, 0.3, 0.6, 0.7)}
    result = summarise(runs, Options(("autokd", "lstm_ppo"), seeds=2), budget=4)
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
