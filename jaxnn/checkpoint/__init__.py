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

import os
from pathlib import Path
from typing import Any, Iterable

# The format is in format.py, the crash-safe file handling in files.py; the constants are
# imported too, so that checkpoint.STRUCTURE_ENTRY, checkpoint.TEMP_SUFFIX etc. still work.
from jaxnn.checkpoint.files import (FALLBACK_STALE_AFTER_S, TEMP_SUFFIX, PathLike,
                                    _check_load_path, _checked_save_path,
                                    _remove_stale_temps, _write_atomically)
from jaxnn.checkpoint.format import (FLOAT_TAG, FORMAT, STRUCTURE_ENTRY, VERSION,
                                     CheckpointError, _decode, _decode_metadata,
                                     _encode_entries, _read_entries, _read_header, _write_npz)

__all__ = ["save", "load", "CheckpointError", "TRUSTED_MODULES"]

TRUSTED_MODULES: tuple[str, ...] = ("jaxnn", "optax", "jax")
"""Module prefixes whose NamedTuple classes :func:`load` may import."""


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
    arrays = _encode_entries(tree, metadata)
    _write_atomically(path, lambda file: _write_npz(file, arrays))
    return path


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
    header = _read_header(path, arrays)
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
