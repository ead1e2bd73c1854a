"""The checkpoint format: a pytree and its metadata as the arrays and the JSON header of an
``.npz`` file, and back.  The layout, and what a tree may hold, are described in
:mod:`jaxnn.checkpoint`; the crash-safe writing of the file is in :mod:`jaxnn.checkpoint.files`.
"""
from __future__ import annotations

import collections
import functools
import importlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

FORMAT = "jaxnn.checkpoint"
VERSION = 1
STRUCTURE_ENTRY = "__jaxnn_checkpoint__"
FLOAT_TAG = "__jaxnn_float__"
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

Node = dict[str, Any]


class CheckpointError(ValueError):
    """A file that is not a readable jaxnn checkpoint (truncated, corrupt or foreign)."""

    def __init__(self, path: str | os.PathLike, problem: str):
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


def _encode_leaf(tree: Any, arrays: dict[str, np.ndarray], where: str) -> Node | None:
    """JSON node for a leaf (None, a Python scalar, an array or a PRNG key), its array
    appended to ``arrays`` as ``a<i>``; None when ``tree`` is not a leaf."""
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
    return None


def _encode(tree: Any, arrays: dict[str, np.ndarray], where: str,
            active: set[int] | None = None) -> Node:
    """JSON node for ``tree``; array leaves are appended to ``arrays`` as ``a<i>``.
    ``active``: ids of the containers being encoded, to refuse a tree that contains itself."""
    leaf = _encode_leaf(tree, arrays, where)
    if leaf is not None:
        return leaf
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


def _encode_entries(tree: Any, metadata: Any) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz``: the leaves ``a0``, ``a1``, ... and the JSON header.
    Raises ValueError naming the leaf or metadata key that cannot be saved."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(tree, arrays, "tree")
    header = json.dumps({"format": FORMAT, "version": VERSION,
                         "metadata": _encode_metadata(metadata, "metadata", set()),
                         "tree": structure}, allow_nan=False)
    arrays[STRUCTURE_ENTRY] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)
    return arrays


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


def _read_header(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Remove the JSON header from ``arrays`` and return it, checked to be a header of this
    format and version (a CheckpointError otherwise)."""
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
    return header
