"""The multi-device half of tests/test_data_parallel.py, run as ONE subprocess.

XLA makes several CPU devices only if ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
is set before jax is imported, and the test suite's conftest imports jax first; so the
test runs this script with that flag and asserts on the JSON it prints.  Small models,
float32 (JAX's default): an MLP 16-32-10 and a tiny CNN on random data, 2 epochs, global
batch 32, each trained on a 1-device mesh and on an 8-device mesh in this one process.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/data_parallel_check.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

DEVICES = 8
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={DEVICES}")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

from jaxnn import evaluation, models, optim, parallel, train  # noqa: E402

BATCH, EPOCHS, N_TRAIN, N_VAL = 32, 2, 200, 50
LOSS = "softmax_cross_entropy"


def relative_error(a, b) -> float:
    """max over leaves of max |a - b| / max |a|: agreement to float32 round-off is ~1e-7."""
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)))
                     / max(float(np.max(np.abs(np.asarray(u, np.float64)))), 1e-30))
               for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def history_error(a: list, b: list) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.abs(a)))


def data(in_shape: tuple, seed: int):
    kx, ky = jax.random.split(jax.random.key(seed))
    x = np.asarray(jax.random.normal(kx, (N_TRAIN + N_VAL, *in_shape)))
    y = np.asarray(jax.random.randint(ky, (N_TRAIN + N_VAL,), 0, 10))
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])


CASES = {
    "mlp": (lambda: models.mlp([32, 10], dropout_rate=0.2), (16,)),
    "cnn": (lambda: models.cnn([4], 10, image_shape=(8, 8, 1), dense_sizes=[16], dropout_rate=0.2), (8, 8, 1)),
}


def compare_fits(results: dict, meshes: dict) -> None:
    """8 devices vs 1: final params, loss and validation-loss histories."""
    for name, (build, in_shape) in CASES.items():
        model = build()
        _, params = model.init(jax.random.key(0), in_shape)
        (x, y), validation = data(in_shape, 1)
        for grad in ("autodiff", "backprop"):
            runs = {}
            for label, mesh in meshes.items():
                runs[label] = train.fit(model, params, LOSS, optim.adam(1e-2), x, y, epochs=EPOCHS, batch_size=BATCH,
                                        key=3, grad=grad, validation=validation, mesh=mesh, progress=False)
            one, many = runs["1 device"], runs["8 devices"]
            results[f"{name} {grad}"] = {
                "params": relative_error(one[0], many[0]),
                "loss": history_error(one[1]["loss"], many[1]["loss"]),
                "val_loss": history_error(one[1]["val_loss"], many[1]["val_loss"]),
                "replicated": all(leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == DEVICES
                                  for leaf in jax.tree_util.tree_leaves(many[0])),
                "loss moved": one[1]["loss"][-1] != one[1]["loss"][0],
            }


def shard_optimizer_run(mesh) -> dict:
    """``shard_optimizer=True`` (ZeRO stage 1) against one device: the MLP with dropout and
    Adam, the same checks as `compare_fits`; where the optimizer state lives after an epoch;
    the collectives of its compiled epoch."""
    model, in_shape = CASES["mlp"][0](), CASES["mlp"][1]
    _, params = model.init(jax.random.key(0), in_shape)
    (x, y), validation = data(in_shape, 1)
    options = dict(epochs=EPOCHS, batch_size=BATCH, key=3, validation=validation, progress=False)
    one = train.fit(model, params, LOSS, optim.adam(1e-2), x, y, mesh=parallel.data_mesh(1), **options)
    split = train.fit(model, params, LOSS, optim.adam(1e-2), x, y, mesh=mesh, shard_optimizer=True, **options)
    optimizer, goal = optim.adam(1e-2), train.objective(model, LOSS)
    state = train.init_state(jax.tree_util.tree_map(np.copy, params), optimizer, jax.random.key(3))
    state, _ = train.train_epoch(goal, optimizer, state, *parallel.place_dataset((x, y), mesh), batch_size=BATCH,
                                 mesh=mesh, shard_optimizer=True)
    compiled = train._compiled_epoch(goal, optimizer, BATCH, mesh, True).lower(
        state, *parallel.place_dataset((x, y), mesh), np.int32(0)).compile()
    return {
        "params": relative_error(one[0], split[0]),
        "loss": history_error(one[1]["loss"], split[1]["loss"]),
        "val_loss": history_error(one[1]["val_loss"], split[1]["val_loss"]),
        "replicated": all(leaf.sharding.is_fully_replicated for leaf in jax.tree_util.tree_leaves(split[0])),
        "state layout": [[list(np.shape(leaf)), leaf.sharding.is_fully_replicated,
                          int(leaf.addressable_shards[0].data.shape[0]) if np.ndim(leaf) else 0]
                         for leaf in jax.tree_util.tree_leaves(state.opt_state)],
        "collectives": parallel.collectives(compiled.as_text()),
    }


def compiled_epoch_collectives(mesh) -> dict:
    """The collectives of the compiled epoch of the MLP with dropout, per gradient path."""
    model, in_shape = CASES["mlp"][0](), CASES["mlp"][1]
    _, params = model.init(jax.random.key(0), in_shape)
    (x, y), _ = data(in_shape, 1)
    optimizer = optim.adam(1e-2)
    found = {}
    for grad in ("autodiff", "backprop"):
        goal = train.objective(model, LOSS, grad=grad)
        state = train._compiled_init_state(optimizer, mesh)(params, jax.random.key(3))
        xs, ys = parallel.place_dataset((x, y), mesh)
        compiled = train._compiled_epoch(goal, optimizer, BATCH, mesh).lower(state, xs, ys, np.int32(0)).compile()
        found[grad] = parallel.collectives(compiled.as_text())
    return found


def compare_inference(mesh) -> dict:
    model, in_shape = CASES["cnn"][0](), CASES["cnn"][1]
    _, params = model.init(jax.random.key(0), in_shape)
    (x, y), _ = data(in_shape, 2)
    one = evaluation.predict(model, params, x, batch_size=50)
    many = evaluation.predict(model, params, x, batch_size=50, mesh=mesh)  # 50 -> chunks of 56 rows
    scores_one = evaluation.evaluate(model, params, LOSS, x, y)
    scores_many = evaluation.evaluate(model, params, LOSS, x, y, mesh=mesh)
    return {"predict": relative_error(one, many), "shape": list(many.shape) == list(one.shape),
            "evaluate": max(abs(scores_one[k] - scores_many[k]) / abs(scores_one[k]) for k in scores_one),
            "same metrics": sorted(scores_one) == sorted(scores_many)}


def resume_and_cache(mesh) -> dict:
    """A run checkpointed after epoch 1 and resumed ends where an uninterrupted one does; the
    compiled-epoch cache holds one program per mesh, and an equal rebuilt mesh reuses it."""
    model, in_shape = CASES["mlp"][0](), CASES["mlp"][1]
    _, params = model.init(jax.random.key(0), in_shape)
    (x, y), _ = data(in_shape, 1)
    options = dict(epochs=2, batch_size=BATCH, key=4, mesh=mesh, progress=False)
    whole, _ = train.fit(model, params, LOSS, "sgd", x, y, **options)
    with tempfile.TemporaryDirectory() as directory:
        train.fit(model, params, LOSS, "sgd", x, y, **{**options, "epochs": 1}, checkpoint_dir=directory,
                  checkpoint_every=1)
        resumed, history = train.fit(model, params, LOSS, "sgd", x, y, **options, checkpoint_dir=directory,
                                     resume=True)
    before = train._compiled_epoch.cache_info().currsize
    rebuilt = Mesh(np.array(jax.devices()[:DEVICES]), (parallel.DATA_AXIS,))
    train.fit(model, params, LOSS, "sgd", x, y, **{**options, "mesh": rebuilt})
    train.fit(model, params, LOSS, "sgd", x, y, **{**options, "mesh": DEVICES})
    after_rebuilt = train._compiled_epoch.cache_info().currsize
    train.fit(model, params, LOSS, "sgd", x, y, **{**options, "mesh": 2})
    return {"resumed": relative_error(whole, resumed), "resumed epochs": history["epoch"],
            "new programs for equal meshes": after_rebuilt - before,
            "new programs for another mesh": train._compiled_epoch.cache_info().currsize - after_rebuilt}


def bad_inputs(mesh) -> dict:
    """The ValueError messages fit gives on 8 devices."""
    model, in_shape = CASES["mlp"][0](), CASES["mlp"][1]
    _, params = model.init(jax.random.key(0), in_shape)
    (x, y), _ = data(in_shape, 1)
    messages = {}
    for name, (n, batch_size, devices) in {"indivisible batch": (N_TRAIN, 30, mesh),
                                           "dataset below one batch": (20, 32, mesh),
                                           "too many devices": (N_TRAIN, 32, DEVICES + 1)}.items():
        try:
            train.fit(model, params, LOSS, "sgd", x[:n], y[:n], epochs=1, batch_size=batch_size, key=0,
                      mesh=devices, progress=False)
            messages[name] = None
        except ValueError as error:
            messages[name] = str(error)
    return messages


def main() -> None:
    if len(jax.devices()) != DEVICES:
        sys.exit(f"needs {DEVICES} devices, JAX sees {len(jax.devices())}: run with "
                 f"XLA_FLAGS=--xla_force_host_platform_device_count={DEVICES}")
    many = parallel.data_mesh(DEVICES)
    meshes = {"1 device": parallel.data_mesh(1), "8 devices": many}
    results = {"devices": len(jax.devices()), "threefry_partitionable": bool(jax.config.jax_threefry_partitionable)}
    start = time.perf_counter()
    compare_fits(results, meshes)
    results["collectives"] = compiled_epoch_collectives(many)
    results["shard_optimizer"] = shard_optimizer_run(many)
    results["inference"] = compare_inference(many)
    results["resume and cache"] = resume_and_cache(many)
    results["bad inputs"] = bad_inputs(many)
    results["seconds"] = time.perf_counter() - start
    print(json.dumps(results))


if __name__ == "__main__":
    main()
