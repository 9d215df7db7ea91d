"""Write Fashion-MNIST as a folder of PNG files, the layout torchvision's ImageFolder reads:
``OUT/train/<class>/<n>.png`` and ``OUT/test/<class>/<n>.png`` (28x28, grayscale).

It stands for your own images in the tutorial (docs/your-own-teacher.md); skip it when you have a
folder already.

    python examples/your_own_teacher/make_image_folder.py --out data/fashion_png
    python examples/your_own_teacher/make_image_folder.py --out tiny --per-class 20   # a sample
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to create (must not exist)")
    parser.add_argument("--per-class", type=int, default=0,
                        help="at most this many images of each class and split (0: all)")
    parser.add_argument("--download-to", default=str(Path.home() / ".cache" / "fashion_mnist"),
                        help="where torchvision downloads Fashion-MNIST when Debian's "
                             "dataset-fashion-mnist package is not installed")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new folder")
    from torchvision.datasets import FashionMNIST

    for split, train in (("train", True), ("test", False)):
        data = _load(train, args.download_to)
        counts = [0] * len(data.classes)
        for index, (image, label) in enumerate(zip(data.data, data.targets.tolist())):
            if args.per_class and counts[label] >= args.per_class:
                continue
            counts[label] += 1
            folder = out / split / FashionMNIST.classes[label].replace("/", "-")
            folder.mkdir(parents=True, exist_ok=True)
            _save(image, folder / f"{index:05d}.png")
        print(f"{split}: {sum(counts)} images in {len(counts)} class folders under {out / split}")


def _load(train: bool, download_to: str):
    """Fashion-MNIST from Debian's package if installed (offline), else downloaded."""
    import gzip
    import shutil

    from torchvision.datasets import FashionMNIST

    if DEBIAN.is_dir():  # torchvision wants its raw/ layout of uncompressed files
        raw = Path(download_to) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for path in DEBIAN.glob("*-ubyte*"):
            target = raw / path.name.removesuffix(".gz")
            if not target.exists():
                with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as src, \
                        open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return FashionMNIST(download_to, train=train)
    return FashionMNIST(download_to, train=train, download=True)


def _save(image, path: Path) -> None:
    from PIL import Image

    Image.fromarray(image.numpy(), mode="L").save(path)


if __name__ == "__main__":
    main()
