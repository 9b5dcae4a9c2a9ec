"""Writing a directory all at once: build it beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(path: str) -> int:
    """The pid in a staging or backup name ``.NAME.tmp-PID-XXXX`` / ``.NAME.old-PID``."""
    try:
        return int(os.path.basename(path).rsplit("-", 2)[-2 if ".tmp-" in path else -1])
    except ValueError:
        return -1


def _recover(target: str) -> None:
    """If a previous swap stopped between its two renames, put the old directory back; remove
    staging and backup directories left by processes that no longer exist."""
    parent, base = os.path.split(os.path.abspath(target))
    backups = sorted(glob.glob(os.path.join(parent, f".{base}.old-*")), key=os.path.getmtime)
    backups = [b for b in backups if not _alive(_owner_pid(b))]
    if backups and not os.path.exists(target):
        os.rename(backups.pop(), target)
    staging = [
        s for s in glob.glob(os.path.join(parent, f".{base}.tmp-*")) if not _alive(_owner_pid(s))
    ]
    for stale in backups + staging:
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str):
    """Yields an empty staging directory; on success it replaces ``target`` whole.

    If the body raises (or the process dies), ``target`` is untouched. A reader sees the old
    complete directory or the new complete one, never a half-written mix; the swap is two
    renames on the same filesystem (old -> backup, staging -> target), so for the instant
    between them ``target`` is absent. If the process dies there, the next
    ``atomic_directory(target)`` restores the backup first. The result has the permissions a
    plain ``mkdir`` would give (``mkdtemp`` alone would make it private to this user).
    """
    target = os.path.abspath(target)
    parent, base = os.path.split(target)
    os.makedirs(parent, exist_ok=True)
    _recover(target)
    staging = tempfile.mkdtemp(prefix=f".{base}.tmp-{os.getpid()}-", dir=parent)
    os.chmod(staging, 0o777 & ~_umask())
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


@contextlib.contextmanager
def atomic_file(path: str, suffix: str = ""):
    """Yields a temporary path beside ``path``; on success it is renamed onto ``path``
    (``os.replace``, atomic on POSIX) with ordinary permissions, on failure removed."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
    """Writes a text file so that readers see the old content or the new, never a part."""
    with atomic_file(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
