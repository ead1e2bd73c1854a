"""The Layer protocol and `serial`, the composition of layers.

A layer is three pure functions (after ``jax.example_libraries.stax``, plus a hand-derived
backward pass as in CS231n's ``layers.py``)::

    out_shape, params = layer.init(key, in_shape)          # in_shape excludes the batch axis
                                                            # (an int d means (d,); an int key is a seed)
    y = layer.apply(params, x, *, key=None, train=False)    # x includes the batch axis
    dparams, dx = layer.backward(params, x, dy, *, key=None, train=False)

``backward`` is the vector-Jacobian product of ``apply`` written by hand: for
``y = apply(params, x)`` and an upstream gradient ``dy = dL/dy`` it returns
``(dL/dparams, dL/dx)``, exactly what ``jax.vjp(apply, params, x)[1](dy)`` returns.
It receives the same ``key`` and ``train`` as the forward call, so stochastic layers
(dropout) rebuild the same mask.

``backward`` gets only ``x``, so a layer whose backward needs the forward's intermediate
values (an RNN's states at every step) computes them again.  Such a layer may also
provide the pair CS231n's ``layers.py`` is written in (``out, cache = affine_forward(x, w,
b)``; ``affine_backward(dout, cache)``; JAX calls the cache the *residuals*)::

    y, cache = layer.forward(params, x, *, key=None, train=False)     # y: what apply returns
    dparams, dx = layer.backward_from_cache(params, cache, dy, *, key=None, train=False)

``cache`` is any pytree of arrays.  Both are optional and go together (``None`` by default):
a layer without them behaves as if ``forward`` returned ``(apply(...), x)`` and
``backward_from_cache`` were ``backward``.  `forward_with_cache`, `backward_with_cache` and
`vjp` (forward, then a function of ``dy``, as ``jax.vjp``) use the pair when there is one;
`serial` and `residual` pass their children's caches along, and
`jaxnn.backprop.value_and_grad` runs the forward once through `vjp`.  ``backward`` keeps
its meaning: a layer with the pair computes ``backward(params, x, dy)`` as
``backward_from_cache(params, forward(params, x)[1], dy)``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax import Array

from jaxnn.util import as_int, as_key, as_numeric, as_shape
from jaxnn.spec import cached, configured

Shape = tuple[int, ...]
Params = Any


class Layer(NamedTuple):
    """A layer: ``init(key, in_shape) -> (out_shape, params)``, ``apply``, ``backward``;
    optionally ``forward -> (y, cache)`` and ``backward_from_cache`` (module docstring)."""

    init: Callable[..., tuple[Shape, Params]]
    apply: Callable[..., Array]
    backward: Callable[..., tuple[Params, Array]]
    forward: Callable[..., tuple[Array, Any]] | None = None
    backward_from_cache: Callable[..., tuple[Params, Array]] | None = None

    @property
    def name(self) -> str:
        """Short name of the layer family (``"dense"``, ``"serial"``...), for summaries."""
        return getattr(self.init, "layer_name", self.init.__qualname__.split(".")[0])

    @property
    def children(self) -> tuple["Layer", ...]:
        """Sub-layers of a combinator (``serial``, ``residual``...); ``()`` for a leaf."""
        return getattr(self.init, "children", ())


def describe(name: str, children: Sequence[Layer] = ()) -> Callable[[Callable], Callable]:
    """Decorator for a layer's ``init`` recording its name and sub-layers (see `Layer.name`).

    It is also the one place where every layer's ``init`` arguments are normalized:
    ``in_shape`` may be an int (``init(key, 4)`` means ``init(key, (4,))``) or any sequence
    of ints, numpy's included (`jaxnn.util.as_shape`), and ``key`` an int seed
    (`jaxnn.util.as_key`); anything else is a ValueError naming the layer and the expected form.
    ``key=None`` passes: a layer that draws nothing (a pool, an activation) needs no key, and one
    that does says so (`require_key`).
    """

    def mark(init_fn: Callable) -> Callable:
        @functools.wraps(init_fn)
        def init(key, in_shape):
            return init_fn(None if key is None else as_key(key, f"{name}.init"), as_shape(in_shape, f"{name}.init"))

        init.layer_name = name
        init.children = tuple(children)
        return init

    return mark


def require_key(name: str, key: Array | None) -> Array:
    """``key``, or a ValueError when it is None: ``name``'s init draws its initial params."""
    if key is None:
        raise ValueError(f"{name}.init draws its initial params: key must be a PRNG key such as "
                         "jax.random.key(0), or an int seed; got None")
    return key


def check_layer(what: str, layer: Any) -> Layer:
    """``layer`` if it is a `Layer`, else ValueError naming ``what`` (a combinator's argument)."""
    if not isinstance(layer, Layer):
        raise ValueError(f"{what} must be a Layer (e.g. layers.dense(8)), got {type(layer).__name__}")
    if (layer.forward is None) != (layer.backward_from_cache is None):
        raise ValueError(f"{what}: a Layer gives forward and backward_from_cache together or neither, "
                         f"got only {'forward' if layer.backward_from_cache is None else 'backward_from_cache'}")
    return layer


# ----------------------------------------------------------------------------- forward with a cache

def forward_with_cache(layer: Layer, params: Params, x: Array, *, key: Array | None = None,
                       train: bool = False) -> tuple[Array, Any]:
    """``(y, cache)``: ``layer.forward`` when the layer has one, else ``(apply(...), x)``,
    the input being all its ``backward`` needs."""
    if layer.forward is None:
        return layer.apply(params, x, key=key, train=train), x
    return layer.forward(params, x, key=key, train=train)


def backward_with_cache(layer: Layer, params: Params, cache: Any, dy: Array, *,
                        key: Array | None = None, train: bool = False) -> tuple[Params, Array]:
    """``(dparams, dx)`` from the ``cache`` of `forward_with_cache` (same ``key`` and ``train``)."""
    if layer.backward_from_cache is None:
        return layer.backward(params, cache, dy, key=key, train=train)
    return layer.backward_from_cache(params, cache, dy, key=key, train=train)


def vjp(layer: Layer, params: Params, x: Array, *, key: Array | None = None,
        train: bool = False) -> tuple[Array, Callable[[Array], tuple[Params, Array]]]:
    """``(y, pullback)`` with ``pullback(dy) = (dL/dparams, dL/dx)``: ``jax.vjp(apply, params,
    x)`` by hand, the forward run once and its cache kept for the backward."""
    y, cache = forward_with_cache(check_layer("vjp: layer", layer), params, x, key=key, train=train)

    def pullback(dy: Array) -> tuple[Params, Array]:
        return backward_with_cache(layer, params, cache, dy, key=key, train=train)

    return y, pullback


def _is_init_output(params: Any) -> bool:
    """True for ``(out_shape, params)``, what ``init`` returns, passed whole as params (also
    traced, as ``jax.eval_shape`` or ``jit`` see it: the sizes are then integer scalars)."""
    return (isinstance(params, tuple) and len(params) == 2 and isinstance(params[0], tuple)
            and len(params[0]) > 0 and all(as_int(d) is not None or (
                hasattr(d, "dtype") and jnp.ndim(d) == 0 and jnp.issubdtype(d.dtype, jnp.integer))
                for d in params[0]))


INIT_OUTPUT_HINT = "init returns (out_shape, params): unpack it, out_shape, params = model.init(key, in_shape)"


def check_param_dict(name: str, params: Any, required: Sequence[str]) -> None:
    """ValueError unless ``params`` is a dict holding the ``required`` keys (a leaf layer's params)."""
    if isinstance(params, dict) and all(k in params for k in required):
        return
    hint = INIT_OUTPUT_HINT if _is_init_output(params) else f"pass the params {name}'s init returns"
    got = sorted(params) if isinstance(params, dict) else type(params).__name__
    raise ValueError(f"{name} expects params {{{', '.join(map(repr, required))}, ...}}, got {got}; {hint}")


def split_key(key: Array | None, n: int) -> tuple[Array | None, ...]:
    """``n`` independent keys from ``key``, or ``n`` times ``None`` when ``key`` is None."""
    if key is None:
        return (None,) * n
    return tuple(jax.random.split(key, n))


@configured
def serial(*layers: Layer) -> Layer:
    """Composition ``f_n o ... o f_1``: each layer's output is the next one's input.

    Params are a tuple with one entry per child.  The forward key is split into one key
    per child, in order, so a child's randomness does not depend on its siblings.

    Backward, the chain rule (IIT Mandi, "Backprop through L hidden layers", step 2:
    ``delta^(l) = (W^(l+1))^T delta^(l+1) * sigma'(z^(l))``, each factor being one child's
    backward): run the forward keeping each child's cache (its input ``a^(l-1)``, or what
    its own ``forward`` keeps), then run the children's backward in reverse, each turning
    ``dL/d(output)`` into ``dL/d(input)``, which is the upstream gradient of the child
    before it.  ``forward`` returns the children's caches as one tuple, so a serial inside
    a serial passes them along too.
    """
    if len(layers) == 1 and isinstance(layers[0], (list, tuple)) and not isinstance(layers[0], Layer):
        layers = tuple(layers[0])
    for i, layer in enumerate(layers):
        check_layer(f"serial: argument {i}", layer)
    n = len(layers)

    @describe("serial", layers)
    def init_fn(key, in_shape):
        params = []
        shape = tuple(in_shape)
        for layer, k in zip(layers, split_key(key, n)):
            shape, p = layer.init(k, shape)
            params.append(p)
        return shape, tuple(params)

    def check(params):
        if _is_init_output(params):
            raise ValueError(f"serial: params look like the whole output of init; {INIT_OUTPUT_HINT}")
        if not isinstance(params, (tuple, list)) or len(params) != n:
            got = len(params) if isinstance(params, (tuple, list)) else type(params).__name__
            raise ValueError(f"serial of {n} layers expects a tuple of {n} params, got {got}")

    def apply_fn(params, x, *, key=None, train=False):
        check(params)
        x = as_numeric("serial: inputs x", x)
        for layer, p, k in zip(layers, params, split_key(key, n)):
            x = layer.apply(p, x, key=k, train=train)
        return x

    def forward_fn(params, x, *, key=None, train=False):
        """The forward pass keeping ``cache = (cache_1, ..., cache_n)``, one per child."""
        check(params)
        x = as_numeric("serial: inputs x", x)
        caches = []
        for layer, p, k in zip(layers, params, split_key(key, n)):
            x, cache = forward_with_cache(layer, p, x, key=k, train=train)
            caches.append(cache)
        return x, tuple(caches)

    def backward_from_cache_fn(params, cache, dy, *, key=None, train=False):
        """Chain rule: ``dL/da^(l-1) = backward_l(dL/da^(l))`` from the last child to the first."""
        check(params)
        dy = as_numeric("serial: upstream gradient dy", dy)
        keys = split_key(key, n)
        grads = [None] * n
        for i in reversed(range(n)):
            grads[i], dy = backward_with_cache(layers[i], params[i], cache[i], dy, key=keys[i], train=train)
        return tuple(grads), dy

    def backward_fn(params, x, dy, *, key=None, train=False):
        """Chain rule: ``dL/da^(l-1) = backward_l(dL/da^(l))`` from the last child to the first."""
        _, cache = forward_fn(params, x, key=key, train=train)
        return backward_from_cache_fn(params, cache, dy, key=key, train=train)

    return Layer(init_fn, apply_fn, backward_fn, forward_fn, backward_from_cache_fn)


@configured
def residual(block: Layer) -> Layer:
    """Skip connection ``y = x + block(x)`` (He et al. 2016); the block keeps the shape.

    Backward: the identity path passes ``dy`` straight through and adds the block's
    input gradient, ``dL/dx = dy + block.backward(dy)``.
    """
    check_layer("residual: block", block)

    @describe("residual", (block,))
    def init_fn(key, in_shape):
        out_shape, params = block.init(key, in_shape)
        if tuple(out_shape) != tuple(in_shape):
            raise ValueError(f"residual: the block must keep the shape {tuple(in_shape)}, "
                             f"but it outputs {tuple(out_shape)}")
        return tuple(in_shape), params

    def apply_fn(params, x, *, key=None, train=False):
        return x + block.apply(params, x, key=key, train=train)

    def backward_fn(params, x, dy, *, key=None, train=False):
        """``dL/dx = dy + block.backward(dy)`` (He et al. 2016: the identity path adds ``dy``)."""
        grads, dx_block = block.backward(params, x, dy, key=key, train=train)
        return grads, dy + dx_block

    def forward_fn(params, x, *, key=None, train=False):
        """``(x + block(x), the block's cache)``."""
        y, cache = forward_with_cache(block, params, x, key=key, train=train)
        return x + y, cache

    def backward_from_cache_fn(params, cache, dy, *, key=None, train=False):
        grads, dx_block = backward_with_cache(block, params, cache, dy, key=key, train=train)
        return grads, dy + dx_block

    return Layer(init_fn, apply_fn, backward_fn, forward_fn, backward_from_cache_fn)


@cached(maxsize=256)
def _init_layout(layer: Layer, in_shape: Shape) -> tuple:
    """``((path, shape), ...)`` of the params ``layer.init`` makes, traced abstractly."""
    params = jax.eval_shape(lambda key: layer.init(key, in_shape)[1], jax.random.key(0))
    return tuple((jax.tree_util.keystr(path), tuple(leaf.shape))
                 for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0])


def _layer_at(layer: Layer, path: str) -> str:
    """The name of the sub-layer that owns the param at ``path`` (``"dense"``, ``"conv2d"``...)."""
    for part in path.strip("[]").split("]["):
        if not part.isdigit() or int(part) >= len(layer.children):
            break
        layer = layer.children[int(part)]
    return layer.name


def check_params(layer: Layer, params: Params, in_shape: Shape, what: str) -> None:
    """ValueError unless ``params`` holds the arrays ``layer.init(key, in_shape)`` makes, at
    the same places and of the same shapes, naming the layer, the param, the expected and
    the actual shape (lists and tuples are interchangeable).

    ``apply`` alone cannot tell: a dense layer's matmul runs with a wider ``W`` as long as
    its input width fits, so a 16-unit model would silently run a 32-unit model's params.
    Cheap: the expected layout is cached per layer and input shape.
    """
    expected = _init_layout(layer, tuple(in_shape))
    got = tuple((jax.tree_util.keystr(path), tuple(jnp.shape(leaf)))
                for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0])
    inputs = f"inputs (N, {', '.join(map(str, in_shape))})"
    if [path for path, _ in got] != [path for path, _ in expected]:
        raise ValueError(f"{what}: params hold arrays at {', '.join(p for p, _ in got) or 'no place'}, but this "
                         f"model makes {', '.join(p for p, _ in expected)} for {inputs}; pass the params of "
                         f"this model's init")
    for (path, want), (_, shape) in zip(expected, got):
        if shape != want:
            raise ValueError(f"{what}: params{path} of layer {_layer_at(layer, path)!r} has shape {shape}, "
                             f"but this model makes {want} for {inputs}; were the params made for another model?")
