"""Train the tutorial's stand-in for *your* teacher: a torchvision ResNet-18 on an image folder,
with its own preprocessing (pixels / 255, then (x - 0.5) / 0.5), in plain PyTorch, not akd.

    python examples/your_own_teacher/train_teacher.py --data data/fashion_png --out teacher.pt

It writes the state dict and prints the test accuracy. Skip it when you have a trained teacher.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from teacher import resnet18_gray  # noqa: E402  (the factory beside this file)

MEAN, STD = 0.5, 0.5  # the teacher's own normalisation: akd is told it (teacher.normalization)


def load_folder(folder: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import pil_to_tensor

    data = ImageFolder(folder, loader=lambda path: _grey(path))
    images = torch.stack([pil_to_tensor(data.loader(path)) for path, _ in data.samples])
    return (images.float() / 255 - MEAN) / STD, torch.tensor(data.targets), data.classes


def _grey(path: str):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("L")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with train/ and test/ class folders")
    parser.add_argument("--out", required=True, help="the state-dict file to write")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    torch.manual_seed(0)
    train_x, train_y, classes = load_folder(Path(args.data) / "train")
    test_x, test_y, _ = load_folder(Path(args.data) / "test")
    model = resnet18_gray(len(classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    steps = args.epochs * math.ceil(len(train_x) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), args.batch_size):
            index = order[i:i + args.batch_size]
            batch = train_x[index]
            flip = torch.rand(len(batch)) < 0.5  # horizontal flips: clothes are symmetric
            batch[flip] = batch[flip].flip(-1)
            loss = F.cross_entropy(model(batch), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    model.eval()
    with torch.inference_mode():
        correct = sum((model(test_x[i:i + 500]).argmax(1) == test_y[i:i + 500]).sum().item()
                      for i in range(0, len(test_x), 500))
    torch.save(model.state_dict(), args.out)
    print(f"test accuracy {correct / len(test_x):.4f} on {len(test_x)} images; "
          f"weights in {args.out}")


if __name__ == "__main__":
    main()
