"""The commands' set-up: akd's library code logs through ``logging.getLogger(__name__)``;
a command calls :func:`configure_logging` once so that those messages reach the terminal, as
plain lines on standard output, and runs its work through :func:`run_command`, so that an error
meant for the user is one line on standard error and an exit status of 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from ..errors import AkdError


class _Stdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (test captures replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Send akd's messages of ``level`` and above to standard output; idempotent."""
    logger = logging.getLogger("akd")
    logger.setLevel(level)
    if not any(isinstance(handler, _Stdout) for handler in logger.handlers):
        handler = _Stdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)


def run_command(work: Callable[[], int | None], interrupted: str | None = None) -> int:
    """Run a command's ``work`` with logging set up; its exit status (None: 0). An
    :class:`AkdError` is printed as ``error: ...`` and gives 2 (anything else is a bug and keeps
    its traceback); Ctrl-C prints ``interrupted; <interrupted>`` and gives 130 when the command
    says how to continue, else it propagates."""
    configure_logging()
    try:
        return work() or 0
    except AkdError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        print(f"\ninterrupted; {interrupted}", file=sys.stderr)
        return 130
