"""Block-string grammar: exact round trip and one-line errors that name the field."""

import numpy as np
import pytest

from search_spaces import Architecture, Block, get_space, mnasnet_a1, mnasnet_b1


def random_block(rng: np.random.Generator) -> Block:
    """A block drawn from the whole grammar, well beyond any one search space."""
    op = str(rng.choice(["cn", "ds", "ir"]))
    return Block(
        op=op,
        layers=int(rng.integers(1, 6)),
        kernel=int(rng.choice([1, 3, 5, 7, 9])),
        stride=int(rng.integers(1, 3)),
        channels=int(rng.integers(1, 513)),
        expansion=int(rng.integers(1, 9)) if op == "ir" else 1,
        se_ratio=float(rng.choice([0.0, 0.25, 0.5, 0.125, 0.1])),
        skip=bool(rng.integers(2)),
    )


def test_round_trip_of_random_grammar_architectures():
    rng = np.random.default_rng(0)
    for _ in range(300):
        arch = Architecture(tuple(random_block(rng) for _ in range(int(rng.integers(1, 10)))))
        text = str(arch)
        assert Architecture.parse(text) == arch
        assert str(Architecture.parse(text)) == text


@pytest.mark.parametrize("space", [get_space("mnasnet", preset="small28"),
                                   get_space("mnasnet", preset="imagenet224"), get_space("toy")])
def test_round_trip_of_sampled_architectures(space):
    rng = np.random.default_rng(1)
    for _ in range(200):
        text = str(space.decode(space.sample(rng)))
        assert str(Architecture.parse(text)) == text


def test_published_strings_in_timm_grammar():
    assert str(mnasnet_b1()).split("|")[1:4] == [
        "ds_r1_k3_s1_c16_noskip", "ir_r3_k3_s2_e3_c24", "ir_r3_k5_s2_e3_c40"]
    assert "ir_r3_k5_s2_e3_c40_se0.25" in str(mnasnet_a1())


def test_block_fields_from_string():
    block = Block.parse("ir_r2_k5_s2_e6_c24_se0.25_noskip")
    assert block == Block(op="ir", layers=2, kernel=5, stride=2, channels=24, expansion=6,
                          se_ratio=0.25, skip=False)


@pytest.mark.parametrize("text, message", [
    ("xx_r1_k3_s1_c16", r"unknown op 'xx'; allowed ops: cn, ds, ir"),
    ("ir_r1_k3_s1_c16", r"missing expansion option 'eN'"),
    ("ds_r1_k3_s1_c16_q7", r"bad or repeated option 'q7'; allowed options"),
    ("ds_r1_r2_k3_s1_c16", r"bad or repeated option 'r2'"),
    ("ds_r1_k3_s1", r"missing channels option 'cN'"),
    ("ds_r1_k4_s1_c16", r"kernel \(k\) = 4 is invalid; allowed: an odd integer"),
    ("ds_r1_k3_s3_c16", r"stride \(s\) = 3 is invalid; allowed: 1 or 2"),
    ("ds_r0_k3_s1_c16", r"layers \(r\) = 0 is invalid; allowed: an integer >= 1"),
    ("ds_r1_k3_s1_e3_c16", r"expansion \(e\) = 3 is invalid; allowed: 1 for op 'ds'"),
    ("ir_r1_k3_s1_e6_c16_se1.5", r"se_ratio \(se\) = 1.5 is invalid; allowed: in \[0, 1\)"),
    ("ir_r1_k3_s1_c16_e6", r"not in canonical form; write 'ir_r1_k3_s1_e6_c16'"),
    ("ds_r1_k3_s1_c16_se0.250", r"not in canonical form; write 'ds_r1_k3_s1_c16_se0.25'"),
    ("ds_r1_k3_s1_c1.5", r"option 'c' needs an integer, got '1.5'"),
])
def test_invalid_block_strings_name_the_field(text, message):
    with pytest.raises(ValueError, match=message):
        Architecture.parse(text)


@pytest.mark.parametrize("text", ["", "   ", "ds_r1_k3_s1_c16||ds_r1_k3_s1_c16"])
def test_empty_architecture_or_stage_is_rejected(text):
    with pytest.raises(ValueError):
        Architecture.parse(text)
