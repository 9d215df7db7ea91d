"""Search spaces: decisions <-> architecture bijection, uniform sampling, size, bad input."""

import math

import numpy as np
import pytest

from search_spaces import (Architecture, MnasNetSpace, ToySpace, available_spaces, get_space,
                           mnasnet_b1)

SPACES = {
    "small28": lambda: get_space("mnasnet", preset="small28"),
    "imagenet224": lambda: get_space("mnasnet", preset="imagenet224"),
    "toy": lambda: get_space("toy"),
    "nago": lambda: get_space("nago"),
}


@pytest.fixture(params=sorted(SPACES))
def space(request):
    return SPACES[request.param]()


def test_registry_lists_spaces_and_rejects_unknown():
    assert available_spaces() == ["mnasnet", "nago", "toy"]
    with pytest.raises(KeyError,
                       match=r"unknown search space 'nope'; registered: mnasnet, nago, toy"):
        get_space("nope")
    with pytest.raises(ValueError, match=r"unknown mnasnet preset 'tiny'; allowed: imagenet224"):
        get_space("mnasnet", preset="tiny")


def test_encode_inverts_decode(space):
    rng = np.random.default_rng(0)
    for _ in range(300):
        decisions = space.sample(rng)
        arch = space.decode(decisions)
        assert space.encode(arch) == decisions
        assert space.encode(str(arch)) == decisions
        assert space.decode(space.encode(arch)) == arch


def test_every_decision_changes_the_architecture(space):
    base = space.sample(np.random.default_rng(3))
    seen = {str(space.decode(base))}
    for i, n in enumerate(space.choices):
        for choice in range(n):
            if choice != base[i]:
                seen.add(str(space.decode(base[:i] + [choice] + base[i + 1:])))
    assert len(seen) == 1 + sum(n - 1 for n in space.choices)


def test_small_space_enumerates_to_distinct_architectures():
    space = ToySpace(num_layers=2)
    archs = {str(space.decode(d)) for d in space}
    assert len(archs) == space.size == (4 * 3 * 2) ** 2


def test_size_counts_the_space():
    small28 = get_space("mnasnet", preset="small28")
    # five ops, three kernels, two SE ratios, two skips, three widths per stage; the first and
    # last stages have a base of one layer, so they offer 1 or 2 layers, the others three counts.
    per_stage = 5 * 3 * 2 * 2 * 3
    assert small28.size == per_stage ** 7 * 2 ** 2 * 3 ** 5
    assert small28.size == math.prod(small28.choices)
    assert len(small28.choices) == len(small28.decision_names) == 42
    assert small28.decision_names[:6] == ("b0.op", "b0.kernel", "b0.se", "b0.skip",
                                          "b0.channels", "b0.layers")


def test_sampling_is_uniform_and_seeded(space):
    assert space.sample(np.random.default_rng(7)) == space.sample(np.random.default_rng(7))
    assert space.sample(7) == space.sample(7)
    rng = np.random.default_rng(11)
    draws = np.array([space.sample(rng) for _ in range(3000)])
    for i, n in enumerate(space.choices):
        freq = np.bincount(draws[:, i], minlength=n) / len(draws)
        # 3000 draws: a fair die's face frequency is within 0.05 of 1/n with overwhelming odds.
        assert np.all(np.abs(freq - 1 / n) < 0.05), (space.decision_names[i], freq)


def test_sampled_architectures_respect_the_skeleton():
    space = get_space("mnasnet", preset="imagenet224")
    rng = np.random.default_rng(5)
    for _ in range(50):
        blocks = space.decode(space.sample(rng)).blocks
        assert str(blocks[0]) == "cn_r1_k3_s2_c32" and str(blocks[-1]) == "cn_r1_k1_s1_c1280"
        assert [b.stride for b in blocks[1:-1]] == [1, 2, 2, 2, 1, 2, 1]
        for block, base in zip(blocks[1:-1], (16, 24, 32, 64, 96, 160, 320)):
            # 0.75x, 1x or 1.25x the base, rounded to the preset's divisor of 4
            assert min(abs(block.channels - base * m) for m in (0.75, 1.0, 1.25)) <= 2


def test_decisions_out_of_range_name_the_decision():
    space = get_space("toy")
    decisions = space.sample(0)
    with pytest.raises(ValueError, match=r"expects 12 decisions, got 11"):
        space.decode(decisions[:-1])
    bad = list(decisions)
    bad[1] = 3
    with pytest.raises(ValueError, match=r"decision l0.kernel = 3 is out of range; allowed: 0..2"):
        space.decode(bad)
    bad[1] = -1
    with pytest.raises(ValueError, match=r"l0.kernel = -1 is out of range"):
        space.decode(bad)


def test_architecture_outside_the_space_is_named():
    space = get_space("mnasnet", preset="imagenet224")
    with pytest.raises(ValueError, match=r"b4.channels = 112; allowed: \(72, 96, 120\)"):
        space.encode(_with_channels(space, 4, 112))
    small = get_space("mnasnet", preset="small28")
    with pytest.raises(ValueError, match=r"stem is 'cn_r1_k3_s2_c32'; the space's stem is"):
        small.encode(mnasnet_b1())
    with pytest.raises(ValueError, match=r"it has 3 blocks; the space has 4 layers"):
        get_space("toy").encode("cn_r1_k3_s1_c24_noskip|cn_r1_k3_s1_c24_noskip|"
                                "cn_r1_k3_s1_c24_noskip")
    with pytest.raises(ValueError, match=r"layer l0 is 'cn_r1_k3_s1_c24'; toy layers are plain"):
        get_space("toy").encode("|".join(["cn_r1_k3_s1_c24"] * 4))


def _with_channels(space, stage, channels):
    blocks = list(space.decode(space.sample(0)).blocks)
    block = blocks[stage + 1]
    blocks[stage + 1] = type(block)(**{**block.__dict__, "channels": channels})
    return Architecture(tuple(blocks))


def test_stride_outside_skeleton_is_named():
    space = get_space("mnasnet", preset="small28")
    blocks = list(space.decode(space.sample(0)).blocks)
    blocks[1] = type(blocks[1])(**{**blocks[1].__dict__, "stride": 1})
    with pytest.raises(ValueError, match=r"b0.stride = 1; the skeleton fixes it to 2"):
        space.encode(Architecture(tuple(blocks)))


def test_choices_and_skeleton_are_configurable():
    space = get_space("mnasnet", preset="small28", ops=("sepconv", "mbconv6"), kernels=(3, 5),
                      se_ratios=(0.0,), skips=(True,), width_multipliers=(1.0,),
                      layer_deltas=(0,))
    assert space.choices == (2, 2, 1, 1, 1, 1) * 7
    custom = MnasNetSpace(skeleton=[(16, 2, 2), (32, 1, 1)], stem="cn_r1_k3_s1_c8")
    assert len(custom.decode(custom.sample(0)).blocks) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(skeleton=[]), r"at least one stage"),
    (dict(skeleton=[(16, 1, 3)]), r"skeleton stage stride = 3 is invalid; allowed: 1, 2"),
    (dict(skeleton=[(16, 0, 1)]), r"skeleton stage layers = 0 is invalid"),
    (dict(skeleton=[(0, 1, 1)]), r"skeleton stage channels = 0 is invalid"),
    (dict(skeleton=[(16, 1, 1)], channel_divisor=8),
     r"stage b0: width multipliers \(0.75, 1.0, 1.25\) give channels \[16, 16, 24\]"),
    (dict(skeleton=[(16, 1, 1)], layer_deltas=(-2, -1)), r"leave no layer count >= 1"),
    (dict(skeleton=[(16, 1, 1)], ops=("conv", "mbconv4")),
     r"unknown op 'mbconv4'; allowed ops: conv, sepconv, mbconv1, mbconv3, mbconv6"),
    (dict(skeleton=[(16, 1, 1)], kernels=(3, 4)), r"kernel 4 is invalid; allowed: odd"),
    (dict(skeleton=[(16, 1, 1)], kernels=(3, 3)), r"b0.kernel: options \(3, 3\) must be"),
    (dict(skeleton=[(16, 1, 1)], stem="cn_r1_k3_s1"), r"missing channels option"),
])
def test_impossible_skeletons_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MnasNetSpace(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_layers=0), r"num_layers = 0 is invalid"),
    (dict(kernels=(2, 3)), r"kernel \(k\) = 2 is invalid"),
    (dict(strides=(1, 4)), r"stride \(s\) = 4 is invalid; allowed: 1 or 2"),
    (dict(filters=(0,)), r"channels \(c\) = 0 is invalid"),
])
def test_invalid_toy_space_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToySpace(**kwargs)
