"""Atomic, pickle-free checkpoints of pytrees plus JSON metadata.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays, each written by
``numpy.lib.format.write_array`` and read by ``numpy.load``, both with
``allow_pickle=False``):

* ``a0``, ``a1``, ...: the array leaves, in the order of a depth-first walk of the tree;
* ``__jaxnn_checkpoint__``: UTF-8 JSON (stored as a uint8 array) holding the format
  version, the user's metadata and the tree's structure, e.g.::

      {"format": "jaxnn.checkpoint", "version": 1, "metadata": {"epoch": 3},
       "tree": {"type": "dict", "keys": ["W", "b"], "children": [
           {"type": "array", "entry": "a0", "kind": "jax", "dtype": "float32", "shape": [2, 3]},
           {"type": "array", "entry": "a1", "kind": "jax", "dtype": "float32", "shape": [3]}]}}

Since the structure is stored, :func:`load` needs no template.  Supported nodes and leaves:

=====================  ====================================================================
dict (str keys)        rebuilt with the same key order
list, tuple, None      rebuilt as themselves
NamedTuple             ``module`` and ``qualname`` recorded.  On load the class is imported
                       only when its module is ``jaxnn``, ``optax`` or ``jax`` (or below
                       them), or listed in ``load(..., trusted_modules=...)``; any other
                       class, or one that cannot be imported, comes back as a
                       ``collections.namedtuple`` with the same name and fields (attribute
                       access works; ``isinstance`` against the original does not).
numpy / jax arrays     any numeric or bool dtype, bit-exact, including ``bfloat16`` and the
                       other ``ml_dtypes`` (stored as same-width unsigned ints + dtype name).
                       Jax arrays come back as jax arrays, numpy arrays (and numpy scalars
                       such as ``np.float64(1.5)``) as numpy.  A 64-bit jax array loaded
                       while ``jax_enable_x64`` is off comes back as a numpy array, so that
                       no value is silently rounded to 32 bits.  String and object arrays
                       are refused (store strings as Python ``str``).
typed PRNG keys        ``jax.random.key(...)``: saved via ``jax.random.key_data`` with the
                       implementation's name, restored by ``jax.random.wrap_key_data``.
Python scalars         ``bool``, ``int``, ``float``, ``str`` kept in the JSON, exactly.
=====================  ====================================================================

The JSON is strict (RFC 8259): it never contains ``NaN`` or ``Infinity``.  A non-finite
Python float in the tree is stored as the string ``"nan"``, ``"inf"`` or ``"-inf"`` in its
node; one in the metadata as the tagged object ``{"__jaxnn_float__": "nan"}`` (or
``"inf"``, ``"-inf"``).  Both come back from :func:`load` as the float they were, so for
example a training history with a diverged (NaN) loss round-trips.  The key
``"__jaxnn_float__"`` is therefore reserved in metadata dicts.

Writes are atomic: the file is written to a temporary file in the target directory,
flushed and fsync'ed, then ``os.replace``'d onto the final name, so an interrupted save
leaves either the old checkpoint or the new one, never half of one.  The temporary is
named ``.<target name>.<pid>.<random>.jaxnn-tmp`` and, while it is written, held under an
exclusive ``fcntl.flock``.  A process killed mid-save (``SIGKILL``, power loss) leaves its
temporary behind; the next :func:`save` or :func:`load` of the same target removes every
such temporary whose lock it can take (a lock dies with its process, so no live writer
holds it).  Where the filesystem has no ``flock``, a temporary counts as stale only when
the pid in its name is not a live process on this machine and it has not been modified
for :data:`FALLBACK_STALE_AFTER_S` seconds.  Another live writer's temporary is never
removed; neither are temporaries of other targets.  On platforms without ``fcntl``
(Windows) stale temporaries are left alone.

Ordinary mistakes raise a ``ValueError`` that names the path, leaf or metadata key and
the fix: saving onto a directory or a device, a path under a file, an unsupported leaf,
metadata that is not JSON.  A truncated, corrupt or foreign file raises
:class:`CheckpointError` naming the path and the problem.
"""
from __future__ import annotations

import collections
import contextlib
import errno
import functools
import importlib
import json
import math
import os
import re
import stat
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

try:
    import fcntl
except ImportError:          # Windows: no flock, stale temporaries are left alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["save", "load", "CheckpointError", "TRUSTED_MODULES"]

FORMAT = "jaxnn.checkpoint"
VERSION = 1
STRUCTURE_ENTRY = "__jaxnn_checkpoint__"
TRUSTED_MODULES: tuple[str, ...] = ("jaxnn", "optax", "jax")
"""Module prefixes whose NamedTuple classes :func:`load` may import."""

TEMP_SUFFIX = ".jaxnn-tmp"
"""Ending of the temporary files :func:`save` writes before renaming them into place."""
FALLBACK_STALE_AFTER_S = 60.0
"""Without ``flock``: how long a temporary of a dead pid must sit unmodified to be removed
(its pid may belong to a writer on another machine sharing the filesystem)."""

FLOAT_TAG = "__jaxnn_float__"
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_LISTED_AT_MOST = 10

PathLike = str | os.PathLike
Node = dict[str, Any]


class CheckpointError(ValueError):
    """A file that is not a readable jaxnn checkpoint (truncated, corrupt or foreign)."""

    def __init__(self, path: PathLike, problem: str):
        super().__init__(f"cannot load checkpoint {os.fspath(path)!r}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


# ----------------------------------------------------------------------------- encoding

def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _non_finite_name(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _storable_array(array: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """The array as numpy can store it without pickle, and the dtype name to restore."""
    dtype = array.dtype
    if dtype.kind == "O":
        raise ValueError(f"{where}: object arrays cannot be saved without pickle; convert "
                         f"to a numeric dtype first")
    if dtype.kind in "US":
        raise ValueError(f"{where}: string arrays ({dtype}) cannot be saved; store the strings "
                         f"as a list of str instead (e.g. array.tolist())")
    if dtype.kind == "V":      # ml_dtypes such as bfloat16: numpy would write them as void
        try:
            known = jnp.dtype(dtype.name) == dtype
        except TypeError:
            known = False
        if not known or dtype.itemsize not in (1, 2, 4, 8):
            raise ValueError(f"{where}: unsupported dtype {dtype}; expected a numeric, bool "
                             f"or ml_dtypes dtype")
        return array.view(f"u{dtype.itemsize}"), dtype.name
    return array, dtype.name


def _check_concrete(tree: jax.Array, where: str) -> None:
    """ValueError for a jax array that has no values to save: traced or deleted."""
    if isinstance(tree, jax.core.Tracer):
        raise ValueError(f"{where}: a traced value (checkpoint.save was called inside "
                         f"jax.jit, grad, vmap or scan); save outside the transformed "
                         f"function, on the arrays it returns")
    if tree.is_deleted():
        raise ValueError(f"{where}: this jax array has been deleted (its buffer was donated "
                         f"to a jitted function, or .delete() was called); save the arrays "
                         f"that function returned instead")


def _encode(tree: Any, arrays: dict[str, np.ndarray], where: str,
            active: set[int] | None = None) -> Node:
    """JSON node for ``tree``; array leaves are appended to ``arrays`` as ``a<i>``.
    ``active``: ids of the containers being encoded, to refuse a tree that contains itself."""
    if tree is None:
        return {"type": "none"}
    if not isinstance(tree, np.generic) or isinstance(tree, str):  # np.float64 is a float
        for scalar_type in (bool, int, float, str):      # bool first: a bool is an int
            if isinstance(tree, scalar_type):
                value = scalar_type(tree)
                if scalar_type is float and not math.isfinite(value):
                    return {"type": "float", "value": _non_finite_name(value)}  # strict JSON
                return {"type": scalar_type.__name__, "value": value}
    if isinstance(tree, jax.Array):
        _check_concrete(tree, where)
    if isinstance(tree, jax.Array) and jnp.issubdtype(tree.dtype, jax.dtypes.prng_key):
        entry = f"a{len(arrays)}"
        arrays[entry] = np.asarray(jax.random.key_data(tree))
        return {"type": "prng_key", "entry": entry, "impl": str(jax.random.key_impl(tree)),
                "shape": list(tree.shape)}
    if isinstance(tree, (jax.Array, np.ndarray, np.generic)):
        kind = "jax" if isinstance(tree, jax.Array) else "numpy"
        array = np.asarray(tree)
        stored, dtype_name = _storable_array(array, where)
        entry = f"a{len(arrays)}"
        arrays[entry] = stored
        return {"type": "array", "entry": entry, "kind": kind, "dtype": dtype_name,
                "shape": list(array.shape), "scalar": isinstance(tree, np.generic)}
    if not isinstance(tree, (Mapping, list, tuple)):
        raise ValueError(f"{where}: cannot save a {_type_name(tree)}; expected dict (str "
                         f"keys), list, tuple, NamedTuple, None, a numpy/jax array, a PRNG "
                         f"key, or bool/int/float/str")
    active = set() if active is None else active
    if id(tree) in active:
        raise ValueError(f"{where}: the tree contains itself (a circular reference); a "
                         f"pytree must be a tree")
    active.add(id(tree))
    try:
        if isinstance(tree, Mapping):
            keys = list(tree)
            if not all(isinstance(k, str) for k in keys):
                raise ValueError(f"{where}: dict keys must be str; got "
                                 f"{[type(k).__name__ for k in keys]}")
            return {"type": "dict", "keys": keys,
                    "children": [_encode(tree[k], arrays, f"{where}[{k!r}]", active)
                                 for k in keys]}
        if _is_namedtuple(tree):
            cls = type(tree)
            return {"type": "namedtuple", "module": cls.__module__,
                    "qualname": cls.__qualname__, "fields": list(cls._fields),
                    "children": [_encode(getattr(tree, f), arrays, f"{where}.{f}", active)
                                 for f in cls._fields]}
        return {"type": "list" if isinstance(tree, list) else "tuple",
                "children": [_encode(c, arrays, f"{where}[{i}]", active)
                             for i, c in enumerate(tree)]}
    finally:
        active.discard(id(tree))


def _encode_metadata(value: Any, where: str, active: set[int]) -> Any:
    """``value`` as strict JSON accepts it (non-finite floats tagged, tuples as lists), or
    a ValueError naming the offending key, e.g. ``metadata['history'][2]``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else {FLOAT_TAG: _non_finite_name(value)}
    if isinstance(value, (Mapping, list, tuple)):
        if id(value) in active:
            raise ValueError(f"metadata must be JSON-serializable: {where} contains itself "
                             f"(a circular reference)")
        active.add(id(value))
        try:
            if not isinstance(value, Mapping):
                return [_encode_metadata(item, f"{where}[{i}]", active)
                        for i, item in enumerate(value)]
            encoded = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError(
                        f"metadata must be JSON-serializable: {where} has the key {key!r} "
                        f"({type(key).__name__}); JSON keys are str (it would come back as "
                        f"{json.dumps(str(key))}), so convert it first, e.g. str(key)")
                if key == FLOAT_TAG:
                    raise ValueError(f"metadata: {where} uses the key {FLOAT_TAG!r}, which "
                                     f"is reserved for storing NaN and infinite floats")
                encoded[key] = _encode_metadata(item, f"{where}[{key!r}]", active)
            return encoded
        finally:
            active.discard(id(value))
    hint = ""
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        hint = ("; convert it with float(x), int(x) or x.tolist(), or save arrays in the "
                "tree instead")
    raise ValueError(f"metadata must be JSON-serializable: {where} is a {_type_name(value)}; "
                     f"metadata may hold dict (str keys), list, tuple, str, int, float, bool "
                     f"and None{hint}")


def _decode_metadata(value: Any) -> Any:
    """Undo :func:`_encode_metadata`'s tagging of non-finite floats."""
    if isinstance(value, dict):
        if len(value) == 1 and value.get(FLOAT_TAG) in _NON_FINITE:
            return _NON_FINITE[value[FLOAT_TAG]]
        return {key: _decode_metadata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_metadata(item) for item in value]
    return value


def _write_npz(file: BinaryIO, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` (one ``<name>.npy`` per array) into an
    open binary file, refusing pickle (``numpy.savez`` gained ``allow_pickle`` only in 2.2)."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


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
    """Names of the temporaries :func:`save` writes for ``target`` (group 1: the pid)."""
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


def _naming_target(error: OSError, text: str) -> OSError:
    """``error`` (same class, same errno) re-worded to name the checkpoint, not a temporary."""
    message = f"cannot save checkpoint to {text!r}: {error.strerror or error}"
    return OSError(message) if error.errno is None else OSError(error.errno, message)


def save(path: PathLike, tree: Any, metadata: Any = None) -> Path:
    """Save a pytree and JSON-serializable ``metadata`` to ``path``, atomically.

    path: file name (str or ``pathlib.Path``); missing parent directories are created, an
    existing file is replaced.  The name is used as given (``numpy`` would append ``.npz``
    to a name without it; we do not).  tree: see the module docstring for what it may hold.
    metadata: dicts (str keys), lists, tuples, str, int, float (NaN and infinities
    included, see the module docstring), bool and None, e.g. ``{"epoch": 3, "lr": 1e-3}``;
    it comes back as JSON gives it (tuples as lists).
    Stale temporaries of ``path`` left by killed saves are removed first.
    Returns the path written.  Raises ``ValueError``, before anything is written, naming
    the offending leaf (e.g. ``tree['opt'][0].mu``) for an unsupported value, the key (e.g.
    ``metadata['lr']``) for metadata that JSON cannot hold, or the path when it is a
    directory, a device, or lies under a file.  An ``OSError`` while writing (disk full,
    no permission) keeps its class and errno and names ``path``; the old file stays.
    """
    path = _checked_save_path(path)
    text = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(tree, arrays, "tree")
    header = json.dumps({"format": FORMAT, "version": VERSION,
                         "metadata": _encode_metadata(metadata, "metadata", set()),
                         "tree": structure}, allow_nan=False)
    arrays[STRUCTURE_ENTRY] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)

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
            _write_npz(file, arrays)
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
    return path


# ----------------------------------------------------------------------------- decoding

def _is_trusted(module: str, trusted: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in trusted)


@functools.lru_cache(maxsize=None)
def _stand_in_namedtuple(typename: str, fields: tuple[str, ...]) -> type:
    """A ``collections.namedtuple`` class standing in for one we may not import
    (cached, so two loads of the same checkpoint give equal tree structures)."""
    return collections.namedtuple(typename, fields)


def _namedtuple_class(node: Node, trusted: tuple[str, ...]) -> type:
    """The recorded class if its module is trusted and importable, else a stand-in."""
    module, qualname, fields = node["module"], node["qualname"], tuple(node["fields"])
    if _is_trusted(module, trusted) and "<locals>" not in qualname:
        try:
            cls: Any = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError):
            cls = None
        if isinstance(cls, type) and tuple(getattr(cls, "_fields", ())) == fields:
            return cls
    return _stand_in_namedtuple(qualname.rsplit(".", 1)[-1], fields)


def _restore_array(node: Node, stored: np.ndarray) -> Any:
    dtype = jnp.dtype(node["dtype"])
    array = stored.view(dtype) if stored.dtype != dtype else stored
    if list(array.shape) != node["shape"]:
        raise ValueError(f"entry {node['entry']} has shape {array.shape}, the structure "
                         f"says {tuple(node['shape'])}")
    if node["kind"] == "numpy":
        return array[()] if node.get("scalar") else array
    if jax.dtypes.canonicalize_dtype(dtype) != dtype:
        return array             # 64-bit with x64 off: jax would round it, keep numpy
    return jnp.asarray(array, dtype=dtype)


def _decode(node: Node, arrays: Mapping[str, np.ndarray], trusted: tuple[str, ...]) -> Any:
    kind = node["type"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "float", "str"):
        value = node["value"]
        if kind == "float":      # "nan", "inf", "-inf" in strict JSON; older files: NaN
            return _NON_FINITE[value] if isinstance(value, str) else float(value)
        return value
    if kind == "array":
        return _restore_array(node, arrays[node["entry"]])
    if kind == "prng_key":
        return jax.random.wrap_key_data(jnp.asarray(arrays[node["entry"]]), impl=node["impl"])
    children = [_decode(child, arrays, trusted) for child in node.get("children", [])]
    if kind == "dict":
        return dict(zip(node["keys"], children, strict=True))
    if kind == "list":
        return children
    if kind == "tuple":
        return tuple(children)
    if kind == "namedtuple":
        return _namedtuple_class(node, trusted)(*children)
    raise ValueError(f"unknown node type {kind!r}")


def _read_entries(path: Path) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` at ``path``, read eagerly so corruption shows here."""
    with path.open("rb") as file:
        leading = file.read(4)
    if leading != b"PK\x03\x04":
        raise CheckpointError(path, "not a zip/.npz file (wrong leading bytes); was it "
                                    "written by jaxnn.checkpoint.save?")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise CheckpointError(path, f"truncated or corrupt file ({error})") from None


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


def load(path: PathLike, *, trusted_modules: Iterable[str] | None = ()) -> tuple[Any, Any]:
    """Load ``(tree, metadata)`` saved by :func:`save`; no template needed.

    trusted_modules: extra module prefixes (e.g. ``"mypackage"`` or a list) whose NamedTuple
    classes may be imported, beyond :data:`TRUSTED_MODULES`.
    Stale temporaries of ``path`` left by killed saves are removed first (best effort).
    Raises ``FileNotFoundError`` for a missing file (suggesting the name with or without
    ``.npz``, or the ``*.npz`` files of its directory), ``ValueError`` for a directory (listing
    its ``*.npz`` files), a device or a path under a file, and :class:`CheckpointError` (a
    ``ValueError``) for a truncated, corrupt or foreign file.
    """
    text, path = os.fspath(path), Path(path)
    _remove_stale_temps(path)
    _check_load_path(path, text)
    arrays = _read_entries(path)
    if STRUCTURE_ENTRY not in arrays:
        raise CheckpointError(path, f"no {STRUCTURE_ENTRY!r} entry describing the tree; "
                                    f"this .npz was not written by jaxnn.checkpoint.save")
    try:
        header = json.loads(arrays.pop(STRUCTURE_ENTRY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"structure entry is not valid JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(path, f"structure entry is not a {FORMAT} header")
    if header.get("version") != VERSION:
        raise CheckpointError(path, f"format version {header.get('version')!r}; this "
                                    f"jaxnn reads version {VERSION}")
    if trusted_modules is None:
        trusted_modules = ()
    extra = (trusted_modules,) if isinstance(trusted_modules, str) else tuple(trusted_modules)
    trusted = TRUSTED_MODULES + extra
    try:
        tree = _decode(header["tree"], arrays, trusted)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"structure does not match the stored arrays "
                                    f"({type(error).__name__}: {error})") from None
    return tree, _decode_metadata(header.get("metadata"))
