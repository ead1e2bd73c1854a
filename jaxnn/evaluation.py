"""Inference and scoring: `predict`, `evaluate`, `default_metrics`, and the data checks
`fit` and `evaluate` share.

``evaluate`` takes its arguments in `train.fit`'s order, ``(model, params, loss, x, y)``;
its default metrics come from the task head the loss belongs to (`losses.head_of`):
accuracy for the classification losses, R^2 for the regression losses.
"""
from __future__ import annotations

import functools
import math
import weakref
from typing import Callable, Hashable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxnn import activations, losses, parallel
from jaxnn.layers import Layer
from jaxnn.layers.base import check_layer, check_params
from jaxnn.spec import cached
from jaxnn.util import all_finite, as_numeric

Metrics = Callable[[Array, Array], dict]


@cached(maxsize=64)
def _compiled_predict(model: Layer, mesh=None):
    """``(params, x_chunks (C, chunk, ...)) -> (C, chunk, ...out)``; with a ``mesh`` each
    chunk's rows are split over its ``"data"`` axis and the params replicated."""
    def predict_chunks(params, x_chunks):
        params = parallel.keep_replicated(params, mesh)
        return jax.lax.map(lambda xc: model.apply(params, parallel.shard_rows(xc, mesh)), x_chunks)

    return jax.jit(predict_chunks, out_shardings=None if mesh is None else parallel.rows_sharded(mesh, 1))


def predict(model: Layer, params, x, *, batch_size: int = 1024, mesh=None) -> Array:
    """``model.apply(params, x)`` in inference mode, in chunks of ``batch_size`` rows
    (padded, one compiled program) so large inputs need bounded memory.

    x: (N, ...) -> (N, ...out).  Checks first that ``x`` and ``params`` fit the model.
    ``mesh`` (as in `train.fit`: a ``Mesh`` with a ``"data"`` axis or a number of devices)
    splits every chunk's rows over the devices, the chunk rounded up to a multiple of them.
    """
    x = as_numeric("predict: x", x)
    check_model_inputs(model, params, x, "predict")
    return _predict_in_chunks(model, params, x, batch_size, parallel.data_mesh(mesh, "predict"))


def _predict_in_chunks(model: Layer, params, x: Array, batch_size: int, mesh=None) -> Array:
    n, devices = x.shape[0], parallel.data_size(mesh)
    chunk = math.ceil(max(1, min(batch_size, n)) / devices) * devices
    n_chunks = math.ceil(n / chunk)
    padded = jnp.concatenate([x, jnp.zeros((n_chunks * chunk - n, *x.shape[1:]), x.dtype)])
    x_chunks = padded.reshape(n_chunks, chunk, *x.shape[1:])
    if mesh is not None:
        params, x_chunks = parallel.replicate(params, mesh), jax.device_put(x_chunks, parallel.rows_sharded(mesh, 1))
    out = _compiled_predict(model, mesh)(params, x_chunks)
    return out.reshape(n_chunks * chunk, *out.shape[2:])[:n]


def default_metrics(loss) -> Metrics:
    """``metrics(pred, y) -> {name: value}`` for a loss: its head's metric (accuracy or
    R^2, see `losses.head_of`), or no metric for losses without a head."""
    found = losses.head_of(loss)
    if found is None:
        return lambda pred, y: {}
    head, on_probabilities = found
    activation = (lambda a: a) if on_probabilities else activations.get(head.output_activation).fn
    return lambda pred, y: {head.metric: head.score(activation(pred), y)}


def evaluate(model: Layer, params, loss, x, y, *, metrics: Metrics | None = None,
             batch_size: int = 1024, mesh=None) -> dict[str, float]:
    """Loss and metrics of ``params`` on ``(x, y)``: ``{"loss": ..., "accuracy": ...}``.

    ``metrics(pred, y) -> dict`` defaults to `default_metrics` of ``loss``.  Checks the
    data first (`check_data`); returns Python floats (one host sync).  ``mesh`` splits the
    examples over devices, as in `predict`.
    """
    loss_fn = losses.get(loss)
    x, y = as_numeric("evaluate: x", x), as_numeric("evaluate: y", y)
    check_data(model, params, loss_fn, x, y, "evaluate")
    return score(model, params, loss_fn, x, y, metrics=metrics, batch_size=batch_size,
                 mesh=parallel.data_mesh(mesh, "evaluate"))


def score(model: Layer, params, loss_fn: losses.Loss, x: Array, y: Array, *,
          metrics: Metrics | None = None, batch_size: int = 1024, mesh=None) -> dict[str, float]:
    """`evaluate` without the data checks, for data already checked (`fit`'s validation set)."""
    pred = _predict_in_chunks(model, params, x, batch_size, mesh)
    y = parallel.replicate(y, mesh)  # beside the predictions, which live on the mesh
    result = {"loss": loss_fn.value(pred, y), **(metrics or default_metrics(loss_fn))(pred, y)}
    return {name: float(value) for name, value in jax.device_get(result).items()}


class _Structure:
    """A pytree's structure, shapes and dtypes as a hashable value (a compile-cache key)."""

    def __init__(self, tree):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        self.tree = jax.tree_util.tree_unflatten(
            treedef, [jax.ShapeDtypeStruct(np.shape(leaf), jnp.result_type(leaf)) for leaf in leaves])
        self._key = (treedef, tuple((leaf.shape, leaf.dtype) for leaf in jax.tree_util.tree_leaves(self.tree)))

    def __eq__(self, other):
        return isinstance(other, _Structure) and self._key == other._key

    def __hash__(self):
        return hash(self._key)


@cached(maxsize=256)
def _example_output(model: Layer, params: _Structure, example: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
    """`jax.eval_shape` of the model on one example, remembered per model (spec) and shapes:
    tracing the model would otherwise cost milliseconds on every `fit` call."""
    return jax.eval_shape(lambda p, xb: model.apply(p, xb), params.tree, example)


def check_model_inputs(model: Layer, params, x: Array, what: str) -> jax.ShapeDtypeStruct:
    """The output shape of one example; ValueError (no compiling) if ``x`` does not fit the
    model (the layers name the layout they expect) or ``params`` are not this model's."""
    check_layer(f"{what}: model", model)
    out = _example_output(model, _Structure(params), jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype))
    check_params(model, params, x.shape[1:], what)  # params of another width would run silently
    return out


@functools.lru_cache(maxsize=256)
def _check_loss_takes(loss_fn: losses.Loss, predictions: jax.ShapeDtypeStruct, targets: jax.ShapeDtypeStruct) -> None:
    """`jax.eval_shape` of the loss: the loss names target shape/dtype errors (remembered when it passes)."""
    jax.eval_shape(loss_fn.value, predictions, targets)


_all_finite_jit = jax.jit(all_finite)
_PASSED_CHECKS: dict[int, tuple[weakref.ref, set]] = {}  # id(array) -> (the array, checks it passed)


def _once_per_array(a, check: Hashable, run: Callable[[], None]) -> None:
    """``run()`` (a check that raises or returns None), skipped when this very JAX array has
    passed ``check`` before: a ``jax.Array`` never changes its values, so `fit` called again
    on the same dataset does not scan it again (~1 ms for 16 MB).  NumPy arrays can change
    in place, so they are checked every time."""
    if not isinstance(a, jax.Array) or isinstance(a, jax.core.Tracer):
        return run()
    entry = _PASSED_CHECKS.get(id(a))
    if entry is None or entry[0]() is not a:
        entry = (weakref.ref(a, lambda _, key=id(a): _PASSED_CHECKS.pop(key, None)), set())
        _PASSED_CHECKS[id(a)] = entry
    if check not in entry[1]:
        run()
        entry[1].add(check)


def _all_finite(a) -> bool:
    """Every entry finite; a JAX array is checked where it lives (no copy of the dataset to the host)."""
    if isinstance(a, jax.Array):
        return bool(_all_finite_jit(a))
    return bool(np.all(np.isfinite(np.asarray(a))))


def _check_finite(what: str, name: str, a) -> None:
    """ValueError if ``a`` holds a NaN or an inf."""
    def run():
        if not _all_finite(a):
            advice = "; clean or impute the data first" if name == "x" else ""
            raise ValueError(f"{what}: {name} contains NaN or inf{advice}")

    _once_per_array(a, "finite", run)


def check_data(model: Layer, params, loss_fn: losses.Loss, x: Array, y: Array, what: str) -> None:
    """Raise ValueError, before any tracing, for the mistakes users make with data:
    empty or mismatched arrays, NaN/inf, targets the loss cannot take, labels out of range."""
    if x.shape[0] == 0:
        raise ValueError(f"{what}: the dataset is empty (x has shape {x.shape})")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{what}: x has {x.shape[0]} examples but y has {y.shape[0]}")
    _check_finite(what, "x", x)
    if jnp.issubdtype(y.dtype, jnp.floating):
        _check_finite(what, "y", y)
    out = check_model_inputs(model, params, x, what)
    predictions = jax.ShapeDtypeStruct((y.shape[0], *out.shape[1:]), out.dtype)
    _check_loss_takes(loss_fn, predictions, jax.ShapeDtypeStruct(y.shape, y.dtype))
    if jnp.issubdtype(y.dtype, jnp.integer) and y.shape == predictions.shape[:-1]:
        _once_per_array(y, ("labels", out.shape[-1]), lambda: losses.check_labels(what, y, out.shape[-1]))
