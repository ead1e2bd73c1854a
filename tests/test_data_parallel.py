"""Data parallelism (jaxnn.parallel, fit/evaluate/predict(mesh=...)).

The multi-device checks need 8 XLA CPU devices, which exist only if XLA_FLAGS is set before
jax is imported (conftest imports it first), so they run in ONE subprocess,
tests/data_parallel_check.py, whose JSON the tests below assert on: 8 devices vs 1 for an
MLP and a CNN, both gradient paths, with dropout, to float32 round-off; the compiled
epoch's collectives; evaluate/predict; resume; the compile cache; the bad-input messages.
What one device can check runs here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from jaxnn import cli, models, parallel, train

HERE = Path(__file__).resolve().parent
RTOL = 1e-5  # float32 round-off after 2 epochs: the per-device partial sums add in another order


@pytest.fixture(scope="module")
def eight_devices() -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(HERE / "data_parallel_check.py")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- 8 devices vs 1

@pytest.mark.parametrize("case", ["mlp autodiff", "mlp backprop", "cnn autodiff", "cnn backprop"])
def test_eight_devices_train_like_one_to_float32_round_off(eight_devices, case):
    assert eight_devices["devices"] == 8 and eight_devices["threefry_partitionable"]
    found = eight_devices[case]
    assert found["loss moved"], "the runs must train (dropout on), or equality says nothing"
    assert found["params"] < RTOL, found
    assert found["loss"] < RTOL and found["val_loss"] < RTOL, found
    assert found["replicated"], "the returned params are replicated on all 8 devices"


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_compiled_epoch_all_reduces_the_gradients_in_the_loop_and_gathers_no_data(eight_devices, grad):
    found = eight_devices["collectives"][grad]
    assert found["in_loop"]["all-reduce"] == 1, found  # one (combined) all-reduce of the gradients per step
    for op in ("all-gather", "all-to-all", "collective-permute", "reduce-scatter"):
        assert found["in_loop"][op] == 0 and found["outside_loop"][op] == 0, found
    assert found["outside_loop"]["all-reduce"] == 0, found


def test_shard_optimizer_trains_like_one_device_with_the_state_split(eight_devices):
    """ZeRO stage 1: the same run as one device; Adam's moments of a (16, 32) weight live as
    (2, 32) slices on each of the 8 devices, the (10,) bias's whole on each; the compiled
    epoch all-reduces the gradients and gathers the updated params inside its loop; outside
    it at most the final params are gathered (XLA may carry them split), never data."""
    found = eight_devices["shard_optimizer"]
    assert found["params"] < RTOL and found["loss"] < RTOL and found["val_loss"] < RTOL, found
    assert found["replicated"], "fit returns params whole on every device"
    layouts = {(tuple(shape), replicated, rows) for shape, replicated, rows in found["state layout"]}
    assert ((16, 32), False, 2) in layouts and ((10,), True, 10) in layouts and ((), True, 0) in layouts, layouts
    in_loop, outside = found["collectives"]["in_loop"], found["collectives"]["outside_loop"]
    assert in_loop["all-reduce"] >= 1 and in_loop["all-gather"] >= 1, found["collectives"]
    assert outside["all-gather"] <= 3 and outside["all-reduce"] == 0, found["collectives"]  # 3 split params


def test_shard_optimizer_needs_a_mesh_and_a_bool():
    model = models.mlp([3])
    _, params = model.init(jax.random.key(0), (2,))
    x, y = np.zeros((8, 2), np.float32), np.zeros(8, np.int32)
    with pytest.raises(ValueError, match=r"shard_optimizer=True splits the optimizer state over the devices of a mesh"):
        train.fit(model, params, "softmax_cross_entropy", "sgd", x, y, epochs=1, batch_size=4, key=0,
                  shard_optimizer=True, progress=False)
    with pytest.raises(ValueError, match=r"shard_optimizer must be True or False, got 'yes'"):
        train.fit(model, params, "softmax_cross_entropy", "sgd", x, y, epochs=1, batch_size=4, key=0, mesh=1,
                  shard_optimizer="yes", progress=False)


def test_evaluate_and_predict_on_eight_devices_agree_with_one(eight_devices):
    found = eight_devices["inference"]
    assert found["shape"] and found["same metrics"], found
    assert found["predict"] < RTOL and found["evaluate"] < RTOL, found


def test_resume_and_compile_cache_on_eight_devices(eight_devices):
    found = eight_devices["resume and cache"]
    assert found["resumed"] == 0.0 and found["resumed epochs"] == [1, 2], found
    assert found["new programs for equal meshes"] == 0, "a rebuilt equal mesh (or mesh=8) reuses the program"
    assert found["new programs for another mesh"] == 1, "the mesh is part of the compile-cache key"


def test_bad_inputs_on_eight_devices_name_the_sizes_and_the_fix(eight_devices):
    found = eight_devices["bad inputs"]
    assert "batch_size=30 is the global batch and must divide by the 8 devices" in found["indivisible batch"]
    assert "such as 24 or 32" in found["indivisible batch"]
    assert ("the 20 training examples are fewer than one global batch of 32 (8 devices x 4 per device)"
            in found["dataset below one batch"])
    assert "lower batch_size to a multiple of 8 at most 20 (e.g. 16)" in found["dataset below one batch"]
    assert "9 devices asked for, but JAX sees 8" in found["too many devices"]
    assert "xla_force_host_platform_device_count=9" in found["too many devices"]


# ----------------------------------------------------------------------------- one device

def test_data_mesh_builds_a_data_axis_from_a_count_or_devices():
    assert parallel.data_mesh(None) is None and parallel.data_size(None) == 1
    by_count = parallel.data_mesh(1)
    assert by_count.axis_names == (parallel.DATA_AXIS,) and parallel.data_size(by_count) == 1
    assert parallel.data_mesh(jax.devices()[:1]) == by_count
    two_axes = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("replica", parallel.DATA_AXIS))
    assert parallel.data_mesh(two_axes) is two_axes


@pytest.mark.parametrize("mesh, message", [
    (Mesh(np.array(jax.devices()[:1]), ("batch",)), r"the mesh's axes are \('batch',\) .* an axis named 'data'"),
    (len(jax.devices()) + 1, rf"{len(jax.devices()) + 1} devices asked for, but JAX sees {len(jax.devices())}"),
    (0, "0 devices asked for"),
    ([jax.devices()[0]] * 2, r"distinct devices, got 2 devices \(1 distinct\)"),
    ("cpu", "mesh must be None, a jax.sharding.Mesh"),
])
def test_fit_rejects_a_mesh_it_cannot_use(mesh, message):
    model = models.mlp([3])
    _, params = model.init(jax.random.key(0), (2,))
    x, y = np.zeros((8, 2)), np.zeros((8,), np.int32)
    with pytest.raises(ValueError, match=message):
        train.fit(model, params, "softmax_cross_entropy", "sgd", x, y, epochs=1, batch_size=4, key=0, mesh=mesh)


def test_fit_on_a_one_device_mesh_equals_fit_without_one_and_has_its_own_program():
    model = models.mlp([4, 3], dropout_rate=0.25)
    _, params = model.init(jax.random.key(0), (2,))
    x = np.asarray(jax.random.normal(jax.random.key(1), (24, 2)))
    y = np.arange(24, dtype=np.int32) % 3
    fit = lambda mesh: train.fit(model, params, "softmax_cross_entropy", "adam", x, y, epochs=2, batch_size=8,
                                 key=5, mesh=mesh, progress=False)
    alone, history = fit(None)
    before = train._compiled_epoch.cache_info().currsize
    meshed, meshed_history = fit(1)
    assert train._compiled_epoch.cache_info().currsize == before + 1
    fit(Mesh(np.array(jax.devices()[:1]), (parallel.DATA_AXIS,)))  # rebuilt, equal: no new program
    assert train._compiled_epoch.cache_info().currsize == before + 1
    np.testing.assert_allclose(meshed_history["loss"], history["loss"], rtol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(alone), jax.tree_util.tree_leaves(meshed)):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_collectives_counts_ops_inside_and_outside_loops():
    hlo = """HloModule m

%add (a: f32[], b: f32[]) -> f32[] {
  ROOT %s = f32[] add(f32[] %a, f32[] %b)
}

%body (p: (s32[], f32[4])) -> (s32[], f32[4]) {
  %g = f32[4]{0} get-tuple-element(%p), index=1
  %r = f32[4]{0} all-reduce(f32[4]{0} %g), replica_groups={}, to_apply=%add
  ROOT %t = (s32[], f32[4]) tuple(%i, %r)
}

%cond (p: (s32[], f32[4])) -> pred[] {
  ROOT %c = pred[] constant(true)
}

ENTRY %main (x: f32[4]) -> f32[8] {
  %w = (s32[], f32[4]) while(%init), condition=%cond, body=%body
  %ag = f32[8]{0} all-gather-start(f32[4]{0} %x), dimensions={0}
  ROOT %d = f32[8]{0} all-gather-done(%ag)
}
"""
    found = parallel.collectives(hlo)
    assert found["in_loop"]["all-reduce"] == 1 and found["in_loop"]["all-gather"] == 0
    assert found["outside_loop"]["all-gather"] == 1 and found["outside_loop"]["all-reduce"] == 0


def test_cli_train_on_devices(tmp_path, capsys):
    run = ["train", "--data", "iris", "--hidden", "4", "--epochs", "1", "--batch-size", "16", "--quiet"]
    assert cli.main([*run, "--devices", "1", "--out", str(tmp_path / "one")]) == 0
    assert "data parallel on 1 device (cpu)" in capsys.readouterr().out
    too_many = len(jax.devices()) + 1
    assert cli.main([*run, "--devices", str(too_many), "--out", str(tmp_path / "many")]) == 2
    assert f"--devices: {too_many} devices asked for" in capsys.readouterr().err
    assert not (tmp_path / "many").exists(), "checked before the output folder is created"
    assert cli.main([*run, "--devices", "1", "--shard-optimizer", "--out", str(tmp_path / "split")]) == 0
    capsys.readouterr()
    assert cli.main([*run, "--shard-optimizer", "--out", str(tmp_path / "none")]) == 2
    assert "--shard-optimizer splits the optimizer state over the devices of --devices N" in capsys.readouterr().err
