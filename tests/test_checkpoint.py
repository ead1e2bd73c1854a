"""jaxnn.checkpoint: bit-exact round trips, atomic writes, clear errors on bad files."""
import errno
import fcntl
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
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


# ----------------------------------------------------------------------------- crashed saves

CHILD = """
import sys, time
import numpy as np
from jaxnn import checkpoint

write_array = np.lib.format.write_array

def write_then_stall(file, array, **options):      # stall after the first (large) array
    write_array(file, array, **options)
    print("writing", flush=True)
    time.sleep(600)

np.lib.format.write_array = write_then_stall
checkpoint.save(sys.argv[1], {"big": np.full(6_000_000, 7.0, np.float32), "small": np.ones(3)},
                {"from": "child"})
"""


def temps_of(path):
    """The temporaries that saves of ``path`` leave in its directory."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.\w+\.jaxnn-tmp")
    return sorted(name for name in os.listdir(path.parent) if pattern.fullmatch(name))


def start_writers(path, count):
    """``count`` processes each saving ~24 MB to ``path``, returned once each has written
    its first array and stalls, half way through its save."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(Path(checkpoint.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(count)]
    deadline = time.monotonic() + 60
    try:
        for child in children:
            ready, _, _ = select.select([child.stdout], [], [], deadline - time.monotonic())
            line = child.stdout.readline() if ready else ""
            assert line == "writing\n", f"writer did not start: {child.stderr.read()}" \
                if child.poll() is not None else "writer timed out"
    except BaseException:
        stop(children)
        raise
    return children


def stop(children):
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()


@pytest.mark.slow
def test_killed_saves_keep_the_old_checkpoint_and_their_temporaries_get_removed(tmp_path):
    path = tmp_path / "ckpt.npz"
    previous = {"w": jnp.asarray(np.random.default_rng(0).normal(size=(500, 40)), jnp.float32),
                "step": 5}
    checkpoint.save(path, previous, {"epoch": 1})
    previous_bytes = path.read_bytes()
    other_orphan = tmp_path / ".other.npz.999999999.abcdefgh.jaxnn-tmp"   # another target's
    other_orphan.write_bytes(b"not ours")
    (tmp_path / "notes.txt").write_text("unrelated")

    children = start_writers(path, 3)
    held = None
    try:
        killed, alive = children[:2], children[2:]
        stop(killed)                                   # SIGKILL in the middle of the save
        names = temps_of(path)
        assert sorted(int(name.split(".")[3]) for name in names) == \
            sorted(child.pid for child in children)
        assert all((tmp_path / name).stat().st_size > 16_000_000 for name in names)
        assert path.read_bytes() == previous_bytes

        # a temporary whose lock is held is live, whatever pid its name gives (here a dead one)
        held_temp = tmp_path / f".ckpt.npz.{killed[0].pid}.heldheld.jaxnn-tmp"
        held_temp.write_bytes(b"being written")
        held = os.open(held_temp, os.O_RDONLY)
        fcntl.flock(held, fcntl.LOCK_EX)

        tree, metadata = checkpoint.load(path)         # removes the killed writers' temporaries
        assert_bit_identical(tree, previous) and metadata == {"epoch": 1}
        live = {f".ckpt.npz.{child.pid}." for child in alive}
        assert sorted(n[:n.index(".", 11) + 1] for n in temps_of(path) if n != held_temp.name) \
            == sorted(live)
        assert held_temp.exists()

        stop(alive)
        os.close(held)
        held = None
        assert len(temps_of(path)) == 2 and path.read_bytes() == previous_bytes
        checkpoint.save(path, {"w": jnp.ones(3)}, {"epoch": 2})   # removes the rest
        assert temps_of(path) == []
    finally:
        stop(children)
        if held is not None:
            os.close(held)
    tree, metadata = checkpoint.load(path)
    assert metadata == {"epoch": 2} and tree["w"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == [other_orphan.name, "ckpt.npz", "notes.txt"]


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_without_flock_a_temporary_is_stale_only_if_its_pid_is_dead_and_it_is_old(tmp_path,
                                                                                   monkeypatch):
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(checkpoint.files.fcntl, "flock", no_flock)
    path = tmp_path / "ckpt.npz"
    hour_ago = time.time() - 3600
    dead = dead_pid()
    temps = {name: tmp_path / f".ckpt.npz.{pid}.{name}.jaxnn-tmp"
             for name, pid in [("dead_old", dead), ("dead_new", dead), ("live_old", os.getpid())]}
    for name, temp in temps.items():
        temp.write_bytes(b"partial")
        if name.endswith("old"):
            os.utime(temp, (hour_ago, hour_ago))
    checkpoint.save(path, {"w": jnp.arange(3.0)})                # works without flock too
    assert not temps["dead_old"].exists()
    assert temps["dead_new"].exists() and temps["live_old"].exists()
    np.testing.assert_array_equal(checkpoint.load(path)[0]["w"], [0.0, 1.0, 2.0])


def test_a_temporary_removed_before_its_writer_locks_it_is_replaced(tmp_path, monkeypatch):
    """Another process's cleanup may see a temporary in the instant between its creation
    and its lock; the writer then notices and makes another."""
    made = []
    mkstemp = checkpoint.files.tempfile.mkstemp

    def racing_mkstemp(**options):
        fd, name = mkstemp(**options)
        made.append(name)
        if len(made) == 1:
            os.unlink(name)
        return fd, name

    monkeypatch.setattr(checkpoint.files.tempfile, "mkstemp", racing_mkstemp)
    path = checkpoint.save(tmp_path / "ckpt.npz", {"w": jnp.arange(3.0)})
    assert len(made) == 2 and re.fullmatch(rf"\.ckpt\.npz\.{os.getpid()}\.\w+\.jaxnn-tmp",
                                           Path(made[0]).name)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    np.testing.assert_array_equal(checkpoint.load(path)[0]["w"], [0.0, 1.0, 2.0])


def test_a_cleanup_running_as_the_writer_renames_leaves_its_temporary_alone(tmp_path,
                                                                           monkeypatch):
    """The writer holds its lock until its temporary is renamed into place."""
    path = tmp_path / "ckpt.npz"
    replace = os.replace

    def cleanup_then_replace(source, target):
        assert checkpoint._remove_stale_temps(path) == []        # as another process would
        assert os.path.exists(source)
        replace(source, target)

    monkeypatch.setattr(checkpoint.files.os, "replace", cleanup_then_replace)
    checkpoint.save(path, {"w": jnp.arange(3.0)})
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# ----------------------------------------------------------------------------- paths

def test_saving_onto_a_directory_says_so_and_suggests_a_file(tmp_path):
    expected = (f"{str(tmp_path)!r}: it is a directory; pass a file path such as "
                f"{str(tmp_path / 'model.npz')!r}")
    with pytest.raises(ValueError, match=re.escape(expected)):
        checkpoint.save(tmp_path, {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="names a directory; pass a file path such as"):
        checkpoint.save(f"{tmp_path}/runs/", {"w": jnp.ones(2)})
    assert os.listdir(tmp_path) == []


def test_saving_under_a_file_or_onto_a_device_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="'/dev/null/x'.*'/dev/null' is not a directory"):
        checkpoint.save("/dev/null/x", {"w": jnp.ones(2)})
    (tmp_path / "file.txt").write_text("a file")
    with pytest.raises(ValueError, match=r"file.txt/sub/x.npz'.*file.txt' is not a directory"):
        checkpoint.save(tmp_path / "file.txt" / "sub" / "x.npz", {"w": jnp.ones(2)})
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="pipe'.*not a regular file"):
        checkpoint.save(fifo, {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="pipe'.*not a regular file"):
        checkpoint.load(fifo)
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "pipe"]


def test_missing_parent_directories_are_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint.save(Path("runs") / "exp1" / "model.npz", {"w": jnp.ones(2)})
    checkpoint.save("model.npz", {"w": jnp.ones(2)})         # no directory part at all
    assert (tmp_path / "runs" / "exp1" / "model.npz").is_file()
    assert (tmp_path / "model.npz").is_file()


def test_loading_a_directory_names_the_checkpoints_in_it(tmp_path):
    with pytest.raises(ValueError, match="it is a directory.*holds no \\*.npz files"):
        checkpoint.load(tmp_path)
    for name in ["b.npz", "a.npz"]:
        checkpoint.save(tmp_path / name, {"w": jnp.ones(2)})
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"is a directory; pass the checkpoint file in it "
                                         r"\(\*.npz there: 'a.npz', 'b.npz'\)"):
        checkpoint.load(str(tmp_path))
    with pytest.raises(ValueError, match="'/dev/null/x'.*'/dev/null' is not a directory"):
        checkpoint.load("/dev/null/x")


def test_missing_checkpoint_suggests_a_near_name(tmp_path):
    checkpoint.save(tmp_path / "model", {"w": jnp.ones(2)})     # saved without .npz
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*model.npz'; did you mean "
                                                r".*model'\?"):
        checkpoint.load(tmp_path / "model.npz")
    checkpoint.save(tmp_path / "best.npz", {"w": jnp.ones(2)})
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*bets.npz'; \*.npz in .*: "
                                                r"'best.npz'"):
        checkpoint.load(tmp_path / "bets.npz")


def test_os_errors_while_saving_name_the_checkpoint_not_the_temporary(tmp_path, monkeypatch):
    path = checkpoint.save(tmp_path / "ckpt.npz", {"w": jnp.arange(3.0)})
    original = path.read_bytes()

    def disk_full(file, arrays):
        file.write(b"PK\x03\x04 some bytes")
        raise OSError(errno.ENOSPC, "No space left on device", file.name)

    monkeypatch.setattr(checkpoint, "_write_npz", disk_full)
    with pytest.raises(OSError, match="cannot save checkpoint to .*ckpt.npz'") as info:
        checkpoint.save(path, {"w": jnp.arange(5.0)})
    assert info.value.errno == errno.ENOSPC and "jaxnn-tmp" not in str(info.value)
    assert path.read_bytes() == original and os.listdir(tmp_path) == ["ckpt.npz"]

    def no_permission(**options):
        raise PermissionError(errno.EACCES, "Permission denied",
                              os.path.join(options["dir"], ".x.1.abc.jaxnn-tmp"))

    monkeypatch.setattr(checkpoint.files.tempfile, "mkstemp", no_permission)
    with pytest.raises(PermissionError, match="ckpt.npz': Permission denied") as info:
        checkpoint.save(path, {"w": jnp.arange(5.0)})
    assert "jaxnn-tmp" not in str(info.value)


# ----------------------------------------------------------------------------- leaves, metadata

def test_more_unsupported_leaves_name_the_leaf(tmp_path):
    path = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"tree\['names'\]: string arrays .*tolist"):
        checkpoint.save(path, {"names": np.array(["cat", "dog"])})
    with pytest.raises(ValueError, match=r"tree\[0\]: string arrays"):
        checkpoint.save(path, [np.array([b"raw"])])
    donated = jnp.ones(3)
    donated.delete()
    with pytest.raises(ValueError, match=r"tree\['w'\]: this jax array has been deleted"):
        checkpoint.save(path, {"w": donated})

    @jax.jit
    def save_inside_jit(w):
        checkpoint.save(path, {"w": w})
        return w

    with pytest.raises(ValueError, match=r"tree\['w'\]: a traced value.*outside"):
        save_inside_jit(jnp.ones(2))
    loop = [jnp.ones(1)]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"tree\[1\]: the tree contains itself"):
        checkpoint.save(path, {"a": 1, "b": loop}["b"])
    assert os.listdir(tmp_path) == []


def test_numpy_scalars_come_back_as_numpy_scalars(tmp_path):
    tree = {"f64": np.float64(1.5), "i64": np.int64(-3), "c128": np.complex128(1 - 2j),
            "f": 1.5}
    loaded, _ = checkpoint.load(checkpoint.save(tmp_path / "s.npz", {**tree, "s": np.str_("relu")}))
    assert loaded.pop("s") == "relu"                    # a numpy str is a str: kept in the JSON
    assert_bit_identical(loaded, tree)
    assert type(loaded["f64"]) is np.float64 and type(loaded["f"]) is float


def test_metadata_mistakes_name_the_key(tmp_path):
    path = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"metadata\['lr'\] is a numpy.float32; .*float\(x\)"):
        checkpoint.save(path, {}, {"epoch": 1, "lr": np.float32(0.1)})
    with pytest.raises(ValueError, match=r"metadata\['history'\]\[1\] is a jaxlib.*Array"):
        checkpoint.save(path, {}, {"history": [0.5, jnp.float32(0.25)]})
    with pytest.raises(ValueError, match=r"metadata\['per_class'\] has the key 0 \(int\); JSON "
                                         r"keys are str \(it would come back as \"0\"\)"):
        checkpoint.save(path, {}, {"per_class": {0: 0.9}})
    with pytest.raises(ValueError, match=r"metadata\[0\] is a builtins.set"):
        checkpoint.save(path, {}, [{1, 2}])
    loop = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match=r"metadata\['self'\] contains itself"):
        checkpoint.save(path, {}, loop)
    with pytest.raises(ValueError, match="'__jaxnn_float__', which is reserved"):
        checkpoint.save(path, {}, {"x": {"__jaxnn_float__": "nan"}})
    assert os.listdir(tmp_path) == []


def stored_header(path):
    with np.load(path) as npz:
        return npz[checkpoint.STRUCTURE_ENTRY].tobytes().decode()


def test_nan_and_infinity_round_trip_through_strict_json(tmp_path):
    metadata = {"history": {"loss": [0.5, math.nan, math.inf]}, "best": -math.inf,
                "pair": (math.nan, 1)}
    tree = {"scalars": [math.nan, math.inf, -math.inf, 0.1], "w": jnp.array([jnp.nan])}
    path = checkpoint.save(tmp_path / "nan.npz", tree, metadata)

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    json.loads(stored_header(path), parse_constant=no_constants)   # strict JSON
    loaded, loaded_metadata = checkpoint.load(path)
    assert_bit_identical(loaded, tree)
    loss = loaded_metadata["history"]["loss"]
    assert loss[0] == 0.5 and math.isnan(loss[1]) and loss[2] == math.inf
    assert loaded_metadata["best"] == -math.inf
    assert math.isnan(loaded_metadata["pair"][0]) and loaded_metadata["pair"][1] == 1


def test_files_with_non_strict_json_from_earlier_versions_still_load(tmp_path):
    path = checkpoint.save(tmp_path / "old.npz", {"x": 1.0}, {"loss": 1.0})
    old_tree = {"type": "dict", "keys": ["x"], "children": [{"type": "float", "value": math.inf}]}
    rewrite_header(path, lambda h: json.dumps({**h, "metadata": {"loss": math.nan},
                                               "tree": old_tree}).encode())
    assert "NaN" in stored_header(path)
    tree, metadata = checkpoint.load(path)
    assert tree == {"x": math.inf} and math.isnan(metadata["loss"])


def test_trusted_modules_none_means_no_extra_modules(tmp_path):
    path = checkpoint.save(tmp_path / "nt.npz", LocalPair(1, 2))
    tree, _ = checkpoint.load(path, trusted_modules=None)
    assert type(tree) is not LocalPair and tree == (1, 2)
