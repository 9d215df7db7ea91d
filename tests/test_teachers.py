"""Teachers: zoo training and cache reuse, user teachers, class checks, cached logits."""

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import damage, end_to_end

from akd.data import DataConfig, load_dataset
from akd.distill import (TEACHERS, CachedTeacher, Teacher, TeacherConfig, TrainConfig, evaluate,
                         load_teacher, near_chance, online_teacher, teacher_record)
from akd.distill.teachers import PRETRAINED

QUICK = TrainConfig(epochs=1, batch_size=64, lr=0.05)
TEACHERS_BEFORE = dict(TEACHERS)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_dataset(DataConfig(name="synthetic", val_size=400, proxy_size=600),
                        cache_dir=tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_zoo_teachers_fit_small_images(name):
    for channels, size in ((1, 28), (3, 32)):
        out = TEACHERS[name](channels, 7)(torch.randn(2, channels, size, size))
        assert out.shape == (2, 7)


def test_zoo_teacher_is_trained_once_then_reused(data, tmp_path):
    config = TeacherConfig(name="vgg", training=QUICK)
    first = load_teacher(config, data, tmp_path, progress=False)
    assert first.description.startswith("trained") and first.test_accuracy > 0.5
    files = list((tmp_path / "teachers").glob("vgg-synthetic-*.pt"))
    assert len(files) == 1
    record = teacher_record(files[0])
    assert record["test_accuracy"] == first.test_accuracy
    assert record["recipe"]["training"]["epochs"] == 1 and record["seconds"] > 0
    again = load_teacher(config, data, tmp_path, progress=False)
    assert again.description.startswith("cached") and again.fingerprint == first.fingerprint
    assert again.test_accuracy == first.test_accuracy
    other = load_teacher(TeacherConfig(name="vgg", training=TrainConfig(epochs=1, batch_size=64,
                                                                        lr=0.02)),
                         data, tmp_path, progress=False)
    assert other.description.startswith("trained")  # another recipe is another teacher


def test_a_zoo_teacher_whose_layers_changed_is_trained_again(data, tmp_path, monkeypatch):
    config = TeacherConfig(name="vgg", training=QUICK)
    load_teacher(config, data, tmp_path, progress=False)
    # the registry is read-only: the test swaps its table for one whose vgg is narrower
    monkeypatch.setattr(TEACHERS, "_items", {
        **TEACHERS, "vgg": lambda c, n: TEACHERS_BEFORE["vgg"](c, n, (8, 16, 32))})
    changed = load_teacher(config, data, tmp_path, progress=False)
    assert changed.description.startswith("trained")  # not a crash on the old cached weights
    assert len(list((tmp_path / "teachers").glob("vgg-*.pt"))) == 2


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_a_damaged_cached_teacher_is_moved_aside_and_trained_again(data, tmp_path, how, caplog):
    config = TeacherConfig(name="vgg", training=QUICK)
    load_teacher(config, data, tmp_path, progress=False)
    [path] = (tmp_path / "teachers").glob("vgg-synthetic-*.pt")
    damage(path, how)
    with caplog.at_level("WARNING", logger="akd"):
        again = load_teacher(config, data, tmp_path, progress=False)
    assert again.description.startswith("trained") and again.test_accuracy > 0.5
    [warning] = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert str(path) in warning and "\n" not in warning
    assert path.with_name(path.name + ".damaged").exists()
    assert load_teacher(config, data, tmp_path, progress=False).description.startswith("cached")


def _write_factory(tmp_path, monkeypatch, classes, module="my_teachers"):
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(f"""
        from torch import nn
        def small(num_classes):
            return nn.Sequential(nn.Flatten(), nn.Linear(256, {classes}))
        def no_args():
            return nn.Sequential(nn.Flatten(), nn.Linear(256, {classes}))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_user_teacher_from_factory_and_state_dict(data, tmp_path, monkeypatch):
    _write_factory(tmp_path, monkeypatch, 10)
    import my_teachers

    source = my_teachers.small(10)
    torch.save(source.state_dict(), tmp_path / "w.pt")
    for factory in ("my_teachers:small", "my_teachers:no_args"):
        teacher = load_teacher(TeacherConfig(name="user", factory=factory,
                                             weights=str(tmp_path / "w.pt")), data, tmp_path)
        assert torch.equal(teacher.model[1].weight, source[1].weight)
        assert 0.0 <= teacher.test_accuracy <= 1.0


def test_user_teacher_from_torchscript(data, tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))
    torch.jit.script(model).save(str(tmp_path / "t.pt"))
    teacher = load_teacher(TeacherConfig(name="user", weights=str(tmp_path / "t.pt")), data,
                           tmp_path)
    x = data.test.images[:4]
    assert torch.allclose(teacher.model(x), model(x))


def test_class_count_mismatch_is_named(data, tmp_path, monkeypatch):
    _write_factory(tmp_path, monkeypatch, 100, module="hundred_classes")
    import hundred_classes

    torch.save(hundred_classes.small(100).state_dict(), tmp_path / "w100.pt")
    with pytest.raises(ValueError, match=r"teacher outputs shape \(1, 100\) but synthetic has 10"):
        load_teacher(TeacherConfig(name="user", factory="hundred_classes:small",
                                   weights=str(tmp_path / "w100.pt")), data, tmp_path)


@pytest.mark.parametrize("config, message", [
    (TeacherConfig(name="alexnet"),
     r"unknown teacher 'alexnet'; allowed: resnet, vgg, wide, mlp, resnet18, user"),
    (TeacherConfig(name="user"), r"needs teacher.weights"),
    (TeacherConfig(name="user", weights="/nonexistent.pt"), r"does not exist"),
    (TeacherConfig(name="user", factory="nomodule:f", weights=__file__),
     r"cannot be imported: No module named 'nomodule'; name a module importable from the current "
     r"directory, or a file \(path/to/file.py:function\)"),
    (TeacherConfig(name="user", factory="missing.py:f", weights=__file__),
     r"cannot be imported: no file .*missing.py"),
    (TeacherConfig(name="user", factory="bad", weights=__file__), r"'package.module:function'"),
    (TeacherConfig(name="user", weights=__file__), r"is not a TorchScript file"),
])
def test_bad_teacher_config(config, message, data, tmp_path):
    with pytest.raises(ValueError, match=message):
        load_teacher(config, data, tmp_path)


def test_wrong_state_dict_names_the_keys_and_shapes(data, tmp_path, monkeypatch):
    _write_factory(tmp_path, monkeypatch, 10)
    config = TeacherConfig(name="user", factory="my_teachers:small",
                           weights=str(tmp_path / "bad.pt"))
    torch.save({"weight": torch.zeros(3)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError) as error:
        load_teacher(config, data, tmp_path)
    assert str(error.value) == (
        f"teacher weights {str(tmp_path / 'bad.pt')!r} do not fit the model of "
        "my_teachers:small: 2 missing key(s) (1.weight, 1.bias); 1 unexpected key(s) (weight)")
    # grayscale weights for colour data, or another head: the shapes that differ, then a count
    torch.save({"1.weight": torch.zeros(10, 768), "1.bias": torch.zeros(7)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"2 shape\(s\) differ \(1.weight \(10, 768\) in the "
                                         r"file, \(10, 256\) in the model, 1.bias \(7,\) in the "
                                         r"file, \(10,\) in the model\)$"):
        load_teacher(config, data, tmp_path)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "bad.pt")  # a whole pickled model
    with pytest.raises(ValueError, match=r"cannot read teacher weights .*save them with "
                                         r"torch.save\(model.state_dict\(\), path\)"):
        load_teacher(config, data, tmp_path)


def test_a_checkpoint_holding_the_state_dict_loads(data, tmp_path, monkeypatch):
    _write_factory(tmp_path, monkeypatch, 10)
    import my_teachers

    source = my_teachers.small(10)
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    teacher = load_teacher(TeacherConfig(name="user", factory="my_teachers:small",
                                         weights=str(tmp_path / "ckpt.pt")), data, tmp_path)
    assert torch.equal(teacher.model[1].weight, source[1].weight)


@pytest.mark.parametrize("factory", ["nets/beside_config.py:small", "beside_config:small"])
def test_a_factory_beside_the_config_is_found(factory, data, tmp_path, monkeypatch):
    """A file path, or a module in the current directory (which a script's sys.path lacks)."""
    folder = tmp_path / "nets" if factory.startswith("nets/") else tmp_path
    folder.mkdir(exist_ok=True)
    (folder / "beside_config.py").write_text(textwrap.dedent("""
        from torch import nn
        def small(num_classes):
            return nn.Sequential(nn.Flatten(), nn.Linear(256, num_classes))
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "beside_config", raising=False)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    teacher = load_teacher(TeacherConfig(name="user", factory=factory, weights="w.pt"), data,
                           tmp_path)
    assert torch.equal(teacher.model[1].weight, model[1].weight)


@pytest.fixture(scope="module")
def resnet_teacher(data, tmp_path_factory):
    return load_teacher(TeacherConfig(name="resnet", training=QUICK), data,
                        tmp_path_factory.mktemp("teacher"), progress=False)


@pytest.mark.parametrize("padding", [0, 2])
def test_cached_logits_equal_online_logits(data, resnet_teacher, tmp_path, padding):
    teacher = resnet_teacher
    config = TrainConfig(augment_padding=padding, augment_seed=5)
    cached = CachedTeacher(teacher, data.proxy, config, tmp_path, batch_size=128, progress=False)
    online = online_teacher(teacher)
    from akd.data import apply_augment
    from akd.distill.trainer import epoch_augment

    for epoch in (0, 1):
        indices = torch.tensor([5, 0, 599, 17])
        batch = data.proxy.images[indices]
        augment = epoch_augment(config, epoch, len(data.proxy))
        if augment is not None:
            batch = apply_augment(batch, augment, indices)
        torch.testing.assert_close(cached(epoch, indices, batch), online(epoch, indices, batch),
                                   rtol=1e-4, atol=1e-4)
    files = list((tmp_path / "logits").glob("*.pt"))
    assert len(files) == (2 if padding else 1)  # one per augmentation seed
    reloaded = CachedTeacher(teacher, data.proxy, config, tmp_path, progress=False)
    assert torch.equal(reloaded.epoch_logits(0), cached.epoch_logits(0))


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_damaged_cached_logits_are_computed_again(data, resnet_teacher, tmp_path, how):
    config = TrainConfig()
    logits = CachedTeacher(resnet_teacher, data.proxy, config, tmp_path,
                           progress=False).epoch_logits(0)
    [path] = (tmp_path / "logits").glob("*.pt")
    damage(path, how)
    again = CachedTeacher(resnet_teacher, data.proxy, config, tmp_path, progress=False)
    assert torch.equal(again.epoch_logits(0), logits)
    assert path.with_name(path.name + ".damaged").exists() and path.exists()


@end_to_end
# the default, and the benchmark table's other two (the MLP has no convolution: a lower floor)
@pytest.mark.parametrize("name, floor", [("vgg", 0.92), ("resnet", 0.92), ("mlp", 0.86)])
def test_the_shipped_teachers_are_what_their_records_say(name, floor, tmp_path):
    data = load_dataset(DataConfig(), tmp_path)
    teacher = load_teacher(TeacherConfig(name=name), data, tmp_path)  # an empty cache: none to
    # train
    assert teacher.description.startswith(f"shipped {PRETRAINED}")
    record = json.loads(Path(teacher.description.split(" ", 1)[1]).with_suffix(".json")
                        .read_text())
    assert record["command"].startswith("python -m research.train_teacher")
    assert teacher.test_accuracy == record["test_accuracy"] >= floor
    assert evaluate(teacher.model, data.test) == pytest.approx(teacher.test_accuracy, abs=1e-6)


def test_a_teacher_near_chance_is_called_out_in_one_line(data):
    def teacher(accuracy):
        return Teacher(torch.nn.Identity(), accuracy, "f", "made by hand")
    chance = 1 / data.num_classes
    for accuracy in (chance, 1.5 * chance):  # guessing, and under twice guessing
        line = near_chance(teacher(accuracy), data, "mine")
        assert line.startswith(f"teacher mine is near chance: test accuracy {accuracy:.4f}")
        assert "\n" not in line and f"{data.num_classes} classes on {len(data.test)}" in line
    assert near_chance(teacher(0.9), data, "mine") is None


@pytest.mark.parametrize("normalization, mean, std", [("none", 0.0, 1.0),
                                                      ({"mean": [0.5], "std": [0.25]}, 0.5, 0.25)])
def test_a_user_teacher_is_fed_the_normalisation_it_was_trained_with(normalization, mean, std,
                                                                      data, tmp_path):
    """akd feeds (pixels - data mean) / data std; a teacher trained on (pixels - m) / s gets
    exactly that, computed here from the pixels by hand, and its logits cache apart."""
    from akd.config import load_config

    identity = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10, bias=False))
    with torch.no_grad():
        identity[1].weight.copy_(torch.eye(10, 256))  # the logits are the first 10 inputs
    torch.jit.script(identity).save(str(tmp_path / "t.pt"))
    config = load_config(None, ["teacher.name=user", f"teacher.weights={tmp_path / 't.pt'}",
                                f"teacher.normalization={json.dumps(normalization)}"]).teacher
    teacher = load_teacher(config, data, tmp_path)
    pixels = data.test.images[:4] * data.std[0] + data.mean[0]
    expected = ((pixels - mean) / std).flatten(1)[:, :10]
    assert torch.allclose(teacher.model(data.test.images[:4]), expected, atol=1e-5)
    plain = load_teacher(TeacherConfig(name="user", weights=str(tmp_path / "t.pt")), data,
                         tmp_path)
    assert plain.fingerprint != teacher.fingerprint


def test_a_teacher_normalisation_that_does_not_fit_the_data_is_named(data, tmp_path):
    from akd.distill.teachers import Normalization

    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))).save(
        str(tmp_path / "t.pt"))
    for normalization, message in (("imagenet", r"imagenet has 3 channels but synthetic has 1"),
                                   (Normalization([0.1, 0.2], [1.0, 1.0]),
                                    r"has 2 mean\(s\) but synthetic has 1 channel\(s\)")):
        with pytest.raises(ValueError, match=message):
            load_teacher(TeacherConfig(name="user", weights=str(tmp_path / "t.pt"),
                                       normalization=normalization), data, tmp_path)
    with pytest.raises(ValueError, match="is for a user teacher; zoo teacher vgg"):
        TeacherConfig(name="vgg", normalization="none")
