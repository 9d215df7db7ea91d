"""fvcore cost wrapper: exact counts on a network small enough to count by hand."""


import pytest

from search_spaces import count_cost


def test_counts_by_hand():
    cost = count_cost("cn_r1_k3_s1_c4_noskip", input_size=(1, 8, 8), num_classes=10)
    # conv 3x3, 1 -> 4 channels, on 8x8; then the 4 -> 10 classifier; batch norm not counted
    assert cost.macs == 8 * 8 * 4 * 9 + 4 * 10
    assert cost.params == 4 * 9 + 2 * 4 + 4 * 10 + 10


def test_squeeze_excite_and_stride_are_counted():
    plain = count_cost("ds_r1_k3_s1_c8", input_size=(8, 16, 16), num_classes=2)
    with_se = count_cost("ds_r1_k3_s1_c8_se0.25", input_size=(8, 16, 16), num_classes=2)
    strided = count_cost("ds_r1_k3_s2_c8", input_size=(8, 16, 16), num_classes=2)
    assert with_se.macs - plain.macs == 2 * 8 * 2  # the two 1x1 convs of SE on a 1x1 map
    assert with_se.params - plain.params == 2 * 8 * 2 + 2 + 8
    assert strided.macs < plain.macs / 3


def test_quiet(recwarn, caplog):
    count_cost("ir_r2_k3_s1_e3_c8_se0.25", input_size=(8, 8, 8), num_classes=2)
    assert [str(w.message) for w in recwarn] == []
    assert not caplog.records


def test_bad_input_size():
    with pytest.raises(ValueError, match=r"input_size must be \(channels, height, width\)"):
        count_cost("cn_r1_k3_s1_c4", input_size=(28, 28))
