"""Multi-fidelity schedules replayed on a ladder (research.studies.schedules): the bracket
arithmetic by hand, the pool and its noise by hand, seed draws, promotion order, the picks."""

import math

import numpy as np
import pytest

from akd.tables.ladder import Ladder
from research.replay_schedules import welch
from research.studies.schedules import (Bracket, Setting, Trainer, fitted_hyperband,
                                        hyperband_brackets, pool_from_ladder, replay)

COSTS = (3000, 12000, 48000, 96000)


def test_a_successive_halving_bracket_by_hand():
    bracket = Bracket(start=0, n=32, eta=4, top=3, top_seeds=2)
    assert bracket.sizes() == [32, 8, 2, 1]
    assert bracket.cost(COSTS, continued=False) == (32 * 3000 + 8 * 12000 + 2 * 48000
                                                   + 1 * 2 * 96000) == 480000
    assert Bracket(start=2, n=8, eta=4, top=3, top_seeds=2).sizes() == [8, 2]


def test_hyperbands_brackets_by_hand():
    """s_max = 3, eta = 4: ceil(4/4 * 64), ceil(4/3 * 16), ceil(4/2 * 4), ceil(4/1 * 1)."""
    brackets = hyperband_brackets(4, 4, 2)
    assert [(b.start, b.n, b.sizes()) for b in brackets] == [
        (0, 64, [64, 16, 4, 1]), (1, 22, [22, 5, 1]), (2, 8, [8, 2]), (3, 4, [4])]
    fitted = fitted_hyperband(COSTS, 4, 2, 960000)
    assert sum(b.cost(COSTS, continued=False) for b in fitted) <= 960000 and len(fitted) == 4
    with pytest.raises(ValueError, match="does not fit one round"):
        fitted_hyperband(COSTS, 4, 2, 700000)  # 4 brackets x 1 finalist x 2 seeds x 96,000


def _ladder(val: dict, test: dict) -> Ladder:
    """val[(student, rung)] and test[student] (top rung): two seeds each, rungs 0 and 1."""
    records = []
    for (student, rung), seeds in val.items():
        for seed, accuracy in enumerate(seeds):
            records.append({"arch": f"s{student}", "mode": "vgg", "status": "ok", "rung": rung,
                            "seed": seed, "val_acc": accuracy,
                            "test_acc": test[student][seed] if rung == 1 else 0.0,
                            "budget": {"train_images": 100, "epochs": 1 + 3 * rung}})
    return Ladder(tuple(records))


VAL = {(0, 0): (0.50, 0.52), (1, 0): (0.60, 0.62), (2, 0): (0.70, 0.72),
       (0, 1): (0.80, 0.82), (1, 1): (0.90, 0.92), (2, 1): (0.85, 0.87)}
TEST = {0: (0.80, 0.84), 1: (0.90, 0.92), 2: (0.86, 0.86)}


def test_the_pool_and_its_noise_by_hand():
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    assert pool.archs == ("s0", "s1", "s2") and pool.costs == (100, 400)
    assert pool.truth == pytest.approx((0.82, 0.91, 0.86)) and pool.best == pytest.approx(0.91)
    # deviations from each student's mean: +-0.02, +-0.01, 0; 6 values, 3 means: 3 dof
    within = math.sqrt((2 * 0.02 ** 2 + 2 * 0.01 ** 2) / 3)
    assert pool.noise == pytest.approx(within / math.sqrt(2))
    with pytest.raises(ValueError, match="replay needs at least 2"):
        pool_from_ladder(_ladder(VAL, TEST), "resnet")


def test_a_replayed_training_draws_each_seed_before_any_again():
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    trainer = Trainer(pool, np.random.default_rng(0))
    drawn = sorted(trainer.train(1, 0) for _ in range(2))
    assert drawn == [0.60, 0.62] and trainer.spent == 200
    assert trainer.train(1, 0) in (0.60, 0.62) and trainer.spent == 300
    trainer.train(0, 0)
    trainer.train(2, 0)
    # percentile of student 1 at rung 0 among the three students' means: one below, one above
    assert trainer.percentile(1, 0) == pytest.approx(0.5)
    assert trainer.percentile(2, 0) == pytest.approx(1.0)


def test_successive_halving_promotes_by_the_lower_rung_and_picks_by_the_top():
    """Rung 0 ranks s2 > s1 > s0; with eta 2 the bracket of 3 keeps the best 1 (s2 if asked)
    for the top rung, trained with 2 seeds. Whatever the controller asked, the promoted one is
    the best at rung 0 among those asked, and the pick is among those promoted."""
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    setting = Setting("random", "successive_halving", n=3, eta=2, top_seeds=2)
    bracket = Bracket(0, 3, 2, 1, 2)
    for seed in range(5):
        result = replay(pool, setting, bracket.cost(pool.costs, continued=False), seed)
        assert result["spent"] == 3 * 100 + 1 * 2 * 400 and result["pick"] in (0, 1, 2)
    # a controller that asked all three promotes s2 (best at rung 0) although s1 is best at the
    # top: successive halving inherits the low rung's ranking errors
    from controllers import get_controller

    for seed in range(40):
        asked = {c.decisions[0] for c in get_controller("random", [3], seed=seed).ask(3)}
        if asked == {0, 1, 2}:
            budget = bracket.cost(pool.costs, continued=False)
            assert replay(pool, setting, budget, seed)["pick"] == 2
            break
    else:
        pytest.fail("no seed asked all three students")


def test_flat_picks_the_best_mean_at_its_rung():
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    top = replay(pool, Setting("random", "flat", rung=1, batch=8), 400 * 12, 0)
    assert top["spent"] == 4800 and top["pick"] == 1  # every student seen at the top: s1 best
    assert top["within_noise"] and top["regret"] == pytest.approx(0.0)
    low = replay(pool, Setting("random", "flat", rung=0, batch=8), 100 * 30, 0)
    assert low["pick"] == 2 and low["regret"] == pytest.approx(0.91 - 0.86)


def test_welchs_interval_by_hand():
    """a = 1, 2, 3 against b = 1, 1, 1: the difference 1, its standard error sd(a) / sqrt(3) =
    1 / sqrt(3), Welch-Satterthwaite's degrees of freedom 2 (b adds no variance); two points
    that do not vary: the interval is the point."""
    from scipy.stats import t

    result = welch([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    half = t.ppf(0.975, 2) / math.sqrt(3)
    assert result["difference"] == 1.0
    assert result["ci95"] == pytest.approx([1 - half, 1 + half])
    assert welch([2.0, 2.0], [1.0, 1.0]) == {"difference": 1.0, "ci95": [1.0, 1.0]}
    assert welch([1.0], [1.0, 2.0]) == {"difference": None, "ci95": None}


def test_each_schedules_rules_are_compared_with_its_own_raw_rule():
    """Hyperband told ranks is set against Hyperband told raw values, not successive halving's,
    and so is BOHB's per-budget rule: the differences by hand (means 0.90 - 0.80, 0.70 - 0.60
    and 0.85 - 0.80, no variance, so the point), and the searches of the same seed that picked
    the same student."""
    from research.replay_schedules import compare, markdown

    def row(schedule, tell, truths, rung=0, picks=(1, 2)):
        return {"setting": f"{schedule} {tell}", "controller": "tpe", "schedule": schedule,
                "rung": rung, "tell": tell, "budget": 1000, "truths": truths, "picked": 2,
                "picks": list(picks), "truth": {"mean": float(np.mean(truths)), "ci95": None},
                "within_noise": 0.5}
    rows = [row("flat", "rank", [0.5, 0.5]), row("flat", "rank", [0.6, 0.6], rung=2),
            row("successive_halving", "rank", [0.9, 0.9]),
            row("successive_halving", "raw", [0.8, 0.8]),
            row("hyperband", "rank", [0.7, 0.7]), row("hyperband", "raw", [0.6, 0.6]),
            row("successive_halving", "per_budget", [0.85, 0.85], picks=(1, 0))]
    rows[2]["rank_vs_raw"] = {"difference": 9.0}  # a kept file's name from before: dropped
    result = {"rows": rows, "command": "replay", "seeds": 2, "ladder": "l", "mode": "vgg",
              "pool": {"students": 3, "costs": [10, 40, 160], "best": 0.9, "noise": 0.01}}
    compare(result)
    assert rows[2]["vs_raw"]["difference"] == pytest.approx(0.1)
    assert rows[4]["vs_raw"]["difference"] == pytest.approx(0.1)
    assert rows[4]["vs_raw"]["ci95"] == pytest.approx([0.1, 0.1])
    assert rows[6]["vs_raw"]["difference"] == pytest.approx(0.05)
    assert (rows[2]["vs_raw"]["same_pick"], rows[6]["vs_raw"]["same_pick"]) == (2, 1)
    assert "vs_raw" not in rows[3] and "vs_raw" not in rows[0]
    assert "rank_vs_raw" not in rows[2]
    text = markdown(result)
    assert ("Successive halving, rank rule minus raw rule: tpe +0.1000 [+0.1000, +0.1000] (same "
            "pick with the same search seed: 2)") in text
    assert "Successive halving, per_budget rule minus raw rule: tpe +0.0500" in text
    assert "Hyperband, rank rule minus raw rule: tpe +0.1000" in text


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1"], "--seeds 1: at least 2 searches per setting"),
    (["--budgets", "12x"], "--budgets '12x': expected training samples"),
    (["--controllers", "lstm,tpe"], "--controllers: unknown lstm"),
    (["--budgets", "10"], "does not fit one round of Hyperband"),
    (["--tells", "rank"], "--tells 'rank': every rule is compared with raw"),
    (["--tells", "raw,bohb"], "--tells 'raw,bohb': every rule is compared with raw"),
    (["--first-seed", "-1"], "--first-seed -1: a seed, >= 0"),
])
def test_bad_replay_settings_are_one_line_errors_before_anything_is_written(
        tmp_path, capsys, args, message):
    from research.replay_schedules import main

    out = tmp_path / "replay"
    assert main([*args, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_the_per_budget_replay_tells_tpe_each_rungs_mean():
    """A replayed bracket tells the tpe controller, for every candidate, its mean at each rung
    it reached (the live search's tell_rungs): by hand on the 3-student ladder."""
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    setting = Setting("tpe", "successive_halving", n=3, eta=2, top_seeds=2, tell="per_budget")
    told = []
    from controllers import TPEController

    original = TPEController.tell_rungs

    def spy(self, candidate, results, reward):
        told.append((candidate.decisions[0], dict(results), reward))
        return original(self, candidate, results, reward)
    TPEController.tell_rungs = spy
    try:
        replay(pool, setting, Bracket(0, 3, 2, 1, 2).cost(pool.costs, continued=False), 0)
    finally:
        TPEController.tell_rungs = original
    assert len(told) == 3 and sum(1 in results for _, results, _ in told) == 1
    for student, results, reward in told:
        low, high = sorted(VAL[student, 0])  # its seeds drawn at rung 0, or their mean
        assert low <= results[0] <= high and (1 in results or reward == results[0])
        if 1 in results:  # the promoted one: both seeds at the top, and it is told their mean
            assert results[1] == pytest.approx(sum(VAL[student, 1]) / 2) == reward


def test_the_per_budget_rule_is_tpes_and_a_multi_fidelity_schedules_only():
    pool = pool_from_ladder(_ladder(VAL, TEST), "vgg")
    for setting in (Setting("random", "successive_halving", n=3, eta=2, tell="per_budget"),
                    Setting("tpe", "flat", tell="per_budget")):
        with pytest.raises(ValueError, match="tell=per_budget is BOHB's TPE model"):
            replay(pool, setting, 10_000, 0)
    setting = Setting("tpe", "successive_halving", n=3, eta=2, top_seeds=2, tell="per_budget")
    result = replay(pool, setting, Bracket(0, 3, 2, 1, 2).cost(pool.costs, continued=False), 0)
    assert result["spent"] == 3 * 100 + 1 * 2 * 400 and result["pick"] in (0, 1, 2)
