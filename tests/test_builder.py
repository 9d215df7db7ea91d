"""The model builder: every sampled student runs, and the published MnasNet is exact."""

import numpy as np
import pytest
import torch
import torchvision

from search_spaces import Architecture, build_model, count_cost, get_space, mnasnet_a1, mnasnet_b1


@pytest.mark.parametrize("preset, input_size, samples", [
    ("small28", (1, 28, 28), 60), ("small28", (3, 32, 32), 30), ("imagenet224", (3, 64, 64), 8)])
def test_sampled_students_build_and_run(preset, input_size, samples):
    torch.manual_seed(0)
    space = get_space("mnasnet", preset=preset)
    rng = np.random.default_rng(0)
    x = torch.randn(2, *input_size)
    for _ in range(samples):
        model = build_model(space.decode(space.sample(rng)), num_classes=7,
                            in_channels=input_size[0])
        out = model(x)
        assert out.shape == (2, 7)
        assert torch.isfinite(out).all()


def test_toy_students_build_and_run():
    space = get_space("toy")
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = build_model(space.decode(space.sample(rng)), num_classes=10, in_channels=1)(
            torch.randn(2, 1, 28, 28))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_mnasnet_b1_is_torchvision_mnasnet1_0():
    ours = build_model(mnasnet_b1(), num_classes=1000, in_channels=3).eval()
    reference = torchvision.models.mnasnet1_0(weights=None).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in reference.parameters()) == 4_383_312
    # Same tensors in the same order: copy torchvision's weights over and the outputs must agree,
    # which checks the wiring (residuals, activations, strides), not just the parameter count.
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert [v.shape for v in ours_state.values()] == [v.shape for v in reference_state.values()]
    ours.load_state_dict(dict(zip(ours_state, reference_state.values())))
    with torch.no_grad():
        x = torch.randn(2, 3, 224, 224)
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_mnasnet_a1_matches_published_size():
    cost = count_cost(mnasnet_a1(), input_size=(3, 224, 224), num_classes=1000)
    assert cost.params == 3_887_038  # imgclsmob's MnasNet-A1 table, same as timm's mnasnet_a1
    assert round(cost.macs / 1e6) == 312  # the MnasNet paper: 312M multiply-adds


def test_layer_rules():
    model = build_model("cn_r1_k3_s1_c8|ir_r3_k5_s2_e6_c8_se0.25|ds_r2_k3_s1_c8_noskip",
                        num_classes=3, in_channels=1)
    stage = model.features[1]
    # stride only on the first layer; residual only where the shape is kept
    assert [layer.body[3].stride for layer in stage] == [(2, 2), (1, 1), (1, 1)]
    assert [layer.residual for layer in stage] == [False, True, True]
    assert [layer.residual for layer in model.features[2]] == [False, False]  # noskip
    se = stage[1].body[6]
    assert (se.reduce.in_channels, se.reduce.out_channels) == (48, 2)  # 0.25 of 8 input channels
    assert model(torch.randn(1, 1, 9, 9)).shape == (1, 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_classes=0), r"num_classes must be an integer >= 1, got 0"),
    (dict(in_channels=-1), r"in_channels must be an integer >= 1, got -1"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\), got 1.0"),
])
def test_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(Architecture.parse("cn_r1_k3_s1_c8"), **kwargs)


def test_weights_rebuild_a_trained_model_and_bad_weights_are_one_line_errors(tmp_path):
    text = "cn_r1_k3_s1_c8|ir_r2_k3_s2_e3_c16_se0.25|cn_r1_k1_s1_c32"
    torch.manual_seed(0)
    trained = build_model(text, num_classes=4, in_channels=1).eval()
    with torch.no_grad():  # weights unlike a fresh model's, running statistics included
        for tensor in trained.state_dict().values():
            tensor.add_(torch.rand_like(tensor.float()).to(tensor.dtype))
    torch.save(trained.state_dict(), tmp_path / "student.pt")
    (tmp_path / "student.arch").write_text(text)
    # the documented one-liner
    model = build_model((tmp_path / "student.arch").read_text(), num_classes=4, in_channels=1,
                        weights=tmp_path / "student.pt").eval()
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        assert torch.equal(model(x), trained(x))
        assert torch.equal(build_model(text, 4, 1, weights=trained.state_dict()).eval()(x),
                           trained(x))

    torch.save([1, 2], tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    for weights, kwargs, message in [
        (tmp_path / "missing.pt", {}, r"weights file '.*missing.pt' does not exist"),
        (tmp_path / "junk.pt", {}, r"weights file '.*junk.pt' cannot be read \(.*\); it must be"),
        (tmp_path / "list.pt", {}, r"weights file '.*list.pt' holds a list, not a state dict"),
        (tmp_path / "student.pt", {"num_classes": 5},
         r"does not fit this model: 2 shape mismatches, file vs model \(first: classifier.weight "
         r"\(4, 32\) vs \(5, 32\)\)"),
        ({"extra": torch.zeros(1)}, {}, r"the state dict does not fit this model: \d+ missing keys "
         r"\(first: features.0.0.body.0.weight\); 1 unexpected keys \(first: extra\)"),
    ]:
        with pytest.raises(ValueError, match=message) as error:
            build_model(text, **{"num_classes": 4, "in_channels": 1, **kwargs}, weights=weights)
        assert "\n" not in str(error.value)
