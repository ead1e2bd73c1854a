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
                       Jax arrays come back as jax arrays, numpy arrays as numpy arrays.  A
                       64-bit jax array loaded while ``jax_enable_x64`` is off comes back as
                       a numpy array, so that no value is silently rounded to 32 bits.
typed PRNG keys        ``jax.random.key(...)``: saved via ``jax.random.key_data`` with the
                       implementation's name, restored by ``jax.random.wrap_key_data``.
Python scalars         ``bool``, ``int``, ``float``, ``str`` kept in the JSON, exactly.
=====================  ====================================================================

Writes are atomic: the file is written to a temporary file in the target directory,
flushed and fsync'ed, then ``os.replace``'d onto the final name, so an interrupted save
leaves either the old checkpoint or the new one, never half of one.  A truncated, corrupt
or foreign file raises :class:`CheckpointError` naming the path and the problem.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import importlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["save", "load", "CheckpointError", "TRUSTED_MODULES"]

FORMAT = "jaxnn.checkpoint"
VERSION = 1
STRUCTURE_ENTRY = "__jaxnn_checkpoint__"
TRUSTED_MODULES: tuple[str, ...] = ("jaxnn", "optax", "jax")
"""Module prefixes whose NamedTuple classes :func:`load` may import."""

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


def _storable_array(array: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """The array as numpy can store it without pickle, and the dtype name to restore."""
    dtype = array.dtype
    if dtype.kind == "O":
        raise ValueError(f"{where}: object arrays cannot be saved without pickle; convert "
                         f"to a numeric dtype first")
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


def _encode(tree: Any, arrays: dict[str, np.ndarray], where: str) -> Node:
    """JSON node for ``tree``; array leaves are appended to ``arrays`` as ``a<i>``."""
    if tree is None:
        return {"type": "none"}
    for scalar_type in (bool, int, float, str):          # bool first: a bool is an int
        if isinstance(tree, scalar_type):
            return {"type": scalar_type.__name__, "value": scalar_type(tree)}
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
    if isinstance(tree, Mapping):
        keys = list(tree)
        if not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{where}: dict keys must be str; got "
                             f"{[type(k).__name__ for k in keys]}")
        return {"type": "dict", "keys": keys,
                "children": [_encode(tree[k], arrays, f"{where}[{k!r}]") for k in keys]}
    if _is_namedtuple(tree):
        cls = type(tree)
        return {"type": "namedtuple", "module": cls.__module__, "qualname": cls.__qualname__,
                "fields": list(cls._fields),
                "children": [_encode(getattr(tree, f), arrays, f"{where}.{f}")
                             for f in cls._fields]}
    if isinstance(tree, (list, tuple)):
        return {"type": "list" if isinstance(tree, list) else "tuple",
                "children": [_encode(c, arrays, f"{where}[{i}]") for i, c in enumerate(tree)]}
    raise ValueError(f"{where}: cannot save a {type(tree).__module__}."
                     f"{type(tree).__qualname__}; expected dict (str keys), list, tuple, "
                     f"NamedTuple, None, a numpy/jax array, a PRNG key, or bool/int/float/str")


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


def save(path: PathLike, tree: Any, metadata: Any = None) -> Path:
    """Save a pytree and JSON-serializable ``metadata`` to ``path``, atomically.

    path: file name (str or ``pathlib.Path``); parent directories are created, an existing
    file is replaced.  The name is used as given (``numpy`` would append ``.npz`` to a
    name without it; we do not).  tree: see the module docstring for what it may hold.
    metadata: anything ``json.dumps`` accepts (e.g. ``{"epoch": 3, "lr": 1e-3}``); it
    comes back as JSON gives it (tuples as lists).
    Returns the path written.  Raises ``ValueError`` naming the offending leaf (e.g.
    ``tree['opt'][0].mu``) for an unsupported value, before anything is written.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(tree, arrays, "tree")
    try:
        header = json.dumps({"format": FORMAT, "version": VERSION, "metadata": metadata,
                             "tree": structure})
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata must be JSON-serializable: {error}") from None
    arrays[STRUCTURE_ENTRY] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; honour the umask
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
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
        return float(value) if kind == "float" else value
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


def load(path: PathLike, *, trusted_modules: Iterable[str] = ()) -> tuple[Any, Any]:
    """Load ``(tree, metadata)`` saved by :func:`save`; no template needed.

    trusted_modules: extra module prefixes (e.g. ``"mypackage"`` or a list) whose NamedTuple
    classes may be imported, beyond :data:`TRUSTED_MODULES`.
    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (a
    ``ValueError``) for a truncated, corrupt or foreign one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}")
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
    extra = (trusted_modules,) if isinstance(trusted_modules, str) else tuple(trusted_modules)
    trusted = TRUSTED_MODULES + extra
    try:
        tree = _decode(header["tree"], arrays, trusted)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"structure does not match the stored arrays "
                                    f"({type(error).__name__}: {error})") from None
    return tree, header.get("metadata")
