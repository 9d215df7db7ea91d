"""The one way akd writes files that must survive a crash, and reads JSON Lines back.

* :func:`write_atomic` and its wrappers write to a temporary file named after the target and the
  writing process, fsync it, then rename it over the target: a reader sees the old file or the
  new one, never half of each, and two processes writing the same file (two runs sharing a
  ``cache_dir``) never write into each other's temporary file.
* :func:`save_cached` and :func:`load_cached` keep a cache entry with the hash of its bytes
  beside it; an entry that fails to load or whose bytes disagree with the hash (a crash while
  copying, a full disk, a flipped bit) is reported in one warning line, moved aside and treated
  as missing, so the caller rebuilds it: a run never dies of a damaged cache entry, and never
  silently uses a wrong one.
* :func:`append_line` appends one JSON object as a line, flushed and fsynced before it returns;
  :func:`read_lines` reads the complete lines back. A line cut short by ``kill -9`` is the only
  damage an append can suffer: reading cuts it off the file (``repair=True``) so that later
  appends stay well-formed, or, for read-only readers such as the report, ignores it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import torch

from ..errors import DataError, RunError

log = logging.getLogger(__name__)


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


def save_cached(value: Any, path: str | os.PathLike) -> None:
    """``torch.save`` of a cache entry to ``path``, atomically, with ``<path>.sha256`` (the hash
    of its bytes) beside it."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(value, buffer)
    data = buffer.getvalue()
    write_atomic(path, lambda handle: handle.write(data))
    write_text(_digest_path(path), hashlib.sha256(data).hexdigest() + "\n")


def load_cached(path: str | os.PathLike) -> Any | None:
    """The cache entry at ``path`` (``weights_only``), or None when there is none or it is
    damaged (then it is moved aside to ``<path>.damaged`` with a warning, for the caller to
    rebuild). An entry written without a hash beside it is checked by loading alone."""
    path = Path(path)
    if not path.exists():
        return None
    data = path.read_bytes()
    expected = _digest_path(path)
    problem = None
    if expected.exists() and expected.read_text().strip() != hashlib.sha256(data).hexdigest():
        problem = "its bytes do not match the hash stored beside it"
    else:
        try:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, not a torch file, or unsafe to load
            problem = f"it cannot be loaded ({type(error).__name__}: {str(error).splitlines()[0]})"
    aside = path.with_name(path.name + ".damaged")
    os.replace(path, aside)
    expected.unlink(missing_ok=True)
    log.warning(f"warning: cache entry {path} is damaged ({problem}); moved it to {aside.name} "
                "and building it again")
    return None


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def check_out(out: str | os.PathLike, markers: str | tuple[str, ...] = (),
              what: str = "this command's output") -> Path:
    """The rule of every command's ``--out``, applied before any work: a file is refused, and a
    non-empty directory that holds none of ``markers`` (the files the command itself writes
    first) is not the command's, and is refused rather than written into. The path."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {str(out)!r} is a file; name a directory for {what}")
    markers = (markers,) if isinstance(markers, str) else markers
    if markers and out.is_dir() and any(out.iterdir()) and \
            not any((out / marker).exists() for marker in markers):
        raise RunError(f"--out {str(out)!r} holds other files and no {' or '.join(markers)}: it "
                       f"is not {what}; name an empty or new directory")
    return out


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text), mode="w")


def read_json(path: str | os.PathLike, keys: tuple[str, ...] = ()) -> dict:
    """A JSON object a command wrote (its settings, options, results), with ``keys`` present;
    a one-line :class:`DataError` naming the file when it is damaged, since a traceback would
    only say that some file somewhere is not JSON."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise DataError(f"{path} is damaged ({reason}): restore it from a copy, or delete it and "
                        "rerun to make it again") from None
    missing = [key for key in keys if not isinstance(value, dict) or key not in value]
    if not isinstance(value, dict) or missing:
        raise DataError(f"{path} is damaged (no {', '.join(missing) or 'JSON object'}): restore "
                        "it from a copy, or delete it and rerun to make it again")
    return value


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
    return [_parse_line(line, path, number)
            for number, line in enumerate(complete.splitlines(), start=1) if line.strip()]


def _parse_line(line: bytes, path: Path, number: int) -> dict:
    """One complete line as a JSON object; :class:`DataError` naming the file and line when it is
    not one (a crash only ever tears the last line, which :func:`read_lines` cuts off: damage
    anywhere else is not akd's own and must not be guessed around)."""
    try:
        record = json.loads(line.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise DataError(f"{path} line {number} is not JSON ({reason}); the file is damaged: "
                        "restore it from a copy, or delete that line and rerun to redo its "
                        "work") from None
    if not isinstance(record, dict):
        raise DataError(f"{path} line {number} is not a JSON object; the file is damaged: "
                        "restore it, or delete that line and rerun to redo its work")
    return record


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
