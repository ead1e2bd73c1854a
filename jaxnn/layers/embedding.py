"""Embedding: a lookup table turning integer ids (tokens, categories) into learned vectors.

``y[n, t] = table[ids[n, t]]``: row ``i`` of the ``(vocab_size, features)`` table is the
vector of id ``i``.  The lookup is the same as ``one_hot(ids) @ table`` (a dense layer
without bias on one-hot inputs) but costs O(features) per id instead of O(vocab_size).

Backward.  Each output row is a copy of one table row, so the table gradient collects the
upstream rows at their ids: ``dtable[i] = sum over positions p with ids[p] == i of dy[p]``
(a scatter-add; repeated ids accumulate, unused rows get zero).  Seen through the
one-hot view: ``dtable = one_hot(ids)^T @ dy``.  Integer ids have no gradient: like
``jax.vjp`` of a function of an integer array, ``backward`` returns for ``dx`` an array
of ``ids.shape`` with dtype ``jax.dtypes.float0`` (the zero-size "no tangent" dtype).

Out-of-range ids.  Valid ids are ``0 <= id < vocab_size``.  Where the ids are concrete
(eager calls) `apply` and `backward` raise ValueError for any other id, and
`validate_ids` does the same check for a dataset before it enters jit.  Under
``jax.jit`` the values are unknown at trace time and cannot be checked; there the lookup
follows ``jnp.take(..., mode="fill")``: ids in ``[-vocab_size, 0)`` wrap as in numpy
(-1 is the last row) and ids outside ``[-vocab_size, vocab_size)`` yield rows of NaN, so
the mistake shows up in the loss; their rows receive no gradient (``mode="drop"``),
which is exactly what ``jax.vjp`` of the lookup returns.  (Plain ``table[ids]`` under
jit would instead clamp silently to the last row on CPU.)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import initializers
from jaxnn.layers.base import Layer, check_param_dict, describe, require_key
from jaxnn.util import check_positive_int, is_concrete
from jaxnn.spec import configured


def validate_ids(ids, vocab_size: int):
    """Return ``ids`` after checking it is an integer array with values in ``[0, vocab_size)``.

    The dtype is always checked; the values only when concrete (not a jit tracer).
    Call it on a whole dataset before training to catch bad ids once, eagerly.
    """
    dtype = jnp.result_type(ids)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(f"embedding expects integer ids, got dtype {dtype}; cast with ids.astype(jnp.int32) "
                         "if they are whole numbers")
    if not is_concrete(ids) or np.size(ids) == 0:
        return ids
    values = np.asarray(ids)
    low, high = values.min(), values.max()
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"embedding: id {bad} is out of range; ids must satisfy 0 <= id < vocab_size = {vocab_size}")
    return ids


@configured
def embedding(vocab_size: int, features: int, *, embedding_init=initializers.normal(1.0)) -> Layer:
    """Lookup ``y = table[ids]``.  ids: (N,) or (N, T, ...) integers -> y: (N, [T, ...,] features).

    Params ``{"table": (vocab_size, features)}``.  The default ``embedding_init`` is N(0, 1), as
    ``torch.nn.Embedding``; transformers often use N(0, 0.02^2) (GPT-2), and Flax uses
    N(0, 1/features): pass ``embedding_init=initializers.normal(0.02)`` and so on.
    Backward: ``dtable = scatter-add of dy rows at ids`` (``= one_hot(ids)^T dy``) and
    ``dx`` float0 zeros (see the module docstring, also for out-of-range ids).
    """
    vocab_size = check_positive_int("embedding: vocab_size", vocab_size)
    features = check_positive_int("embedding: features", features)
    table_init = initializers.get(embedding_init)

    @describe("embedding")
    def init_fn(key, in_shape):
        return (*tuple(in_shape), features), {"table": table_init(require_key("embedding", key), (vocab_size, features))}

    def check(params, ids):
        check_param_dict("embedding", params, ("table",))
        table = params["table"]
        if table.shape != (vocab_size, features):
            raise ValueError(f"embedding: params['table'] must have shape (vocab_size, features) = "
                             f"{(vocab_size, features)}, got {table.shape}")
        if jnp.ndim(ids) < 1:
            raise ValueError(f"embedding expects a batch of ids of shape (N,) or (N, T, ...), got shape {jnp.shape(ids)}")
        validate_ids(ids, vocab_size)

    def apply_fn(params, ids, **_):
        """y[p] = table[ids[p]] for every position p of ids."""
        check(params, ids)
        table = params["table"]
        return jnp.take(table, ids, axis=0, mode="fill", fill_value=jnp.nan)

    def backward_fn(params, ids, dy, **_):
        """dtable[i] = sum of dy[p] over positions p with ids[p] == i; dx = float0 zeros.

        = ``one_hot(ids)^T dy``, the dense layer's ``dW = x^T dz`` on one-hot inputs (IIT Mandi,
        vectorized backpropagation); the lookup table is Bengio et al. 2003's.
        """
        check(params, ids)
        expected = (*jnp.shape(ids), features)
        if dy.shape != expected:
            raise ValueError(f"embedding: upstream gradient dy must have the output shape {expected}, got {dy.shape}")
        dtable = jnp.zeros_like(params["table"]).at[ids].add(dy, mode="drop")
        return {"table": dtable}, np.zeros(jnp.shape(ids), dtype=jax.dtypes.float0)

    return Layer(init_fn, apply_fn, backward_fn)
