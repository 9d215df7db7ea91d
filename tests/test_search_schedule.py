"""The live multi-fidelity search (search.schedule): the bracket arithmetic and the promotions by
hand, what the controller is told, the results a search reports, and a successive-halving search
end to end through kill -9 and --resume and into the final stage."""

import json
import math
import subprocess

import pytest
import torch
from conftest import RUN_TIMEOUT, needs_fashion_mnist

from akd.cli import analyze_main, main
from research.live_schedules import main as live_main
from search_spaces import get_space

from akd.config import RewardConfig, ScheduleConfig, load_config
from akd.errors import ConfigError
from akd.search import Trial, TrialStatus, top_trials
from akd.search.first_rung import calibrated_table, table_error
from akd.search.schedule import (Bracket, Training, asha_promotion, make_plan, pending_trainings,
                                 screened_values, told_values)


def trial(candidate, rung, reward, seed=0, step=0, ok=True):
    return Trial("akd", step, candidate, candidate, f"arch{candidate}", [candidate],
                 reward if ok else None, 1.0, reward if ok else 0.0, 10, 10,
                 TrialStatus.OK if ok else TrialStatus.FAILED, None if ok else "boom", 1.0,
                 rung=rung, seed=seed, epochs=None, samples=None)


def test_a_continued_brackets_cost_and_the_plan_by_hand():
    """Rungs of 1, 4 and 16 epochs, eta 4, 8 candidates: 8 trained 1 epoch, 2 continued 3 more,
    1 continued 12 more and its second seed 16 from scratch: 42 epochs of the proxy images."""
    bracket = Bracket(0, 8, 4, 2, 2)
    assert bracket.sizes() == [8, 2, 1]
    assert bracket.cost([1, 4, 16]) == 8 + 2 * 3 + 12 + 16 == 42
    schedule = ScheduleConfig("successive_halving", [1, 4, 16], 4, 2)
    plan = make_plan(schedule, 8, 100 * 5000, 5000)  # two of 42 x 5,000 fit, a third does not
    assert plan.count == 2 and plan.samples() == 2 * 42 * 5000
    assert plan.trainings() == 2 * (8 + 2 + 1 + 1)
    # hyperband scaled to 8 candidates in its most exploratory bracket (textbook 16, 6, 3)
    hyperband = make_plan(ScheduleConfig("hyperband", [1, 4, 16], 4, 2), 8, 10 ** 9, 5000)
    assert [(b.start, b.n) for b in hyperband.brackets] == [(0, 8), (1, 3), (2, 2)]
    assert hyperband.bracket(4) == hyperband.brackets[1]
    with pytest.raises(ConfigError, match="does not fit one successive_halving bracket "
                                          r"\(210,000 samples"):
        make_plan(schedule, 8, 200_000, 5000)


def test_promotions_go_to_the_best_reward_and_continue_the_chain():
    """Four candidates, eta 2, rungs 1, 2 and 4 epochs: each rung's trainings by hand."""
    schedule = ScheduleConfig("successive_halving", [1, 2, 4], 2, 2)
    plan = make_plan(schedule, 4, 10 ** 9, 100)
    bracket = plan.bracket(0)
    candidates = [0, 1, 2, 3]
    assert pending_trainings(plan, bracket, candidates, []) == [
        Training(c, 0, 0, 1, 0) for c in candidates]
    done = [trial(0, 0, 0.5), trial(1, 0, 0.7), trial(2, 0, 0.9, ok=False), trial(3, 0, 0.6)]
    # candidate 2 failed: never promoted, whatever it was told
    assert pending_trainings(plan, bracket, candidates, done[:3]) == [Training(3, 0, 0, 1, 0)]
    assert pending_trainings(plan, bracket, candidates, done) == [
        Training(1, 1, 0, 2, 1), Training(3, 1, 0, 2, 1)]
    done += [trial(1, 1, 0.6), trial(3, 1, 0.8)]
    assert pending_trainings(plan, bracket, candidates, done) == [
        Training(3, 2, 0, 4, 2), Training(3, 2, 1, 4, 0)]  # the chain, and a second seed
    done += [trial(3, 2, 0.84), trial(3, 2, 0.80, seed=1)]
    assert pending_trainings(plan, bracket, candidates, done) == []

    assert told_values(bracket, candidates, done, "raw") == pytest.approx(
        {0: 0.5, 1: 0.6, 2: 0.0, 3: 0.82})
    # rank: (rung + share of the others at that rung below it) / 3 rungs
    assert told_values(bracket, candidates, done, "rank") == pytest.approx(
        {0: (0 + 0 / 2) / 3, 1: (1 + 0 / 1) / 3, 2: 0.0, 3: (2 + 0) / 3})
    # a later bracket's candidate stopped at rung 0 above both earlier ones there
    later = done + [trial(9, 0, 0.65, step=1)]
    assert told_values(bracket, [9], later, "rank")[9] == pytest.approx((0 + 2 / 3) / 3)


def test_screened_out_candidates_are_told_as_the_rung_below_the_lowest_by_hand():
    """Screening kept 3 of a bracket's candidates out (rungs 0..2): raw, their predicted reward;
    rank, rung -1 plus their percentile among every screened-out candidate so far, over 3
    rungs, so below any trained candidate (whose rank values start at 0)."""
    bracket = Bracket(0, 4, 2, 2, 2)

    def predicted(candidate, reward, step=1):
        return Trial("akd", step, candidate, candidate, f"arch{candidate}", [candidate], None,
                     1.0, reward, 10, 10, TrialStatus.PREDICTED, None, 0.0)
    earlier = [predicted(0, 0.40, step=0), predicted(1, 0.60, step=0)]
    mine = [predicted(5, 0.50), predicted(6, 0.70), predicted(7, 0.50)]
    assert screened_values(bracket, mine, earlier + mine, "raw") == {5: 0.5, 6: 0.7, 7: 0.5}
    ranked = screened_values(bracket, mine, earlier + mine, "rank")
    # 5: of the 4 others, 0.40 below, 0.50 tied (half): 1.5 / 4; 6: 4 of 4 below; 7 as 5
    assert ranked == pytest.approx({5: (-1 + 1.5 / 4) / 3, 6: (-1 + 4 / 4) / 3,
                                    7: (-1 + 1.5 / 4) / 3})
    assert max(ranked.values()) <= 0 <= min(told_values(bracket, [9], [trial(9, 0, 0.1)],
                                                        "rank").values())
    # a hyperband bracket starting at rung 1: screened-out candidates rank as rung 0
    assert screened_values(Bracket(1, 2, 2, 2, 2), mine[:1], mine[:1], "rank") == {5: 0.0}


def test_asha_promotes_the_best_waiting_candidate_of_the_highest_rung_by_hand():
    """eta 2: a rung with n results lets its best n // 2 go on, the highest rung first; a
    candidate already started above waits no more; a failed chain never goes on."""
    plan = make_plan(ScheduleConfig("successive_halving", [1, 2, 4], 2, 2), 4, 10 ** 9, 100)
    rung0 = [trial(0, 0, 0.5), trial(1, 0, 0.7), trial(2, 0, 0.6), trial(3, 0, 0.4),
             trial(4, 0, 0.9, ok=False)]
    assert asha_promotion(plan, rung0[:1], set()) is None  # 1 result: 1 // 2 = 0 go on
    assert asha_promotion(plan, rung0, set()) == (1, 1)
    assert asha_promotion(plan, rung0, {(1, 1)}) == (2, 1)
    assert asha_promotion(plan, rung0, {(1, 1), (2, 1)}) is None
    rung1 = rung0 + [trial(1, 1, 0.8)]
    assert asha_promotion(plan, rung1, {(1, 1), (2, 1)}) is None  # rung 1: 1 // 2 = 0
    rung1 += [trial(2, 1, 0.75)]
    assert asha_promotion(plan, rung1, {(1, 1), (2, 1)}) == (1, 2)  # the highest rung first
    # to the top: the chain continued and a second seed from scratch
    assert plan.trainings_of(1, 2) == [Training(1, 2, 0, 4, 2), Training(1, 2, 1, 4, 0)]
    assert plan.training_cost(Training(1, 2, 0, 4, 2)) == 200


def test_a_multi_fidelity_search_reports_its_top_rung_by_the_mean_of_seeds():
    trials = [trial(0, 0, 0.5), trial(1, 0, 0.7), trial(1, 1, 0.90), trial(1, 1, 0.80, seed=1),
              trial(2, 0, 0.95), trial(3, 1, 0.86), trial(3, 1, 0.82, seed=1)]
    best = top_trials(trials, 5)  # rung 0's 0.95 is no result: it never reached the top
    assert [(t.candidate_id, t.seed) for t in best] == [(1, None), (3, None)]
    assert best[0].val_acc == pytest.approx(0.85) and best[1].reward == pytest.approx(0.84)
    assert best[0].seconds == 2.0


def test_the_first_rungs_table_is_scaled_to_the_measurements_and_read_back(tmp_path):
    """The lookup table times the median measured/predicted ratio over the reward target's
    sample (here exactly 2), recorded in the run and read back on resume without measuring."""
    config = load_config(None, ["search.schedule.name=successive_halving",
                                "search.schedule.first_rung_latency=table",
                                "reward.target_samples=5"])
    space = get_space("mnasnet", preset="small28")
    measured = []

    def measure(arch):
        measured.append(arch)
        return 2.0 * len(arch) / 100

    def predict(arch):
        return len(arch) / 100

    table = calibrated_table(config, space, measure, predict, tmp_path)
    assert table("x" * 50) == pytest.approx(1.0) and len(measured) == 5
    record = json.loads((tmp_path / "latency_table.json").read_text())
    assert record["scale"] == pytest.approx(2.0) and len(record["archs"]) == 5
    again = calibrated_table(config, space, lambda arch: 1 / 0, predict, tmp_path)
    assert again("x" * 50) == pytest.approx(1.0) and len(measured) == 5
    with pytest.raises(ConfigError, match="needs latency.where: driver and latency.mode: "
                                          "measured"):
        load_config(None, ["search.schedule={name: hyperband, first_rung_latency: table}",
                           "latency.mode=table"])


def test_the_tables_error_against_the_measurements_by_hand():
    """Two promoted candidates, the table 10% over and 20% under; MnasNet's soft reward (w =
    -0.07) turns those into |1.1^-0.07 - 1| and |0.8^-0.07 - 1|."""
    reward = RewardConfig(target_ms=1.0, constraint="soft")
    error = table_error([(1.1, 1.0), (0.8, 1.0)], reward)
    assert error["candidates"] == 2 and error["latency_max_error"] == pytest.approx(0.2)
    assert error["latency_median_error"] == pytest.approx(0.15)
    assert error["reward_max_error"] == pytest.approx(abs(0.8 ** -0.07 - 1))
    assert error["reward_median_error"] == pytest.approx(
        (abs(1.1 ** -0.07 - 1) + abs(0.8 ** -0.07 - 1)) / 2)
    assert table_error([], reward) is None


@needs_fashion_mnist
@pytest.mark.slow
def test_successive_halving_end_to_end_through_kill_9_and_resume(
        cache, tmp_path, quick_command, kill_9_after_three_trials):
    """A bracket of 2 candidates per arm (rungs of 1 and 2 epochs on 1,000 images, eta 2):
    each trial records its rung, seed and cost, only the best of rung 0 goes on, the top rung
    trains 2 seeds, the budget holds, the chains' checkpoints are gone at the end, the final
    stage retrains the top rung's best; the first rung priced by the scaled lookup table, the
    promoted measured; killed and resumed, the same trials as without."""
    schedule = ["search.schedule.name=successive_halving", "search.schedule.rungs=[1, 2]",
                "search.schedule.eta=2", "search.schedule.budget=5000",
                "search.schedule.first_rung_latency=table", "search.screening.factor=2"]
    reference = tmp_path / "reference"
    assert main(["--config", "quick", "--out", str(reference), "--set", f"cache_dir={cache}",
                 "--set", "progress=false", *[a for s in schedule for a in ("--set", s)]]) == 0
    lines = [json.loads(line) for line in (reference / "trials.jsonl").read_text().splitlines()]
    trials = [t for t in lines if t["status"] != "predicted"]
    for arm in ("akd", "nas"):
        # screening, the rung below the lowest: 4 asked, the 2 predicted best trained, the other
        # 2 recorded as predicted, never trained, at no rung and no cost
        out = [t for t in lines if t["arm"] == arm and t["status"] == "predicted"]
        assert len(out) == 2 and all(t["rung"] is None and t["samples"] is None
                                     and t["predicted_acc"] is not None for t in out)
        kept = {t["candidate_id"] for t in trials if t["arm"] == arm and t["rung"] == 0}
        assert len(kept) == 2 and not kept & {t["candidate_id"] for t in out}
        assert all(t["predicted_acc"] is not None for t in trials if t["arm"] == arm)
        mine = [t for t in trials if t["arm"] == arm]
        # 2 candidates at rung 0 (1 epoch), the better one 1 epoch more, its second seed 2
        # epochs from scratch: 4 trainings, 5,000 samples
        assert len(mine) == 4 and sum(t["samples"] for t in mine) == 5000
        for step in (0,):
            bracket = [t for t in mine if t["step"] == step]
            bottom = [t for t in bracket if t["rung"] == 0]
            top = [t for t in bracket if t["rung"] == 1]
            assert len(bottom) == 2 and all(t["epochs"] == 1 and t["seed"] == 0 for t in bottom)
            best = max(bottom, key=lambda t: (t["reward"], -t["candidate_id"]))
            assert {(t["candidate_id"], t["seed"], t["epochs"], t["samples"]) for t in top} == {
                (best["candidate_id"], 0, 2, 1000), (best["candidate_id"], 1, 2, 2000)}
    assert not any((reference / "checkpoints" / "rungs").iterdir())
    scale = json.loads((reference / "latency_table.json").read_text())["scale"]
    timing = json.loads((reference / "timing.json").read_text())
    promoted = {t["arch"] for t in trials if t["rung"] == 1}
    assert scale > 0 and timing["first_rung_table_error"]["candidates"] == len(promoted)
    for arch in promoted:  # its table price at rung 0, its measurement at the top
        first = {t["latency_ms"] for t in trials if t["arch"] == arch and t["rung"] == 0}
        top = {t["latency_ms"] for t in trials if t["arch"] == arch and t["rung"] == 1}
        assert len(first) == len(top) == 1 and first != top
    # the final stage's student: the top rung's best by the mean reward of its two seeds
    nas_top = [t for t in trials if t["arm"] == "nas" and t["rung"] == 1]
    means = {}
    for t in nas_top:
        means.setdefault(t["arch"], []).append(t["reward"])
    winner = max(means, key=lambda arch: sum(means[arch]) / 2)
    final = json.loads((reference / "final.json").read_text())
    assert next(s["arch"] for s in final["students"] if s["source"] == "nas") == winner
    assert next(s["search_val_acc"] for s in final["students"] if s["source"] == "nas") == \
        pytest.approx(sum(t["val_acc"] for t in nas_top if t["arch"] == winner) / 2)

    # the report counts trainings and brackets, and its best is the top rung's seed mean
    assert analyze_main([str(reference), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    nas_best = sum(means[winner]) / 2
    assert ("- **nas**: 4 trainings (0 failed) in 1 bracket(s);" in text
            and f"best reward (its highest rung, mean of its seeds) {nas_best:.4f}" in text)
    # the live comparison's summary (here the run against itself): its numbers by hand
    assert live_main([str(reference), str(reference), "--out", str(tmp_path / "live")]) == 0
    live = json.loads((tmp_path / "live" / "live.json").read_text())
    for student, recorded in zip(live["runs"][1]["students"], final["students"]):
        for mode in ("cls", "kd"):
            values = [r["test_acc"] for r in recorded["runs"] if r["mode"] == mode]
            assert student[f"{mode}_stats"]["mean"] == pytest.approx(sum(values) / len(values))
    assert live["runs"][1]["arms"]["nas"] == {
        "trainings": 4, "samples": 5000, **{k: live["runs"][1]["arms"]["nas"][k]
                                            for k in ("entropy", "max_entropy")}}
    assert live["difference"]["akd"]["same_student"] is True

    run = tmp_path / "run"
    command = quick_command(run, cache, *schedule, "final.enabled=false")
    before = kill_9_after_three_trials(command, run)
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert after[:len(before)] == before  # nothing recorded was lost or rewritten

    def key(t):
        rung, seed = (-1 if t[k] is None else t[k] for k in ("rung", "seed"))
        return t["arm"], t["step"], t["candidate_id"], rung, seed, t["arch"], t["status"]
    # the same trainings and the same screened-out candidates, once each
    assert sorted(map(key, after)) == sorted(map(key, lines))
    # and the same results: a chain continued after the crash is the uninterrupted training
    accuracy = {key(t): t["val_acc"] for t in lines}
    assert all(t["val_acc"] == accuracy[key(t)] for t in after)
    again = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
    assert again.returncode == 0 and "already finished (1 bracket(s) per arm)" in again.stdout
    assert math.isfinite(after[-1]["latency_ms"])


@needs_fashion_mnist
@pytest.mark.slow
def test_asha_keeps_the_budget_and_tells_every_candidate_through_kill_9_and_resume(
        cache, tmp_path, quick_command, kill_9_after_three_trials):
    """ASHA on two process workers, rungs of 1 and 2 epochs on 1,000 images, eta 2, 8,000
    samples per arm: killed and resumed, every bottom-rung candidate once (ids without gaps),
    every candidate at the top with both seeds, the spending within the budget, and every
    candidate asked told (nothing pending in the final checkpoint)."""
    run = tmp_path / "run"
    command = quick_command(run, cache, "search.asynchronous=true",
                            "search.schedule={name: successive_halving, rungs: [1, 2], eta: 2, "
                            "budget: 8000}", "evaluator.backend=process", "evaluator.workers=2",
                            "final.enabled=false")
    before = kill_9_after_three_trials(command, run)
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert after[:len(before)] == before
    for arm in ("akd", "nas"):
        mine = [t for t in after if t["arm"] == arm]
        bottom = sorted(t["candidate_id"] for t in mine if t["rung"] == 0)
        assert bottom == list(range(len(bottom))) and len(bottom) >= 2
        assert sum(t["samples"] for t in mine) <= 8000
        top = [t for t in mine if t["rung"] == 1]
        assert top, "nothing reached the top rung"
        for candidate in {t["candidate_id"] for t in top}:
            seeds = sorted((t["seed"], t["samples"]) for t in top
                           if t["candidate_id"] == candidate)
            assert seeds == [(0, 1000), (1, 2000)]  # continued 1 epoch; from scratch 2
        state = torch.load(run / "checkpoints" / f"{arm}.pt", weights_only=True)
        assert state["controller"]["pending"] == []
    assert not any((run / "checkpoints" / "rungs").iterdir())  # no chain left to continue


def test_a_per_budget_search_tells_tpe_every_rungs_reward_through_kill_9_and_resume(
        tmp_path, quick_command, kill_9_after_three_trials):
    """tell: per_budget (BOHB's model) in the live loop, 3 brackets of 2 on synthetic data: the
    controller's checkpoint holds, for every trained candidate, its reward at each rung it
    reached (the mean of its seeds at the top), as the trial log says; killed in the second
    bracket and resumed, the same trainings with the same results and the same rung results."""
    cache = tmp_path / "cache"
    overrides = ["data.name=synthetic", "search.arms=[nas]", "controller.name=tpe",
                 "controller.options.startup=2", "final.enabled=false", "final.test_images=0",
                 "search.schedule={name: successive_halving, rungs: [1, 2], eta: 2, "
                 "tell: per_budget, budget: 15000}"]
    reference = tmp_path / "reference"
    assert main(["--config", "quick", "--out", str(reference), "--set", f"cache_dir={cache}",
                 "--set", "progress=false", *[a for o in overrides for a in ("--set", o)]]) == 0
    trials = [json.loads(line) for line in (reference / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 12 and all(t["status"] == "ok" for t in trials)
    by_rung = {}
    for t in trials:
        by_rung.setdefault((t["candidate_id"], t["rung"]), []).append(t["reward"])
    expected = sorted((c, r, sum(v) / len(v)) for (c, r), v in by_rung.items())

    def rung_results(run):
        state = torch.load(run / "checkpoints" / "nas.pt", weights_only=True)["controller"]
        assert [i for i, _, _ in state["told"]] == list(range(6)) and not state["pending"]
        return sorted((i, g, r) for i, _, g, r in state["rung_results"])
    kept = rung_results(reference)
    assert [(c, g) for c, g, _ in kept] == [(c, g) for c, g, _ in expected]
    assert [r for _, _, r in kept] == pytest.approx([r for _, _, r in expected])
    assert sum(g == 1 for _, g, _ in kept) == 3  # one promoted a bracket: the model's rung

    run = tmp_path / "run"
    command = quick_command(run, cache, *overrides)
    before = kill_9_after_three_trials(command, run, lines=5)  # in the second bracket
    assert 5 <= len(before) < 12
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]

    def key(t):
        return t["candidate_id"], t["rung"], t["seed"], t["arch"], t["val_acc"]
    assert sorted(map(key, after)) == sorted(map(key, trials))
    assert rung_results(run) == kept
