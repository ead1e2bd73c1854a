"""jaxnn.checkpoint: bit-exact round trips, atomic writes, clear errors on bad files."""
import json
import os
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnn import checkpoint
from jaxnn.checkpoint import CheckpointError


class LocalPair(NamedTuple):          # lives in the test module: not trusted by default
    left: object
    right: object


def assert_bit_identical(actual, expected):
    """Same tree structure, and every leaf of the same type, dtype, shape and bytes."""
    a_leaves, a_def = jax.tree_util.tree_flatten(actual)
    e_leaves, e_def = jax.tree_util.tree_flatten(expected)
    assert a_def == e_def
    for a, e in zip(a_leaves, e_leaves):
        assert type(a) is type(e) or (isinstance(a, jax.Array) and isinstance(e, jax.Array))
        if isinstance(e, jax.Array) and jnp.issubdtype(e.dtype, jax.dtypes.prng_key):
            assert a.dtype == e.dtype
            e, a = jax.random.key_data(e), jax.random.key_data(a)
        if isinstance(e, (np.ndarray, np.generic, jax.Array)):
            assert a.dtype == e.dtype and a.shape == e.shape
            assert np.asarray(a).tobytes() == np.asarray(e).tobytes()
        else:
            assert a == e or (a != a and e != e)      # Python scalar (NaN equals NaN)


def sample_tree():
    rng = np.random.default_rng(0)
    params = {"W": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32),
              "b": jnp.zeros(2, jnp.float32)}
    optimizer = optax.adam(1e-3)
    return {
        "params": params,
        "opt_state": optimizer.init(params),            # (ScaleByAdamState, EmptyState)
        "key": jax.random.key(42),
        "rbg_key": jax.random.key(1, impl="rbg"),
        "raw_key": jax.random.PRNGKey(3),               # legacy uint32 key: just an array
        "split_keys": jax.random.split(jax.random.key(7), 3),
        "dtypes": [jnp.arange(4, dtype=jnp.float64) / 3,
                   jnp.array([-1, 2], jnp.int32), jnp.array([7], jnp.uint32),
                   jnp.array([True, False]), jnp.array([1.1, -2.5], jnp.bfloat16),
                   np.array([np.nan, np.inf, -0.0], np.float16), np.array([3 + 4j], np.complex64),
                   np.arange(6, dtype=np.int8).reshape(2, 3, 1), np.float32(2.5), np.zeros((0, 3))],
        "scalars": (1, 2.5, float("inf"), True, "relu", None),
        "empty": {"list": [], "tuple": (), "dict": {}},
        "pair": LocalPair(jnp.ones(2), [None]),
    }


def test_round_trip_is_bit_identical_with_metadata(tmp_path):
    tree = sample_tree()
    tree["pair"] = tree["pair"]._asdict()      # untrusted NamedTuples are tested below
    metadata = {"epoch": 3, "lr": 1e-3, "history": [0.5, 0.25], "note": "ünïcode"}
    written = checkpoint.save(tmp_path / "ckpt.npz", tree, metadata)
    assert written == tmp_path / "ckpt.npz"
    loaded, loaded_metadata = checkpoint.load(written)
    assert loaded_metadata == metadata
    assert_bit_identical(loaded, tree)
    assert isinstance(loaded["opt_state"][0], optax.ScaleByAdamState)
    assert isinstance(loaded["dtypes"][4], jax.Array) and loaded["dtypes"][4].dtype == jnp.bfloat16
    assert isinstance(loaded["dtypes"][5], np.ndarray)          # numpy stays numpy
    assert list(loaded) == list(tree)                           # key order kept


def test_restored_optimizer_state_and_key_keep_working(tmp_path):
    tree = sample_tree()
    checkpoint.save(tmp_path / "c.npz", {"opt": tree["opt_state"], "key": tree["key"]})
    loaded, metadata = checkpoint.load(tmp_path / "c.npz")
    assert metadata is None
    grads = jax.tree_util.tree_map(jnp.ones_like, tree["params"])
    optimizer = optax.adam(1e-3)
    expected, _ = optimizer.update(grads, tree["opt_state"], tree["params"])
    got, _ = optimizer.update(grads, loaded["opt"], tree["params"])
    assert_bit_identical(got, expected)
    np.testing.assert_array_equal(jax.random.normal(loaded["key"], (3,)),
                                  jax.random.normal(tree["key"], (3,)))


def test_untrusted_namedtuple_becomes_a_stand_in_unless_trusted(tmp_path):
    path = checkpoint.save(str(tmp_path / "nt.npz"), LocalPair(1, jnp.arange(3)))
    stand_in, _ = checkpoint.load(path)
    assert type(stand_in) is not LocalPair and type(stand_in).__name__ == "LocalPair"
    assert stand_in._fields == ("left", "right") and stand_in.left == 1
    np.testing.assert_array_equal(stand_in.right, [0, 1, 2])
    again, _ = checkpoint.load(path)                     # same stand-in class each time
    assert jax.tree_util.tree_structure(again) == jax.tree_util.tree_structure(stand_in)
    trusted, _ = checkpoint.load(path, trusted_modules=LocalPair.__module__)
    assert type(trusted) is LocalPair
    assert_bit_identical(trusted, LocalPair(1, jnp.arange(3)))


def test_parent_directories_created_and_existing_file_replaced(tmp_path):
    path = tmp_path / "a" / "b" / "model.ckpt"
    checkpoint.save(path, {"x": jnp.ones(2)}, {"step": 1})
    checkpoint.save(str(path), {"x": jnp.zeros(3)}, {"step": 2})
    tree, metadata = checkpoint.load(str(path))
    assert metadata == {"step": 2}
    np.testing.assert_array_equal(tree["x"], np.zeros(3))
    assert sorted(os.listdir(path.parent)) == ["model.ckpt"]


def test_failure_mid_write_keeps_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, {"w": jnp.arange(3.0)}, {"epoch": 1})
    original_bytes = path.read_bytes()

    def crash_half_way(file, arrays):
        file.write(b"PK\x03\x04 half of a zip")
        raise RuntimeError("disk full")

    monkeypatch.setattr(checkpoint, "_write_npz", crash_half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.save(path, {"w": jnp.arange(5.0)}, {"epoch": 2})
    assert path.read_bytes() == original_bytes
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    tree, metadata = checkpoint.load(path)
    assert metadata == {"epoch": 1}
    np.testing.assert_array_equal(tree["w"], [0.0, 1.0, 2.0])


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_file_raises_checkpoint_error_naming_path(tmp_path, keep):
    path = checkpoint.save(tmp_path / "ckpt.npz", {"w": jnp.arange(100.0)}, {"a": 1})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="ckpt.npz.*truncated or corrupt") as info:
        checkpoint.load(path)
    assert info.value.path == str(path) and isinstance(info.value, ValueError)


def test_flipped_bytes_in_an_array_are_detected(tmp_path):
    path = checkpoint.save(tmp_path / "ckpt.npz", {"w": jnp.arange(100.0)})
    data = bytearray(path.read_bytes())
    data[300] ^= 0xFF                                  # inside the first array's payload
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="ckpt.npz"):
        checkpoint.load(path)


def test_garbage_and_foreign_files_raise_checkpoint_error(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00\x01 definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="garbage.npz.*not a zip"):
        checkpoint.load(garbage)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w=np.ones(3))                   # a valid .npz, without our structure
    with pytest.raises(CheckpointError, match="foreign.npz.*no '__jaxnn_checkpoint__' entry"):
        checkpoint.load(foreign)

    with pytest.raises(FileNotFoundError, match="missing.npz"):
        checkpoint.load(tmp_path / "missing.npz")


def rewrite_header(path, edit):
    """Rewrite a checkpoint with its JSON header changed by ``edit(header) -> bytes``."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    header = json.loads(arrays[checkpoint.STRUCTURE_ENTRY].tobytes())
    arrays[checkpoint.STRUCTURE_ENTRY] = np.frombuffer(edit(header), np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("edit, message", [
    (lambda h: b"{not json", "not valid JSON"),
    (lambda h: json.dumps({**h, "format": "other"}).encode(), "not a jaxnn.checkpoint header"),
    (lambda h: json.dumps({**h, "version": 99}).encode(), "version 99"),
    (lambda h: json.dumps({**h, "tree": {"type": "dict", "keys": ["w"],
                                         "children": [{**h["tree"]["children"][0],
                                                       "entry": "a7"}]}}).encode(),
     "structure does not match"),
    (lambda h: json.dumps({**h, "tree": {"type": "dict", "keys": ["w"],
                                         "children": [{**h["tree"]["children"][0],
                                                       "shape": [4]}]}}).encode(),
     "structure does not match.*shape"),
    (lambda h: json.dumps({**h, "tree": {"type": "mystery"}}).encode(), "unknown node type"),
])
def test_corrupt_structure_entry_raises_checkpoint_error(tmp_path, edit, message):
    path = checkpoint.save(tmp_path / "ckpt.npz", {"w": jnp.arange(3.0)})
    rewrite_header(path, edit)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_unsupported_values_raise_value_error_naming_the_leaf(tmp_path):
    path = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"tree\['a'\]\[1\]: cannot save a builtins.object"):
        checkpoint.save(path, {"a": [1, object()]})
    with pytest.raises(ValueError, match=r"tree\.left: object arrays"):
        checkpoint.save(path, LocalPair(np.array([None]), 1))
    with pytest.raises(ValueError, match="dict keys must be str"):
        checkpoint.save(path, {1: jnp.ones(1)})
    with pytest.raises(ValueError, match="metadata must be JSON-serializable"):
        checkpoint.save(path, {}, metadata={"array": np.ones(2)})
    assert not path.exists() and os.listdir(tmp_path) == []


def test_float64_saved_with_x64_loads_as_numpy_float64_without_x64(tmp_path):
    values = jnp.arange(3, dtype=jnp.float64) / 3
    path = checkpoint.save(tmp_path / "f64.npz", {"v": values, "f": jnp.ones(2, jnp.float32)})
    with jax.enable_x64(False):
        tree, _ = checkpoint.load(path)
        assert isinstance(tree["v"], np.ndarray) and tree["v"].dtype == np.float64
        assert isinstance(tree["f"], jax.Array) and tree["f"].dtype == jnp.float32
    assert tree["v"].tobytes() == np.asarray(values).tobytes()
    assert Path(path).suffix == ".npz"


def test_saved_file_permissions_follow_the_umask(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        path = checkpoint.save(tmp_path / "perm.npz", {"w": np.zeros(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
