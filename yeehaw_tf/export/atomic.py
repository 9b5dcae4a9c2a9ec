"""Writing a directory all at once: build it beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile


def _recover(target: str) -> None:
    """If a previous swap stopped between its two renames, put the old directory back."""
    parent, base = os.path.split(os.path.abspath(target))
    backups = sorted(glob.glob(os.path.join(parent, f".{base}.old-*")), key=os.path.getmtime)
    if backups and not os.path.exists(target):
        os.rename(backups.pop(), target)
    for stale in backups + glob.glob(os.path.join(parent, f".{base}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str):
    """Yields an empty staging directory; on success it replaces ``target`` whole.

    If the body raises (or the process dies), ``target`` is untouched: a reader sees either the
    old complete directory or the new complete one, never a half-written mix. The swap is two
    renames on the same filesystem (old -> backup, staging -> target); if the process dies
    between them, the next ``atomic_directory(target)`` restores the backup first.
    """
    target = os.path.abspath(target)
    parent, base = os.path.split(target)
    os.makedirs(parent, exist_ok=True)
    _recover(target)
    staging = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    backup = None
    if os.path.exists(target):
        backup = os.path.join(parent, f".{base}.old-{os.getpid()}")
        os.rename(target, backup)
    os.rename(staging, target)
    if backup:
        shutil.rmtree(backup, ignore_errors=True)


def atomic_write_text(path: str, text: str) -> None:
    """Writes a text file through a temporary file and ``os.replace`` (atomic on POSIX)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
