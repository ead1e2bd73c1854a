"""Crash-safe file handling for :mod:`jaxnn.checkpoint`: atomic writes through locked
temporary files, removal of the temporaries that killed writers leave behind, and checks
of the paths given to ``save`` and ``load``, with hints for the usual mistakes.  How it
works is described in :mod:`jaxnn.checkpoint` ("Writes are atomic").
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:          # Windows: no flock, stale temporaries are left alone
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".jaxnn-tmp"
"""Ending of the temporary files :func:`jaxnn.checkpoint.save` writes before renaming them
into place."""
FALLBACK_STALE_AFTER_S = 60.0
"""Without ``flock``: how long a temporary of a dead pid must sit unmodified to be removed
(its pid may belong to a writer on another machine sharing the filesystem)."""

_LISTED_AT_MOST = 10

PathLike = str | os.PathLike


# ----------------------------------------------------------------------------- temporaries

def _flock(fd: int, blocking: bool) -> bool | None:
    """Take an exclusive ``flock`` on ``fd``: True if taken, False if another open file
    holds it, None if this platform or filesystem has no ``flock``."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return None              # ENOLCK, EOPNOTSUPP, EINVAL, ...: no flock here
    return True


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a process on this machine (True when we cannot tell)."""
    if os.name != "posix" or pid <= 0:
        return True              # os.kill(pid, 0) on Windows would send CTRL_C_EVENT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:              # PermissionError: alive, another user's
        return True
    return True


def _temp_pattern(target: Path) -> re.Pattern:
    """Names of the temporaries :func:`jaxnn.checkpoint.save` writes for ``target``
    (group 1: the pid)."""
    return re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[A-Za-z0-9_]+"
                      + re.escape(TEMP_SUFFIX))


def _remove_if_stale(temp: Path, pid: int) -> bool:
    """Remove ``temp`` if no live writer holds it; True if removed."""
    info = os.lstat(temp)
    if not stat.S_ISREG(info.st_mode):
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(temp, flags)
    try:
        opened = os.fstat(fd)
        if not os.path.samestat(info, opened):
            return False
        locked = _flock(fd, blocking=False)
        if locked is False:
            return False         # a live writer holds it
        if locked is None and (_pid_alive(pid)
                               or time.time() - opened.st_mtime < FALLBACK_STALE_AFTER_S):
            return False
        if not os.path.samestat(os.lstat(temp), opened):
            return False         # renamed onto its target meanwhile (or replaced)
        os.unlink(temp)          # while holding the lock: a writer's own lock comes first
        return True
    finally:
        os.close(fd)


def _remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temporaries of ``target`` left by killed writers (best effort: a file we
    may not open or remove is left alone).  Returns the paths removed."""
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    pattern, removed = _temp_pattern(target), []
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        temp = target.parent / name
        with contextlib.suppress(OSError):
            if _remove_if_stale(temp, int(match.group(1))):
                removed.append(temp)
    return removed


def _create_temp(target: Path) -> tuple[int, str, bool]:
    """A new temporary for ``target``, locked: ``(fd, name, locked)``."""
    prefix = f".{target.name}.{os.getpid()}."
    for _ in range(100):
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=TEMP_SUFFIX)
        try:
            locked = _flock(fd, blocking=True)
            try:
                ours = os.path.samestat(os.lstat(name), os.fstat(fd))
            except FileNotFoundError:
                ours = False
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        if locked is not True or ours:
            return fd, name, locked is True
        os.close(fd)             # another process's cleanup took it before our lock did
    raise OSError(errno.EAGAIN, "could not create a temporary file that stays in place")


# ----------------------------------------------------------------------------- writing

def _naming_target(error: OSError, text: str) -> OSError:
    """``error`` (same class, same errno) re-worded to name the checkpoint, not a temporary."""
    message = f"cannot save checkpoint to {text!r}: {error.strerror or error}"
    return OSError(message) if error.errno is None else OSError(error.errno, message)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a new, locked temporary next to ``path``, fsync it and rename it
    onto ``path`` (removing the stale temporaries of ``path`` first).  An ``OSError`` keeps
    its class and errno and names ``path``; the temporary is removed and the old file stays."""
    text = os.fspath(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _naming_target(error, text) from error
    _remove_stale_temps(path)
    try:
        fd, temp_name, locked = _create_temp(path)
    except OSError as error:
        raise _naming_target(error, text) from error
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
            os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600
            if locked:
                os.replace(temp_name, path)   # before closing: the lock marks it as live
        if not locked:
            os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise _naming_target(error, text) from error
        raise
    _fsync_directory(path.parent)


# ----------------------------------------------------------------------------- paths

def _example_file(directory: PathLike) -> str:
    return os.fspath(Path(directory) / "model.npz")


def _not_a_directory_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is not a directory (e.g.
    ``/dev/null`` for ``/dev/null/x``), else None."""
    for ancestor in path.parents:
        if os.path.lexists(ancestor):
            return None if os.path.isdir(ancestor) else ancestor
    return None


def _checkpoints_in(directory: Path) -> str:
    """``'a.npz', 'b.npz'`` for the ``*.npz`` files of ``directory`` (at most 10 listed)."""
    try:
        names = sorted(entry.name for entry in os.scandir(directory)
                       if entry.name.endswith(".npz") and entry.is_file())
    except OSError:
        return ""
    listed = ", ".join(repr(name) for name in names[:_LISTED_AT_MOST])
    more = len(names) - _LISTED_AT_MOST
    return listed + (f" and {more} more" if more > 0 else "")


def _checked_save_path(raw: PathLike) -> Path:
    """``raw`` as a Path, or a ValueError if it cannot name a checkpoint file."""
    text, path = os.fspath(raw), Path(raw)
    where = f"cannot save checkpoint to {text!r}"
    if os.path.isdir(path):
        raise ValueError(f"{where}: it is a directory; pass a file path such as "
                         f"{_example_file(path)!r}")
    if text.endswith(("/", os.sep)):
        raise ValueError(f"{where}: a path ending in {text[-1]!r} names a directory; pass a "
                         f"file path such as {_example_file(path)!r}")
    if os.path.exists(path) and not os.path.isfile(path):
        raise ValueError(f"{where}: it exists and is not a regular file (a device, pipe or "
                         f"socket), which saving would replace; pass a file path such as "
                         f"{_example_file(path.parent)!r}")
    blocker = _not_a_directory_ancestor(path)
    if blocker is not None:
        raise ValueError(f"{where}: {os.fspath(blocker)!r} is not a directory, so "
                         f"nothing can be created under it")
    return path


def _check_load_path(path: Path, text: str) -> None:
    """ValueError / FileNotFoundError, with a hint, unless ``path`` is a regular file."""
    where = f"cannot load checkpoint {text!r}"
    if os.path.isdir(path):
        found = _checkpoints_in(path)
        raise ValueError(f"{where}: it is a directory; pass the checkpoint file in it"
                         + (f" (*.npz there: {found})" if found else
                            " (it holds no *.npz files)"))
    if os.path.exists(path):
        if not os.path.isfile(path):
            raise ValueError(f"{where}: it is not a regular file (a device, pipe or socket)")
        return
    blocker = _not_a_directory_ancestor(path)
    if blocker is not None:
        raise ValueError(f"{where}: {os.fspath(blocker)!r} is not a directory")
    hint = ""
    twin = path.with_name(path.name[:-4]) if path.name.endswith(".npz") else \
        path.with_name(path.name + ".npz")
    if path.name not in (".npz", "") and os.path.isfile(twin):
        hint = f"; did you mean {os.fspath(twin)!r}?"
    elif os.path.isdir(path.parent) and (found := _checkpoints_in(path.parent)):
        hint = f"; *.npz in {os.fspath(path.parent)!r}: {found}"
    raise FileNotFoundError(f"no checkpoint at {text!r}{hint}")
