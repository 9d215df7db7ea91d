"""Whether two run directories hold the same search and final stage: every trials.jsonl record
(by arm and candidate, wall times left out; ``flops`` read as ``macs``) and every final.json
number (run wall times and weight file names left out, runs in key order). What a refactor of
the search must leave unchanged, e.g. the demo before and after one, on one machine, with one
cache (so that both runs read the same measured latencies):

    AKD_CACHE=/tmp/c python experiments/run_akd.py --out /tmp/before   # on the old commit
    AKD_CACHE=/tmp/c python experiments/run_akd.py --out /tmp/after    # on the new one
    python -m research.compare_runs /tmp/before /tmp/after

A process pool finishes candidates in an order of its own, so the records are compared as sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path

from akd.common import run_command
from akd.errors import RunError
from akd.search import RunDir

IGNORED = ("seconds", "weights")  # wall times and file names: not results


def trial_records(run: Path) -> list[dict]:
    """The run's trials as records of this version, without wall times, by arm and candidate."""
    if not (run / "trials.jsonl").exists():
        raise RunError(f"{run} holds no search (no trials.jsonl)")
    records = [{k: v for k, v in t.to_json().items() if k != "seconds"}
               for t in RunDir(run).read_trials(repair=False, predicted=True)]
    # a multi-fidelity search records several trainings of a candidate: by rung and seed too
    return sorted(records, key=lambda r: (r["arm"], r["candidate_id"],
                                          -1 if r.get("rung") is None else r["rung"],
                                          -1 if r.get("seed") is None else r["seed"]))


def final_numbers(run: Path) -> dict | None:
    """final.json without wall times and weight file names, each student's runs in key order."""
    path = run / "final.json"
    if not path.exists():
        return None

    def strip(value):
        if isinstance(value, dict):
            return {("macs" if k == "flops" else k): strip(v) for k, v in value.items()
                    if k not in IGNORED}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    final = strip(json.loads(path.read_text()))
    for student in final.get("students", []):
        student["runs"] = sorted(student.get("runs", []), key=lambda r: (r["mode"], r["seed"]))
    return final


def compare(a: Path, b: Path) -> list[str]:
    """What differs between the runs, in words; empty when they are the same."""
    differences = []
    trials_a, trials_b = trial_records(a), trial_records(b)
    if len(trials_a) != len(trials_b):
        differences.append(f"trials: {len(trials_a)} records against {len(trials_b)}")
    else:
        differing = [ra for ra, rb in zip(trials_a, trials_b) if ra != rb]
        if differing:
            first = differing[0]
            differences.append(f"trials: {len(differing)} of {len(trials_a)} records differ, "
                               f"the first {first['arm']} candidate {first['candidate_id']}")
    final_a, final_b = final_numbers(a), final_numbers(b)
    if (final_a is None) != (final_b is None):
        differences.append("final.json: only one run has it")
    elif final_a != final_b:
        keys = sorted(k for k in set(final_a) | set(final_b) if final_a.get(k) != final_b.get(k))
        differences.append(f"final.json: {', '.join(keys)} differ")
    return differences


def main(argv: typing.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="a run directory")
    parser.add_argument("b", type=Path, help="another run directory")
    args = parser.parse_args(argv)
    outcome = {}

    def work() -> None:
        outcome["differences"] = compare(args.a, args.b)
        records = len(trial_records(args.a))
        if outcome["differences"]:
            print("\n".join(["the runs differ:", *outcome["differences"]]))
        else:
            print(f"the same: {records} trial records and "
                  + ("final.json's numbers" if final_numbers(args.a) else "no final stage"))
    status = run_command(work)
    return status or (1 if outcome.get("differences") else 0)


if __name__ == "__main__":
    sys.exit(main())
