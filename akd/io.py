"""The one way akd writes files that must survive a crash, and reads JSON Lines back.

* :func:`write_atomic` and its wrappers write to a temporary file named after the target and the
  writing process, fsync it, then rename it over the target: a reader sees the old file or the
  new one, never half of each, and two processes writing the same file (two runs sharing a
  ``cache_dir``) never write into each other's temporary file.
* :func:`append_line` appends one JSON object as a line, flushed and fsynced before it returns;
  :func:`read_lines` reads the complete lines back. A line cut short by ``kill -9`` is the only
  damage an append can suffer: reading cuts it off the file (``repair=True``) so that later
  appends stay well-formed, or, for read-only readers such as the report, ignores it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import torch


def partial_path(path: Path) -> Path:
    """The temporary name this process writes ``path`` under before renaming it."""
    return path.with_name(f"{path.name}.{os.getpid()}.partial")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", **options: Any) -> Iterator[IO]:
    """An open file that becomes ``path`` when the block ends without an error (fsynced, then
    renamed); on an error the temporary file is removed and ``path`` is left as it was.
    ``options`` go to ``open`` (e.g. ``newline=""`` for CSV)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with open(partial, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, write: Callable[[IO], Any], mode: str = "wb",
                 **options: Any) -> None:
    """Call ``write(handle)`` on the temporary file of ``path``, then put it in place."""
    with atomic_file(path, mode, **options) as handle:
        write(handle)


def save_atomic(value: Any, path: str | os.PathLike) -> None:
    """``torch.save`` of ``value`` to ``path``, atomically."""
    write_atomic(path, lambda handle: torch.save(value, handle))


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text), mode="w")


def write_json(path: str | os.PathLike, value: Any) -> None:
    """``value`` as indented JSON (NaN and infinities as null), atomically."""
    write_text(path, json.dumps(json_safe(value), indent=1) + "\n")


def write_lines(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """Replace a JSON Lines file with ``records``, atomically."""
    write_text(path, "".join(json.dumps(json_safe(r)) + "\n" for r in records))


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line in a single ``write`` with ``O_APPEND``, fsynced before returning:
    processes appending to the same file (both search arms, a latency cache shared by runs)
    never interleave their lines."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(json_safe(record)) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: str | os.PathLike, repair: bool = True) -> list[dict]:
    """Every complete line of a JSON Lines file ([] when it does not exist); a torn last line
    is cut off the file, or with ``repair=False`` ignored and the file left as it is."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data) and repair:
        warnings.warn(f"{path}: dropping a line cut short by a crash; that work is done again",
                      stacklevel=2)
        with open(path, "r+b") as handle:
            handle.truncate(len(complete))
    return [json.loads(line) for line in complete.decode().splitlines() if line.strip()]


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
