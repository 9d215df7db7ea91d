"""How two tables of the same students agree: per mode, the rank correlation of the students'
mean accuracy in table A and in table B (e.g. the table's budget against the demo's, built with
build_table.py --pool-from A).

    python -m research.build_table --pool-from runs/table --archs 30 --teachers vgg \\
        --seeds 1 --set data.proxy_size=5000 --set proxy.batch_size=128 --out runs/table_demo
    python -m research.table_agreement runs/table runs/table_demo
"""

from __future__ import annotations

import argparse
import sys

from akd.common import kendall, number, run_command, signed, spearman
from akd.errors import AkdError
from akd.tables import load_table
from research.studies.table.analysis import bootstrap_ci


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="table directory or file")
    parser.add_argument("b", help="table directory or file with (some of) the same students")
    args = parser.parse_args()
    return run_command(lambda: compare(load_table(args.a), load_table(args.b)))


def compare(a, b) -> None:
    shared = set(a.archs) & set(b.archs)
    if not shared:
        raise AkdError("the two tables share no student; build B with --pool-from A")
    seconds = [sum(r["seconds"] for r in t if r["arch"] in shared) / max(1, sum(
        r["arch"] in shared for r in t)) for t in (a, b)]
    print(f"{len(shared)} students in both; seconds per training: {seconds[0]:.2f} in A, "
          f"{seconds[1]:.2f} in B (B / A = {seconds[1] / seconds[0]:.2f})\n")
    print("| mode | students | Spearman [95% CI] | Kendall |\n| --- | --- | --- | --- |")
    for mode in (m for m in a.modes if m in b.modes):
        mean_a, mean_b = a.filter(mode=mode).accuracy(), b.filter(mode=mode).accuracy()
        shared = [arch for arch in mean_a if arch in mean_b]
        x, y = [mean_a[s] for s in shared], [mean_b[s] for s in shared]
        interval = bootstrap_ci(spearman, [x, y])
        ci = "-" if interval is None else f"[{signed(interval[0])}, {signed(interval[1])}]"
        print(f"| {mode} | {len(shared)} | {number(spearman(x, y), 3)} {ci} | "
              f"{number(kendall(x, y), 3)} |")


if __name__ == "__main__":
    sys.exit(main())
