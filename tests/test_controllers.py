"""Controllers: the contract every registered controller passes, then each strategy's own rules."""

import io
import math

import numpy as np
import pytest
import torch

from controllers import (Candidate, RandomSearch, available_controllers, get_controller,
                         register_controller)
from controllers.synthetic import TargetMatch, run_search
from search_spaces import get_space

# Mixed sizes, as in the MnasNet space, and a decision with a single choice.
CHOICES = (5, 3, 2, 1, 3, 2, 4)
# Small batches and populations so that a few dozen tells cross updates and the evolution phase.
FAST = {
    "lstm_reinforce": dict(batch_size=4, hidden_size=16),
    "lstm_ppo": dict(batch_size=4, hidden_size=16),
    "evolution": dict(population=6, sample_size=3),
    "tpe": dict(startup=4),
    "gp": dict(startup=16),  # a GP proposal costs ~0.15 s: the contract on fewer of them
    "autokd": dict(startup=3),
}


def make(name, seed=0, choices=CHOICES):
    return get_controller(name, choices, seed=seed, **FAST.get(name, {}))


def drive(ctrl, rounds, script_seed=0):
    """Asks of varying sizes, each followed by out-of-order tells of part of what is pending.

    The script depends only on its seed and what the controller proposes, so two controllers in
    the same state produce the same history. Returns every asked (id, decisions) in order.
    """
    script = np.random.default_rng(script_seed)
    task = TargetMatch(ctrl.choices, seed=script_seed)
    history = []
    for _ in range(rounds):
        history += [(c.id, c.decisions) for c in ctrl.ask(int(script.integers(1, 5)))]
        pending = ctrl.pending
        for i in script.permutation(len(pending))[:int(script.integers(0, len(pending) + 1))]:
            # some failed candidates get the worst reward, so equal rewards occur too
            reward = 0.0 if script.random() < 0.2 else task.score(pending[i].decisions)
            ctrl.tell(pending[i], reward)
    return history


def round_trip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.fixture(params=available_controllers())
def name(request):
    return request.param


class TestControllerContract:
    """What the search loop relies on, for every controller in the registry."""

    def test_candidates_are_valid(self, name):
        history = drive(make(name), rounds=20)
        assert [i for i, _ in history] == list(range(len(history)))
        for _, decisions in history:
            assert len(decisions) == len(CHOICES)
            assert all(type(d) is int and 0 <= d < n for d, n in zip(decisions, CHOICES))
        assert any(d[0] != history[0][1][0] for _, d in history)  # not stuck on one choice

    def test_same_seed_same_candidates(self, name):
        assert drive(make(name, seed=3), rounds=15) == drive(make(name, seed=3), rounds=15)
        assert drive(make(name, seed=3), rounds=15) != drive(make(name, seed=4), rounds=15)

    def test_state_round_trip_continues_identically(self, name):
        original = make(name, seed=1)
        drive(original, rounds=12, script_seed=1)
        assert original.pending, "the round trip should carry candidates still in flight"
        state = original.state_dict()
        pending = original.pending
        continued = drive(original, rounds=12, script_seed=5)  # the state must be a snapshot
        restored = make(name, seed=2)  # another seed: everything must come from the state
        restored.load_state_dict(round_trip(state))
        assert restored.pending == pending
        assert drive(restored, rounds=12, script_seed=5) == continued

    def test_a_single_decision(self, name):
        ctrl = make(name, choices=(3,))
        for _ in range(10):
            for candidate in ctrl.ask(3):
                assert candidate.decisions in ([0], [1], [2])
                ctrl.tell(candidate, float(candidate.decisions[0]))

    def test_partial_and_out_of_order_tells(self, name):
        ctrl = make(name)
        first = ctrl.ask(6)
        for candidate in (first[4], first[1]):
            ctrl.tell(candidate, 0.5)
        second = ctrl.ask(3)
        for candidate in (second[2], first[5], first[0], second[0]):
            ctrl.tell(candidate, 0.25)
        assert [c.id for c in ctrl.pending] == [2, 3, 7]
        for candidate in reversed(ctrl.pending):
            ctrl.tell(candidate, 1.0)
        assert ctrl.pending == [] and ctrl.num_asked == 9

    def test_equal_rewards_never_crash(self, name):
        ctrl = make(name)
        for _ in range(5):
            for candidate in ctrl.ask(4):
                ctrl.tell(candidate, -1.0)  # every candidate failed: zero reward spread
        assert all(0 <= d < n for d, n in zip(ctrl.ask()[0].decisions, CHOICES))
        for value in ctrl.state_dict().get("policy", {}).values():
            assert torch.isfinite(value).all()

    def test_bad_tells_are_rejected(self, name):
        ctrl = make(name)
        a, b = ctrl.ask(2)
        ctrl.tell(a, 0.5)
        with pytest.raises(ValueError, match="candidate 0 was already told"):
            ctrl.tell(a, 0.5)
        with pytest.raises(ValueError, match="candidate 7 was never asked"):
            ctrl.tell(Candidate(7, b.decisions), 0.5)
        with pytest.raises(ValueError, match="reward = nan for candidate 1 is invalid"):
            ctrl.tell(b, float("nan"))
        altered = Candidate(b.id, [(d + 1) % n for d, n in zip(b.decisions, CHOICES)])
        with pytest.raises(ValueError, match="candidate 1 has decisions"):
            ctrl.tell(altered, 0.5)
        ctrl.tell(b, 0.5)  # the rejected tells left it pending

    def test_mismatched_or_corrupt_state_is_rejected(self, name):
        state = make(name).state_dict()
        with pytest.raises(ValueError, match="its choices is"):
            make(name, choices=(2, 2)).load_state_dict(state)
        other = "random" if name != "random" else "evolution"
        with pytest.raises(ValueError, match=f"its controller is '{other}'"):
            make(name).load_state_dict(make(other).state_dict())
        del state["next_id"]
        with pytest.raises(ValueError, match="incomplete or corrupt"):
            make(name).load_state_dict(state)

    def test_bad_arguments_are_rejected(self, name):
        with pytest.raises(ValueError, match=r"unknown option\(s\) nope for controller"):
            get_controller(name, CHOICES, nope=1)
        with pytest.raises(ValueError, match=r"choices\[1\] = 0 is invalid"):
            get_controller(name, (3, 0))
        with pytest.raises(ValueError, match="seed = -1 is invalid"):
            get_controller(name, CHOICES, seed=-1)
        with pytest.raises(ValueError, match="n = 0 is invalid"):
            make(name).ask(0)


def test_registry_lists_controllers_and_rejects_unknown():
    assert available_controllers() == ["autokd", "evolution", "gp", "lstm_ppo", "lstm_reinforce",
                                       "random", "tpe"]
    with pytest.raises(KeyError, match="unknown controller 'bo'; registered: autokd, evolution, "
                                       "gp, lstm_ppo, lstm_reinforce, random, tpe"):
        get_controller("bo", CHOICES)
    with pytest.raises(ValueError, match="controller 'random' is already registered"):
        register_controller("random", RandomSearch)


def test_bad_options_name_the_allowed_values():
    with pytest.raises(ValueError, match="lr = 0 is invalid; allowed: a number > 0"):
        get_controller("lstm_reinforce", CHOICES, lr=0)
    with pytest.raises(ValueError, match="ppo_clip = 1.5 is invalid"):
        get_controller("lstm_ppo", CHOICES, ppo_clip=1.5)
    with pytest.raises(ValueError, match=r"sample_size = 30 is invalid; allowed: an integer in "
                                         r"1..population \(10\)"):
        get_controller("evolution", CHOICES, population=10, sample_size=30)


# ---- the LSTM controllers -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lstm_reinforce", "lstm_ppo"])
def test_update_every_batch_whatever_the_order(name):
    ordered, shuffled = make(name), make(name)
    for step in range(3):
        batch, twin = ordered.ask(4), shuffled.ask(4)
        results = [ordered.tell(c, c.decisions[0] / 4) for c in batch]
        assert results[:3] == [{}, {}, {}]
        assert {"pg_loss", "entropy", "baseline", "reward_mean"} <= set(results[3])
        assert results[3]["updates"] == step + 1
        for i in (2, 0, 3, 1):
            shuffled.tell(twin[i], twin[i].decisions[0] / 4)
    for a, b in zip(ordered.policy.parameters(), shuffled.policy.parameters()):
        assert torch.equal(a, b)


def test_stale_candidates_keep_their_log_prob():
    ctrl = make("lstm_ppo")
    early = ctrl.ask(8)
    for candidate in early[:4]:
        ctrl.tell(candidate, 1.0)
    assert ctrl.updates == 1
    state = round_trip(ctrl.state_dict())
    assert [c["log_prob"] for c in state["pending"]] == [c.log_prob for c in early[4:]]
    stats = [ctrl.tell(c, 0.0) for c in early[4:]][-1]  # asked by the policy before the update
    assert 0.0 <= stats["clip_fraction"] <= 1.0 and math.isfinite(stats["pg_loss"])


def test_normalised_advantages_survive_zero_spread():
    ctrl = get_controller("lstm_reinforce", CHOICES, batch_size=4, normalize_advantage=True)
    stats = [ctrl.tell(c, 0.3) for c in ctrl.ask(4)][-1]
    assert stats["pg_loss"] == 0.0


def test_tanh_constant_bounds_the_policy():
    for c, bound in ((1.5, None), (None, 0.999)):
        ctrl = get_controller("lstm_reinforce", CHOICES, tanh_constant=c)
        with torch.no_grad():
            ctrl.policy.head_bias.copy_(torch.arange(max(CHOICES)) * 100.0)
        readout = ctrl.readout(samples=10)
        for probs, n in zip(readout.marginals, CHOICES):
            top = max(probs)
            if c is None:
                assert top > bound
            else:  # logits in [-c, c]: the top choice against n - 1 at the floor
                assert top <= math.exp(c) / (math.exp(c) + (n - 1) * math.exp(-c)) + 1e-6


def test_readout_describes_the_policy_without_shifting_it():
    ctrl, twin = make("lstm_reinforce"), make("lstm_reinforce")
    readout = ctrl.readout(samples=200)
    assert [len(m) for m in readout.marginals] == list(CHOICES)
    assert all(abs(sum(m) - 1) < 1e-5 for m in readout.marginals)
    assert all(0 <= d < n for d, n in zip(readout.greedy, CHOICES))
    assert 0 < readout.greedy_prob <= 1
    assert 0 < readout.entropy <= readout.max_entropy == pytest.approx(math.log(5 * 3 * 2 * 3 * 2
                                                                                * 4))
    assert [c.decisions for c in ctrl.ask(5)] == [c.decisions for c in twin.ask(5)]


# ---- random search and evolution ------------------------------------------------------------

def test_random_search_draws_what_the_space_samples():
    space = get_space("toy")
    ctrl = get_controller("random", space.choices, seed=7)
    rng = np.random.default_rng(7)
    assert [c.decisions for c in ctrl.ask(5)] == [space.sample(rng) for _ in range(5)]


def test_evolution_ages_and_mutates_one_decision():
    ctrl = get_controller("evolution", CHOICES, seed=0, population=6, sample_size=3)
    randoms = get_controller("random", CHOICES, seed=0)
    first = ctrl.ask(6)
    assert [c.decisions for c in first] == [c.decisions for c in randoms.ask(6)]
    for candidate in first:
        ctrl.tell(candidate, sum(candidate.decisions))
    for _ in range(20):
        child = ctrl.ask()[0]
        members = [decisions for _, decisions, _ in ctrl.population]
        assert 1 in {sum(a != b for a, b in zip(child.decisions, m)) for m in members}
        ctrl.tell(child, sum(child.decisions))
        # aging: the population is the last six told, whatever their rewards
        assert [i for i, _, _ in ctrl.population] == list(range(child.id - 5, child.id + 1))


# ---- learning on a task with a known optimum ----------------------------------------------------
# The toy space: 12 decisions, 331,776 architectures, default options. Random search's best after
# 300 samples is 0.67-0.83 (seeds 0-4); both policy-gradient controllers find the optimum and learn
# it (greedy decode = target) on all of those seeds. Four evaluators in flight, finishing in random
# order, so stale candidates are part of the test.

TOY = get_space("toy").choices
BUDGET = 300


def search(name, noise, seed=0, **options):
    task = TargetMatch(TOY, seed=seed, noise=noise)
    ctrl = get_controller(name, TOY, seed=seed, **options)
    return ctrl, task, run_search(ctrl, task, BUDGET, workers=4, seed=seed)


@pytest.mark.parametrize("name", ["lstm_reinforce", "lstm_ppo"])
def test_policy_gradient_finds_the_optimum(name):
    ctrl, task, trace = search(name, noise=0.0)
    random_best = search("random", noise=0.0)[2].best_found()
    assert trace.best_found() == 1.0 and random_best <= 0.85
    # learned, not sampled by luck: late samples are mostly right and the mode is the target
    assert np.mean(trace.scores[-50:]) >= 0.8
    assert ctrl.readout().greedy == task.target


@pytest.mark.parametrize("name", ["lstm_reinforce", "lstm_ppo"])
def test_policy_gradient_learns_through_noise(name):
    # noise std 0.1 is larger than one decision's worth of reward (1/12)
    ctrl, task, trace = search(name, noise=0.1)
    _, _, random_trace = search("random", noise=0.1)
    assert max(trace.scores) == 1.0
    assert np.mean(trace.scores[-50:]) >= 0.75 > np.mean(random_trace.scores[-50:]) + 0.3
    assert sum(g == t for g, t in zip(ctrl.readout().greedy, task.target)) >= 11


# ---- Bayesian optimisation (Optuna) -------------------------------------------------------------
# On the toy space with 40 trainings, 4 in flight (seeds 0-2): random search's best is 0.58-0.67,
# TPE's 0.75-0.92 and the GP's 1.0 (the optimum) on every seed.

@pytest.mark.parametrize("name, seeds", [("tpe", range(3)), ("gp", range(1))])
def test_bayesian_optimisation_beats_random_search_in_40_trainings(name, seeds):
    for seed in seeds:
        task = TargetMatch(TOY, seed=seed)
        bo = run_search(get_controller(name, TOY, seed=seed), task, 40, workers=4, seed=seed)
        random = run_search(get_controller("random", TOY, seed=seed), task, 40, workers=4,
                            seed=seed)
        assert bo.best_found() > random.best_found()
        assert np.mean(bo.scores[-10:]) >= np.mean(random.scores[-10:]) + 0.15  # it learned


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_a_parallel_ask_is_not_one_point_repeated(name):
    ctrl = get_controller(name, TOY, seed=0, startup=4)
    task = TargetMatch(TOY, seed=0)
    for candidate in ctrl.ask(6):
        ctrl.tell(candidate, task.score(candidate.decisions))
    batch = ctrl.ask(8)  # the model is fitted now; each sees the earlier ones as running
    assert len({tuple(c.decisions) for c in batch}) == 8


def test_an_optuna_state_is_plain_data_and_replays_the_told_trials():
    ctrl = get_controller("tpe", CHOICES, seed=0, startup=2)
    for candidate in ctrl.ask(3):
        ctrl.tell(candidate, float(candidate.decisions[0]))
    ctrl.ask(2)
    state = round_trip(ctrl.state_dict())  # weights_only: no pickled sampler inside
    assert [i for i, _, _ in state["told"]] == [0, 1, 2] and len(state["pending"]) == 2
    restored = get_controller("tpe", CHOICES, seed=5, startup=2)
    restored.load_state_dict(state)
    assert restored.ask(3) == ctrl.ask(3)


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_a_per_budget_model_fits_the_highest_rung_with_enough_results(name):
    """BOHB's rule by hand: results told by rung are kept per rung; the model's rung is the
    highest holding at least `startup` results, and the history a proposal sees is that rung's
    results plus the pending candidates; the state keeps it (weights_only) and replays it."""
    ctrl = get_controller(name, CHOICES, seed=0, startup=2)
    assert ctrl.model_rung() is None
    first = ctrl.ask(3)
    ctrl.tell_rungs(first[0], {0: 0.1, 1: 0.4}, 0.4)
    ctrl.tell_rungs(first[1], {0: 0.2}, 0.2)
    assert ctrl.model_rung() == 0  # rung 1 holds 1 result, fewer than startup
    ctrl.tell_rungs(first[2], {0: 0.3, 1: 0.5}, 0.5)
    assert ctrl.model_rung() == 1
    pending = ctrl.ask(1)[0]
    history = ctrl._history([[0] * len(CHOICES)])
    assert [reward for _, reward in history] == [0.4, 0.5, None, None]  # rung 1, then running
    assert history[2][0] == {f"d{i}": c for i, c in enumerate(pending.decisions)}
    with pytest.raises(ValueError, match="was already told"):
        ctrl.tell_rungs(first[0], {0: 0.1}, 0.1)
    assert len(ctrl.rung_results) == 5  # a refused tell adds nothing
    state = round_trip(ctrl.state_dict())
    restored = get_controller(name, CHOICES, seed=7, startup=2)
    restored.load_state_dict(state)
    assert restored.model_rung() == 1 and restored.ask(2) == ctrl.ask(2)
