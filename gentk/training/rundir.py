"""Run directories: the lock that keeps two runs out of one directory, and how an old run is
set aside by ``--force`` and given back if the new run fails before its first checkpoint.

The lock is an OS lock (``flock``) on ``.NAME.lock`` beside the run directory ``NAME``, not
inside it: ``--force`` renames the old directory, and a lock inside it would move with it. It
is taken on the resolved path, so a symlink to a run directory locks the run it points at. The
kernel drops the lock when the holding process dies, so a killed run never leaves a stale lock.
The file holds the holder's pid for the error message; the holder deletes it on release while
still holding the lock, and a taker checks that the file it locked is still the one at the path
(else it takes the new one), so deleting never lets two processes in.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gentk.errors import UserError

__all__ = [
    "RunLock",
    "inspect_run_dir",
    "set_aside",
    "backup_path",
    "check_output_path",
    "stranded_note",
    "START_FILES",
]

# what a run that failed before its first checkpoint leaves; such a directory may be reused
START_FILES = {"config.toml", "run.json", "run.log", "tensorboard"}


def _lock_file(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RunLock:
    """An exclusive lock on a run directory for the life of a run (a context manager).

    Raises:
        UserError: another process holds the lock; the message names its pid.
    """

    def __init__(self, run_dir: str | os.PathLike, what: str = "run directory"):
        run_dir = check_output_path(run_dir, what)
        self.run_dir, self.what = run_dir, what
        self.path = run_dir.parent / f".{run_dir.name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _lock_file(fd):
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise UserError(
                    f"{self.what} {self.run_dir} is in use by another gentk process "
                    f"(pid {holder}); wait for it to finish or choose another --output"
                )
            try:  # the holder before us may have deleted the file we locked
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.path)  # while still held: see the module's docstring
            except OSError:
                pass
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def check_output_path(path: str | os.PathLike, what: str = "output") -> Path:
    """``path`` resolved (symlinks followed), refused when it cannot be a directory gentk owns:
    the file-system root, the current directory or one of its parents.

    Raises:
        UserError: naming the path and why.
    """
    resolved = Path(path).expanduser().resolve()
    if not resolved.name:
        raise UserError(f"{what} {path} is the file-system root; choose a directory below it")
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        where = "the current directory" if resolved == cwd else "a parent of the current directory"
        raise UserError(f"{what} {path} is {where}; choose a new directory inside it")
    return resolved


def backup_path(run_dir: Path) -> Path:
    """Where ``--force`` keeps the previous run until the new one has finished."""
    run_dir = Path(run_dir)
    return run_dir.with_name(run_dir.name + ".old")


def stranded_note(run_dir: Path) -> str:
    """A sentence (or "") about a previous run left in ``NAME.old`` by a ``--force`` run that
    was killed before its first checkpoint."""
    backup = backup_path(Path(run_dir))
    if not backup.is_dir():
        return ""
    return (
        f"; the previous run is kept in {backup} (a --force run was stopped before its first "
        f"checkpoint): rename it back to {Path(run_dir).name}, or run with --force again"
    )


def inspect_run_dir(run_dir: Path, *, resume: bool, force: bool) -> str:
    """Say what to do with ``run_dir`` without touching it: ``"new"`` (absent, empty, or left
    by a failed start), ``"resume"`` or ``"replace"`` (``--force`` over an existing run).

    Raises:
        UserError: the directory holds a run and neither ``--resume`` nor ``--force`` was given,
            or ``--resume`` finds no checkpoint.
    """
    from gentk.training.callbacks import read_checkpoint_state

    names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"output {run_dir} exists and is not a directory")
    if resume:
        if not names or read_checkpoint_state(run_dir) is None:
            raise UserError(
                f"--resume: {run_dir} holds no checkpoint to resume from{stranded_note(run_dir)}"
            )
        return "resume"
    if not names or ("run.json" in names and names <= START_FILES):
        return "new"
    if not force:
        raise UserError(
            f"output directory {run_dir} already holds files; pass --resume to continue "
            "that run or --force to replace it"
        )
    if "run.json" not in names:
        raise UserError(
            f"--force: {run_dir} is not a gentk run (no run.json), so it is not replaced; "
            "choose another --output or empty it yourself"
        )
    return "replace"


def set_aside(run_dir: Path) -> Path | None:
    """Move an existing run out of the way as ``NAME.old``; return where it went (or None).

    A finished run (one with ``metrics.json``) always becomes the backup. An unfinished one is
    discarded when a backup already exists: that backup is the last finished run, left there by
    a ``--force`` run that was killed.
    """
    backup = backup_path(run_dir)
    if not run_dir.exists():
        return backup if backup.exists() else None
    if backup.exists() and not (run_dir / "metrics.json").exists():
        shutil.rmtree(run_dir)
        return backup
    if backup.exists():
        shutil.rmtree(backup)
    run_dir.rename(backup)
    return backup
