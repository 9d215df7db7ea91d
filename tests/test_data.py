"""Datasets: the real Fashion-MNIST from its IDX files, seeded splits, clear errors."""

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import damage, needs_fashion_mnist

from akd.data import DEBIAN_FASHION_MNIST, DataConfig, load_dataset, split_indices
from akd.errors import DataError


@needs_fashion_mnist
def test_fashion_mnist_loads_from_the_debian_folder(tmp_path):
    data = load_dataset(DataConfig(val_size=5000, proxy_size=10000), cache_dir=tmp_path)
    assert (len(data.train), len(data.val), len(data.test), len(data.proxy)) == (
        55000, 5000, 10000, 10000)
    assert data.input_size == (1, 28, 28) and data.num_classes == 10
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert abs(data.train.images.mean().item()) < 0.01  # normalised with training statistics
    assert sorted(data.test.labels.unique().tolist()) == list(range(10))


@needs_fashion_mnist
def test_data_root_accepts_a_flat_folder_of_gzipped_idx_files(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in DEBIAN_FASHION_MNIST.glob("*.gz"):
        (flat / path.name).symlink_to(path)
    data = load_dataset(DataConfig(root=str(flat), download=False), cache_dir=tmp_path / "c")
    assert len(data.test) == 10000


def test_split_is_seeded_and_disjoint():
    train, val = split_indices(1000, 100, seed=4)
    again_train, again_val = split_indices(1000, 100, seed=4)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert len(set(train.tolist()) | set(val.tolist())) == 1000
    assert not set(train.tolist()) & set(val.tolist())
    assert not torch.equal(split_indices(1000, 100, seed=5)[1], val)


def test_proxy_is_a_subset_of_train_and_splits_do_not_share_images(tmp_path):
    data = load_dataset(DataConfig(name="synthetic", val_size=400, proxy_size=500), tmp_path)
    assert len(data.proxy) == 500 and len(data.train) == 2000 and len(data.val) == 400
    assert torch.equal(data.proxy.images, data.train.images[:500])

    def rows(split):
        return {tuple(row.tolist()) for row in split.images.flatten(1)[:, :6]}
    assert not rows(data.train) & rows(data.val)


def test_missing_data_root_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=r"has no Fashion-MNIST IDX files .* point it at"):
        load_dataset(DataConfig(root=str(tmp_path / "nowhere")), cache_dir=tmp_path)


def test_missing_dataset_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr("akd.data.fashion_mnist.DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(ValueError, match=r"apt-get install dataset-fashion-mnist"):
        load_dataset(DataConfig(download=False), cache_dir=tmp_path)


def test_corrupt_idx_file_is_a_clear_error(tmp_path):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write(b"not an idx file")
    with pytest.raises(ValueError, match=r"Fashion-MNIST"):
        load_dataset(DataConfig(root=str(tmp_path), download=False), cache_dir=tmp_path / "c")


@pytest.mark.parametrize("config, message", [
    (DataConfig(name="mnist"), r"unknown dataset 'mnist'; allowed: fashion_mnist"),
    (DataConfig(name="synthetic", val_size=5000), r"data.val_size = 5000 gives 5000 validation "
                                                  r"images; it must give 1..2399"),
    (DataConfig(name="imagefolder"), r"data.root must name a folder"),
])
def test_bad_data_config(config, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        load_dataset(config, cache_dir=tmp_path)


def test_imagefolder(tmp_path):
    from PIL import Image

    for part in ("train", "test"):
        for label in ("cat", "dog"):
            folder = tmp_path / part / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (20, 12), (i * 40, 0, 0)).save(folder / f"{i}.png")
    data = load_dataset(DataConfig(name="imagefolder", root=str(tmp_path), image_size=16,
                                   val_size=2, proxy_size=0), cache_dir=tmp_path / "c")
    assert data.input_size == (3, 16, 16) and data.num_classes == 2 and len(data.test) == 6
    assert data.class_names == ("cat", "dog")  # the folders' names, in label order
    # read again from the prepared copy, they are the same
    again = load_dataset(DataConfig(name="imagefolder", root=str(tmp_path), image_size=16,
                                    val_size=2, proxy_size=0), cache_dir=tmp_path / "c")
    assert again.class_names == ("cat", "dog")


def _image_folder(root, mode="RGB"):
    from PIL import Image

    for part in ("train", "test"):
        for label in ("cat", "dog"):
            folder = root / part / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new(mode, (20, 12), i * 40).save(folder / f"{i}.png")


@pytest.mark.parametrize("modes, channels, expected", [
    (("L",), "auto", 1), (("RGB",), "auto", 3), (("L", "RGB"), "auto", 3),  # mixed: as torchvision
    (("L",), 3, 3), (("RGB",), 1, 1)])
def test_an_image_folder_loads_with_the_channels_of_its_images(modes, channels, expected,
                                                               tmp_path):
    """A grayscale folder is one channel (torchvision's ImageFolder would make it RGB); a folder
    with any colour image is three; data.channels overrides."""
    from PIL import Image

    _image_folder(tmp_path / "data", modes[0])
    if len(modes) > 1:
        Image.new(modes[1], (20, 12)).save(tmp_path / "data" / "train" / "dog" / "9.png")
    data = load_dataset(DataConfig(name="imagefolder", root=str(tmp_path / "data"),
                                   image_size=16, channels=channels, val_size=2, proxy_size=0),
                        cache_dir=tmp_path / "c")
    assert data.input_size == (expected, 16, 16) and len(data.mean) == expected
    if modes == ("L",) and expected == 1:  # the three gray levels (0, 40, 80) survive
        assert len(set(data.test.images[:, 0, 0, 0].tolist())) == 3
    with pytest.raises(ValueError, match=r"data.channels = 2; allowed: auto, 1, 3"):
        DataConfig(name="imagefolder", channels=2)


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "train" / "cow").mkdir(), r"class folder .*train/cow holds no image"),
    (lambda root: shutil.rmtree(root / "test" / "dog"), r"test has 1 class folder\(s\); a "
                                                          r"classifier needs at least 2"),
    (lambda root: (root / "train" / "dog" / "0.png").write_bytes(b"not a png"),
     r"cannot read .*train/dog/0.png"),
    (lambda root: (root / "test" / "dog").rename(root / "test" / "dogs"),
     r"train/ has the classes \['cat', 'dog'\] but test/ has \['cat', 'dogs'\]"),
])
def test_a_bad_image_folder_is_a_one_line_error(damage, message, tmp_path):
    """Also after the folder was read once: the prepared copy's key sees every change."""
    _image_folder(tmp_path / "data")
    config = DataConfig(name="imagefolder", root=str(tmp_path / "data"), image_size=16,
                        val_size=2, proxy_size=0)
    load_dataset(config, cache_dir=tmp_path / "c")
    damage(tmp_path / "data")
    with pytest.raises(DataError, match=message) as error:
        load_dataset(config, cache_dir=tmp_path / "c")
    assert "\n" not in str(error.value)


@needs_fashion_mnist
def test_fingerprints_do_not_depend_on_the_thread_count(tmp_path):
    # teacher and logit caches are keyed on them; workers run with fewer threads than the driver
    previous = torch.get_num_threads()
    try:
        prints = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            data = load_dataset(DataConfig(), tmp_path)
            prints.append((data.train.fingerprint(), data.proxy.fingerprint()))
    finally:
        torch.set_num_threads(previous)
    assert prints[0] == prints[1]


@needs_fashion_mnist
def test_later_loads_read_the_prepared_copy_without_torchvision(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in DEBIAN_FASHION_MNIST.glob("*.gz"):
        (flat / path.name).write_bytes(path.read_bytes())
    config = DataConfig(root=str(flat), download=False)
    first = load_dataset(config, tmp_path / "c")
    [prepared] = (tmp_path / "c" / "datasets" / "prepared").glob("fashion_mnist-*.pt")
    # a fresh process, as a search worker: same images, and torchvision (1.3 s) never imported
    code = ("import sys; from akd.data import DataConfig, load_dataset; "
            f"d = load_dataset(DataConfig(root={str(flat)!r}), {str(tmp_path / 'c')!r}); "
            "print(d.train.fingerprint(), d.test.fingerprint(), 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120).stdout.split()
    assert out == [first.train.fingerprint(), first.test.fingerprint(), "False"]
    # a changed source file replaces the copy; a damaged copy is decoded again
    os.utime(flat / "t10k-labels-idx1-ubyte.gz", ns=(1, 1))
    load_dataset(config, tmp_path / "c")
    [replaced] = (tmp_path / "c" / "datasets" / "prepared").glob("fashion_mnist-*.pt")
    assert replaced != prepared
    replaced.write_bytes(b"damaged")
    again = load_dataset(config, tmp_path / "c")
    assert again.test.fingerprint() == first.test.fingerprint()
    assert replaced.stat().st_size > 1000
    damage(replaced, "truncate")  # cut short, as by a crash while copying
    again = load_dataset(config, tmp_path / "c")
    assert again.train.fingerprint() == first.train.fingerprint()
    assert replaced.with_name(replaced.name + ".damaged").exists()


@pytest.mark.parametrize("val, proxy, images, expected", [
    ("auto", "auto", 60000, (5000, 10000)),  # Fashion-MNIST: the sizes before they scaled
    ("auto", "auto", 6000, (600, 5400)),  # a small folder: a tenth held out, the rest trains
    ("auto", "auto", 5, (1, 4)),
    (0.2, 0.5, 100, (20, 40)),  # fractions: of the training images, then of the rest
    (300, 0, 1000, (300, 0)),  # counts; proxy 0: all the rest
])
def test_validation_and_proxy_sizes_scale_with_the_training_set(val, proxy, images, expected):
    assert DataConfig(val_size=val, proxy_size=proxy).sizes(images) == expected


@pytest.mark.parametrize("key, value", [("val_size", 0), ("val_size", 1.5), ("proxy_size", -1),
                                        ("val_size", "half"), ("proxy_size", True),
                                        ("image_size", 0)])
def test_bad_sizes_are_refused(key, value):
    with pytest.raises(ValueError, match=rf"data.{key} = "):
        DataConfig(**{key: value})


def test_a_small_image_folder_works_with_the_defaults_at_its_own_image_size(tmp_path):
    """No size set: 20x12 images stay 20x12 (no resize), a tenth is held out."""
    _image_folder(tmp_path / "data")
    data = load_dataset(DataConfig(name="imagefolder", root=str(tmp_path / "data")),
                        cache_dir=tmp_path / "c")
    assert data.input_size == (3, 12, 20)
    assert (len(data.val), len(data.train), len(data.proxy)) == (1, 5, 5)


def test_image_folders_of_mixed_sizes_need_image_size(tmp_path):
    from PIL import Image

    _image_folder(tmp_path / "data")
    Image.new("RGB", (28, 28)).save(tmp_path / "data" / "train" / "dog" / "7.png")
    config = DataConfig(name="imagefolder", root=str(tmp_path / "data"))
    with pytest.raises(DataError, match=r"images differ in size: .*0.png is 20x12 pixels, .*7.png "
                                        r"is 28x28 pixels; set data.image_size") as error:
        load_dataset(config, cache_dir=tmp_path / "c")
    assert "\n" not in str(error.value)
    data = load_dataset(DataConfig(name="imagefolder", root=str(tmp_path / "data"),
                                   image_size=16), cache_dir=tmp_path / "c")
    assert data.input_size == (3, 16, 16)
