"""The exceptions gentk raises, plain Python exceptions with an ``exit_code`` that the CLI
(``gentk.cli``) maps to one ``Error: ...`` line and that exit status; user-fixable ones exit
with 2. The library itself does not depend on the CLI's ``click``."""

from __future__ import annotations

import os

__all__ = [
    "printable",
    "GentkError",
    "UserError",
    "DataError",
    "PluginError",
    "TrainingError",
    "Interrupted",
    "DiskFullError",
]


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\x1b``, ``\n``, ...): messages quote file
    names, headers and values from untrusted input, which must not drive the terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))


class GentkError(Exception):
    """Base class of every error gentk raises on purpose."""


class UserError(GentkError):
    """A problem the user can fix (bad option, unknown name, existing output): exit code 2."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DataError(UserError):
    """Malformed input data; the message names the file and, where known, the line.

    Args:
        message: what is wrong.
        path: the file (or folder) that holds the problem.
        line: 1-based line (or record) number, when there is one.
    """

    def __init__(
        self, message: str, path: str | os.PathLike | None = None, line: int | None = None
    ):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class PluginError(UserError):
    """An unknown plugin entry, a duplicate registration or a broken plugin contract."""


class TrainingError(GentkError):
    """Training could not go on (for example a NaN loss); the last good checkpoint is kept."""

    exit_code = 3


class Interrupted(GentkError):
    """Training stopped on SIGINT or SIGTERM after checkpointing the epoch in progress: exit
    code 130 or 143, as for a process the signal ended."""

    def __init__(self, message: str, signal_name: str = "SIGINT"):
        super().__init__(message)
        self.exit_code = 143 if signal_name == "SIGTERM" else 130


class DiskFullError(GentkError):
    """The disk (or a quota, or a file-size limit) refused a write; nothing half-written is kept.

    Args:
        path: the file being written.
        err: the ``OSError`` the system raised.
    """

    exit_code = 3

    def __init__(self, path: str | os.PathLike, err: OSError):
        import errno

        self.path = str(path)
        self.errno = err.errno
        where = os.path.dirname(os.path.abspath(self.path))
        if err.errno == errno.ENOSPC:
            reason = "no space left"
        else:
            reason = (os.strerror(err.errno) if err.errno else str(err)).lower()
        super().__init__(f"{reason} on {where} while writing {os.path.basename(self.path)}")
