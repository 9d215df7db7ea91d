"""Families of students (AutoKD): the sampler is seeded and covers its ranges, and the autokd
controller trains each family's members and scores the family by their mean reward."""

import dataclasses

import numpy as np
import pytest
from conftest import made_trial

from controllers import get_controller
from search_spaces import get_space
from search_spaces.family import Family

from akd.search import TrialStatus

SPACE = get_space("mnasnet", preset="small28")


def middle(family, **overrides):
    return {**{name: 0.5 for name in family.names}, **overrides}


def test_the_mnasnet_family_is_twelve_numbers_shared_by_every_block():
    family = Family.of_space(SPACE)
    assert family.names == ["op.conv", "op.sepconv", "op.mbconv1", "op.mbconv3", "op.mbconv6",
                            "kernel.3", "kernel.5", "kernel.7", "se", "skip", "channels",
                            "layers"]
    probs = family.probabilities(middle(family, **{"op.mbconv6": 1.0, "op.conv": 0.0}))
    for decision, p in zip(SPACE.decisions, probs):
        assert p.sum() == pytest.approx(1.0) and (p >= 0).all()
        if decision.name.endswith(".op"):
            assert p[decision.values.index("mbconv6")] == pytest.approx(1 / 2.5)  # 1 / (3 x .5 + 1)
            assert p[decision.values.index("conv")] == 0


def test_a_member_is_seeded_and_follows_the_parameters():
    family = Family.of_space(SPACE)
    params = middle(family, se=1.0, skip=0.0, channels=0.0, layers=1.0)
    a = family.sample(params, np.random.default_rng(7))
    assert a == family.sample(params, np.random.default_rng(7))  # same seed, same member
    assert a != family.sample(params, np.random.default_rng(8))
    members = [SPACE.decode(family.sample(params, np.random.default_rng(s))) for s in range(50)]
    blocks = [b for arch in members for b in arch.blocks[1:-1]]  # the searched blocks
    assert all(b.se_ratio == 0.25 for b in blocks) and not any(b.skip for b in blocks)
    # the width and depth positions: mostly the smallest channels and the most layers
    smallest = [d.values[0] for d in SPACE.decisions if d.name.endswith(".channels")]
    most = [d.values[-1] for d in SPACE.decisions if d.name.endswith(".layers")]
    widths = [[b.channels for b in arch.blocks[1:-1]] for arch in members]
    depths = [[b.layers for b in arch.blocks[1:-1]] for arch in members]
    assert np.mean([w == s for row in widths for w, s in zip(row, smallest)]) > 0.8
    assert np.mean([d == m for row in depths for d, m in zip(row, most)]) > 0.8


def test_the_family_covers_its_ranges():
    # uniform parameters over many families reach every choice of every decision
    family = Family.of_space(SPACE)
    rng = np.random.default_rng(0)
    seen = [set() for _ in SPACE.decisions]
    for _ in range(300):
        params = {name: float(rng.uniform()) for name in family.names}
        for d, choice in enumerate(family.sample(params, rng)):
            seen[d].add(choice)
    assert [len(s) for s in seen] == list(SPACE.choices)


def test_bad_family_parameters_are_refused():
    family = Family.of_space(SPACE)
    with pytest.raises(ValueError, match="family parameters se are outside"):
        family.probabilities(middle(family, se=1.5))
    with pytest.raises(ValueError, match="are missing"):
        family.probabilities({})


def test_autokd_trains_members_of_a_family_and_tells_it_their_mean():
    fields, _, _ = SPACE.family_spec()
    values = [list(d.values) for d in SPACE.decisions]
    ctrl = get_controller("autokd", SPACE.choices + (8,), seed=0, members=2, startup=2,
                          family_fields=fields, family_values=values)
    batch = ctrl.ask(4)
    members = [(c.family["index"], c.family["member"]) for c in batch]
    assert members == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert batch[0].family["parameters"] == batch[1].family["parameters"]
    assert batch[0].decisions[-1] == batch[1].decisions[-1]  # the extra decision is shared
    assert batch[0].decisions != batch[1].decisions  # two students of one family
    assert ctrl.tell(batch[0], 0.2) == {}
    assert ctrl.tell(batch[1], 0.4) == {"family_reward": pytest.approx(0.3)}
    assert ctrl.state_dict()["families"][0]["rewards"] == [[0, 0.2], [1, 0.4]]


def test_nagos_family_is_its_generator_with_the_seed_drawn_freely():
    nago = get_space("nago")
    family = Family.of_space(nago)
    assert family.names == [d.name for d in nago.decisions][:-1]  # the 8 parameters
    params = {name: 0.0 for name in family.names}  # the smallest graphs
    members = [nago.decode(family.sample(params, np.random.default_rng(s))) for s in range(40)]
    assert np.mean([m.top[0] == 3 for m in members]) > 0.8
    assert len({m.seed for m in members}) > 4  # members are draws of the generator


def test_the_family_summary_names_the_best_family_and_its_spread_by_hand():
    from akd.search.trial import family_lines, family_summary

    def trial(i, family, reward, acc):
        return made_trial(reward, f"arch{i}", i, val_acc=acc,
                          family={"index": family, "member": i % 2,
                                  "parameters": {"se": 0.1 * family}})
    trials = [trial(0, 0, 0.5, 0.50), trial(1, 0, 0.3, 0.30), trial(2, 1, 0.45, 0.46),
              trial(3, 1, 0.44, 0.44),
              dataclasses.replace(trial(4, 2, 0.9, 0.9), status=TrialStatus.FAILED)]
    summary = family_summary(trials)
    assert summary["index"] == 1 and summary["mean_reward"] == pytest.approx(0.445)
    assert summary["accuracies"] == [0.46, 0.44] and summary["best_member"].arch == "arch2"
    assert summary["accuracy_range"] == pytest.approx(0.02)
    assert summary["mean_accuracy_range"] == pytest.approx((0.2 + 0.02) / 2)
    assert "best family #1 of 2" in family_lines(summary)[0]
    assert family_summary([dataclasses.replace(t, family=None) for t in trials]) is None
