"""The benchmark table's format and its loader anyone can use without training; the tables
that ship with akd (``shipped/``) are the data the predictor learns from and the studies
analyze.

A table is JSON Lines (``.jsonl``, or gzip-compressed ``.jsonl.gz``), one object per training of
one student: its architecture string and decisions, the ``mode`` (``"cls"`` for labels only, else
the teacher's name), the seed, validation and test accuracy, measured latency, parameters, MACs,
seconds, and the budget it was trained at. ::

    from akd import load_table
    table = load_table("fashion_mnist-small28")        # the table that ships with akd, or a path
    table.filter(mode="cls", seed=0)                    # labels only, seed 0
    table.filter(teacher="vgg").accuracy()              # arch -> mean validation accuracy
    table.lookup("cn_r1_k3_s1_c8|...")                  # every training of one architecture
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..common.io import json_safe, write_atomic
from ..errors import DataError

LABELS = "cls"  # the mode of a label-only training; any other mode names its teacher
SHIPPED = Path(__file__).resolve().parent / "shipped"  # the tables that ship with akd, by name

# field -> the JSON types it may hold (None: the field may be null, e.g. a failed training)
FIELDS: dict[str, tuple[type, ...]] = {
    "arch": (str,), "decisions": (list,), "mode": (str,), "seed": (int,), "status": (str,),
    "val_acc": (float, int, type(None)), "test_acc": (float, int, type(None)),
    "latency_ms": (float, int), "params": (int,), "macs": (int,), "seconds": (float, int),
    "budget": (dict,), "teacher_test_acc": (float, int, type(None)), "host": (str,),
    "error": (str, type(None)),
}


@dataclass(frozen=True)
class Records:
    """Training records read from a table file: what every table kind holds."""

    records: tuple[dict, ...]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records)


@dataclass(frozen=True)
class Table(Records):
    """Training records, with the lookups a user of the table needs."""

    @property
    def modes(self) -> list[str]:
        """``"cls"`` first (when present), then the teachers by name."""
        return sorted({r["mode"] for r in self.records}, key=lambda mode: (mode != LABELS, mode))

    @property
    def teachers(self) -> list[str]:
        return [mode for mode in self.modes if mode != LABELS]

    @property
    def archs(self) -> list[str]:
        """Every architecture, in the order it first appears."""
        return list(dict.fromkeys(r["arch"] for r in self.records))

    def seeds(self, mode: str | None = None) -> list[int]:
        return sorted({r["seed"] for r in self.records if mode is None or r["mode"] == mode})

    def lookup(self, arch: object) -> Table:
        """Every training of ``arch`` (an architecture string or an ``Architecture``)."""
        text = str(arch)
        return Table(tuple(r for r in self.records if r["arch"] == text))

    def filter(self, mode: str | None = None, teacher: str | None = None,
               seed: int | None = None, ok: bool = True) -> Table:
        """The records of one ``mode`` (``"cls"``, ``"kd"`` for every teacher, or a teacher's
        name), one ``teacher``, one ``seed``; only successful trainings unless ``ok=False``."""
        def keep(r: dict) -> bool:
            return ((mode is None or r["mode"] == mode or (mode == "kd" and r["mode"] != LABELS))
                    and (teacher is None or r["mode"] == teacher)
                    and (seed is None or r["seed"] == seed)
                    and (not ok or r["status"] == "ok"))
        return Table(tuple(r for r in self.records if keep(r)))

    def accuracy(self, metric: str = "val_acc") -> dict[str, float]:
        """Architecture -> mean of ``metric`` over its successful records (filter first)."""
        values: dict[str, list[float]] = {}
        for r in self.records:
            if r["status"] == "ok" and r[metric] is not None:
                values.setdefault(r["arch"], []).append(r[metric])
        return {arch: sum(v) / len(v) for arch, v in values.items()}


TABLE_FILE = "table.jsonl.gz"  # a table directory's table (a build directory, a shipped table)


def table_path(name: str | os.PathLike, file: str = TABLE_FILE) -> Path:
    """A table file, the ``file`` of a table directory, or the shipped one of that name
    (``fashion_mnist-small28``; a ladder passes its own ``file``)."""
    path = Path(name)
    if path.is_dir():
        return path / file
    if path.exists() or path.suffix:
        return path
    return SHIPPED / str(name) / file


def load_table(path: str | os.PathLike) -> Table:
    """The table in ``path`` (``.jsonl`` or ``.jsonl.gz``, or a table directory) or shipped
    under that name; :class:`DataError` naming the file and line of anything malformed."""
    path = table_path(path)
    return Table(read_records(path, "benchmark table", FIELDS))


def read_records(path: Path, what: str, fields: dict[str, tuple[type, ...]]) -> tuple[dict, ...]:
    """The records of a (gzip-compressed) JSON Lines file, each checked to hold ``fields``."""
    if not path.is_file():
        shipped = ", ".join(sorted(p.name for p in SHIPPED.iterdir() if p.is_dir())) \
            if SHIPPED.is_dir() else "none"
        raise DataError(f"{what} {str(path)!r} does not exist; name a .jsonl(.gz) file "
                        f"or a shipped table ({shipped})")
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DataError(f"{what} {str(path)!r} cannot be read: {error}") from None
    return tuple(parse_record(line, f"{path} line {number}", fields)
                 for number, line in enumerate(lines, start=1) if line.strip())


def parse_record(line: str, where: str,
                 fields: dict[str, tuple[type, ...]] = FIELDS) -> dict:
    """One table line as a record; :class:`DataError` naming ``where`` when it is malformed."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{where} is not JSON ({error.msg}); the table is damaged: rebuild it "
                        "or restore the file") from None
    if not isinstance(record, dict):
        raise DataError(f"{where} is not a JSON object; the table is damaged")
    for field, types in fields.items():
        if field not in record:
            raise DataError(f"{where} has no {field!r}; a record holds {', '.join(fields)}")
        value = record[field]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise DataError(f"{where}: {field} = {value!r} has the wrong type; the table is "
                            "damaged")
    return record


def save_table(records: Iterable[dict], path: str | os.PathLike,
               order: Sequence[str] = (), fields: Iterable[str] = tuple(FIELDS)) -> None:
    """Write ``records`` (their ``fields``) as a gzip-compressed table, atomically: by
    architecture (in ``order`` first, then as they come), ``rung`` where there is one, mode
    (``cls`` first) and seed. The gzip header carries no timestamp, so the same records give the
    same bytes."""
    position = {arch: i for i, arch in enumerate(order)}
    records = sorted(records, key=lambda r: (position.get(r["arch"], len(position)), r["arch"],
                                             r.get("rung", 0), r["mode"] != LABELS, r["mode"],
                                             r["seed"]))
    fields = tuple(fields)
    text = "".join(json.dumps(json_safe({f: r[f] for f in fields})) + "\n" for r in records)

    def write(handle) -> None:
        with gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, filename="") as packed:
            packed.write(text.encode())

    write_atomic(path, write)

