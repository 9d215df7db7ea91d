"""The main command of akd.

The search loop (issue 5) is not built yet; until then this prints what the search will explore:
the default search space, the published MnasNet models it can express, and a few sampled students
with their costs at the Fashion-MNIST input size.
"""

from __future__ import annotations

import numpy as np

from search_spaces import count_cost, get_space, mnasnet_a1, mnasnet_b1


def main() -> None:
    space = get_space("mnasnet", preset="small28")
    print(space.summary())
    print("\npublished models at 224x224, 1000 classes (fvcore):")
    for name, arch in (("MnasNet-A1", mnasnet_a1()), ("MnasNet-B1", mnasnet_b1())):
        cost = count_cost(arch, (3, 224, 224), 1000)
        print(f"  {name}: {cost.params / 1e6:.2f} M params, {cost.macs / 1e6:.0f} M MACs")
    print("\nsampled students at 1x28x28, 10 classes:")
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = space.decode(space.sample(rng))
        cost = count_cost(arch, (1, 28, 28), 10)
        print(f"  {cost.params / 1e3:7.1f} k params {cost.macs / 1e6:6.2f} M MACs  {arch}")


if __name__ == "__main__":
    main()
