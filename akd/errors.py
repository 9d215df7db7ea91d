"""The errors meant for a user: a bad config, run directory, dataset, teacher or export request.

Each derives from :class:`AkdError`, and the command line prints exactly these as one line and
exits with status 2; any other exception is a bug and keeps its traceback. ``AkdError`` is also a
``ValueError``, so code that caught the ``ValueError`` these used to be still catches them.
"""

from __future__ import annotations


class AkdError(ValueError):
    """A problem with what the user asked for; the message names it and the way out."""


class ConfigError(AkdError):
    """A bad config file or override; the message names the key."""


class RunError(AkdError):
    """The run directory and the request do not fit (nothing to resume, a changed config...)."""


class DataError(AkdError):
    """A dataset that is unknown, missing or unreadable."""


class TeacherError(AkdError):
    """A teacher that is unknown, or whose files are missing or do not fit the dataset."""


class CheckpointError(AkdError):
    """A checkpoint or weights file that akd did not write or that is damaged."""


class ExportError(AkdError):
    """A run that cannot be exported as asked."""
