"""Published MnasNet models (Tan et al. 2019) written in the block grammar.

Stem (3x3 conv, stride 2, 32 channels) and head (1x1 conv to 1280) are the paper's; the stages are
timm's ``mnasnet_a1`` / ``mnasnet_b1`` definitions, which torchvision's ``mnasnet1_0`` matches.
"""

from .architecture import Architecture

_STEM = "cn_r1_k3_s2_c32"
_HEAD = "cn_r1_k1_s1_c1280"

MNASNET_B1 = "|".join([
    _STEM,
    "ds_r1_k3_s1_c16_noskip",
    "ir_r3_k3_s2_e3_c24",
    "ir_r3_k5_s2_e3_c40",
    "ir_r3_k5_s2_e6_c80",
    "ir_r2_k3_s1_e6_c96",
    "ir_r4_k5_s2_e6_c192",
    "ir_r1_k3_s1_e6_c320_noskip",
    _HEAD,
])

MNASNET_A1 = "|".join([
    _STEM,
    "ds_r1_k3_s1_c16_noskip",
    "ir_r2_k3_s2_e6_c24",
    "ir_r3_k5_s2_e3_c40_se0.25",
    "ir_r4_k3_s2_e6_c80",
    "ir_r2_k3_s1_e6_c112_se0.25",
    "ir_r3_k5_s2_e6_c160_se0.25",
    "ir_r1_k3_s1_e6_c320",
    _HEAD,
])


def mnasnet_b1() -> Architecture:
    """MnasNet-B1 (no squeeze-excite); same parameters as torchvision's ``mnasnet1_0``."""
    return Architecture.parse(MNASNET_B1)


def mnasnet_a1() -> Architecture:
    """MnasNet-A1, the paper's headline model (squeeze-excite in three stages)."""
    return Architecture.parse(MNASNET_A1)
