"""Logging for the commands: akd's library code logs through ``logging.getLogger(__name__)``;
a command calls :func:`configure_logging` once so that those messages reach the terminal, as
plain lines on standard output (errors go to standard error as one line, from the command)."""

from __future__ import annotations

import logging
import sys


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
