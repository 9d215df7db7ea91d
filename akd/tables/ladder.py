"""The ladder table: the same students trained at a ladder of budgets, from the benchmark table's
proxy budget up to a long distillation, with their learning curves. It measures how faithfully
a cheap evaluation ranks students as a full distillation does. ::

    from akd.tables import load_ladder
    ladder = load_ladder("fashion_mnist-small28-ladder")   # shipped with akd, or a path
    ladder.rungs                                           # the budgets, cheapest first
    ladder.at(-1).filter(mode="vgg").accuracy()            # arch -> mean accuracy at the top rung
    ladder.at(0).lookup(arch)                              # one student's trainings at the bottom

A record is a benchmark-table record (:data:`akd.tables.FIELDS`; its ``budget`` holds the rung's
``train_images`` and ``epochs``) with the rung's index and the training's learning curve
(:class:`akd.distill.Curve` as a dict), so each rung reads as a :class:`Table`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .table import FIELDS, Records, Table, read_records, table_path

LADDER_FILE = "ladder.jsonl.gz"  # a ladder directory's records (a build, a shipped ladder)
LADDER_FIELDS: dict[str, tuple[type, ...]] = {**FIELDS, "rung": (int,),
                                              "curve": (dict, type(None))}


@dataclass(frozen=True)
class Rung:
    """One budget of the ladder: ``epochs`` passes over the first ``train_images`` images."""

    index: int
    train_images: int
    epochs: int

    @property
    def samples(self) -> int:
        """Training samples seen: the budget's size (the table's own is 3,000)."""
        return self.train_images * self.epochs

    @property
    def name(self) -> str:
        return f"{self.train_images}x{self.epochs}"


@dataclass(frozen=True)
class Ladder(Records):
    """A ladder's records, by rung."""

    @property
    def rungs(self) -> list[Rung]:
        """The rungs that have records, cheapest first."""
        seen = {r["rung"]: Rung(r["rung"], r["budget"]["train_images"], r["budget"]["epochs"])
                for r in self.records}
        return [seen[index] for index in sorted(seen)]

    def rung(self, index: int) -> Rung:
        """The rung whose ``index`` is ``index``; a negative one counts down from the top among
        the rungs that have records (``-1``: the top rung), as in a list."""
        rungs = self.rungs
        if index < 0 and -index <= len(rungs):
            return rungs[index]
        for rung in rungs:
            if rung.index == index:
                return rung
        raise IndexError(f"no rung {index} in this ladder (its rungs: "
                         f"{', '.join(str(r.index) for r in rungs) or 'none'})")

    def at(self, index: int) -> Table:
        """The records of rung ``index`` (``-1``: the top rung) as a benchmark table."""
        number = self.rung(index).index
        return Table(tuple(r for r in self.records if r["rung"] == number))


def ladder_path(name: str | os.PathLike) -> Path:
    """A ladder file, the ladder of a ladder directory, or the shipped ladder of that name."""
    return table_path(name, LADDER_FILE)


def load_ladder(path: str | os.PathLike) -> Ladder:
    """The ladder in ``path`` (a ``.jsonl(.gz)`` file or a ladder directory) or shipped under
    that name; :class:`DataError` naming the file and line of anything malformed."""
    records = read_records(ladder_path(path), "ladder table", LADDER_FIELDS)
    for number, record in enumerate(records, start=1):
        budget = record["budget"]
        if not all(isinstance(budget.get(key), int) for key in ("train_images", "epochs")):
            raise DataError(f"{path} record {number}: its budget has no integer train_images and "
                            "epochs; the ladder is damaged")
    return Ladder(records)
