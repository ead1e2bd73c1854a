"""A keyed permutation of ``[0, n)`` in O(n) on the device, and an epoch's shuffled batches.

``fit`` reshuffles its examples every epoch.  ``jax.random.permutation`` sorts: on XLA:CPU
a 64,000-element permutation takes ~30-45 ms, as long as an epoch of a small MLP.  Here
the permutation is elementwise integer arithmetic, ~0.3 ms for 64,000 on one core
(benchmarks/bench_fit.py measures what a whole epoch of ``fit`` then costs).

Construction (a format-preserving block cipher on ``[0, n)``):

1. **A keyed bijection** ``F`` **of** ``[0, 2^b)``, ``2^b`` the smallest power of two
   ``>= max(n, 4)``: a Feistel network (Luby and Rackoff 1988).  An index is split into a
   left part ``L`` (its high ``b - b // 2`` bits) and a right part ``R`` (its low
   ``b // 2`` bits); each round maps ``(L, R) -> (R, L xor F_k(R))``, ``F_k(R)`` the
   integer hash `mix32` of ``R xor k`` cut to the width of ``L``, ``k`` the round's 32-bit
   key.  When ``b`` is odd the parts differ by one bit and swap widths every round (an
   unbalanced Feistel network).  A round is invertible whatever ``F_k`` is, so the network
   is a bijection.  The round keys are ``jax.random.bits(key, (rounds,))``, `rounds`
   6 (12 for ``n <= 2048``, where the parts are narrow).
2. **Restricted to** ``[0, n)`` **by cycle walking** (Black and Rogaway 2002, "Ciphers
   with arbitrary finite domains"): ``p(i)`` is the first of ``F(i), F(F(i)), ...`` that
   is ``< n``.  The walk follows the cycle of ``F`` through ``i`` to the next element of
   that cycle in ``[0, n)``, so ``p`` is a bijection of ``[0, n)``.  Since ``2^b < 2n``
   (``n >= 3``), a step lands outside ``[0, n)`` with probability below 1/2; all ``n``
   indices walk together in one ``lax.while_loop`` until the longest walk ends (about
   ``log n / log(2^b / (2^b - n))`` steps: ~4 for n = 64,000, ~15-20 for n = 2^15 + 1).

The precedent is ``tf.random.experimental.index_shuffle`` and Grain's ``index_shuffle``:
a 4-round Feistel network (built from the Simon cipher) restricted by cycle walking.

Statistical quality, honestly: this is *not* a uniform draw from all ``n!`` permutations.
Like every keyed shuffle (``jax.random.permutation`` too) it draws from at most as many
permutations as there are keys (2^64 for threefry: fewer than ``n!`` from n = 21 on).
Beyond that: for ``n = 2^b`` exactly (``b >= 4``, no cycle walking) every key gives a
permutation of the same parity (each round's ``L xor F_k(R)`` is an even permutation when
``L`` has two bits or more), so half of the permutations are never drawn; and a
few-round Feistel network seen in full is distinguishable from a random permutation by
a determined adversary.  What it guarantees: a bijection of ``[0, n)`` (every example
exactly once per epoch), a pure function of ``(key, n)`` (the same order on every device
and process, and on resume), and an unrelated order for every key.  What the tests check
(tests/test_shuffle.py, fixed seeds, many keys): every element is equally likely at every
position (chi-square), the number of fixed points has the mean and variance 1 of a
uniform permutation's (Poisson(1)), an index and its image, neighbouring images, and two
epochs' orders are uncorrelated, and neighbouring examples share a mini-batch at the
uniform rate.  That is what mini-batch SGD needs: batches that are a fresh, well-mixed
sample of the data every epoch.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def rounds(bits: int) -> int:
    """Feistel rounds for ``[0, 2^bits)``: 6 once each part has 6 bits or more, 12 below.

    TF's index_shuffle uses 4.  A round's function of a narrow part takes few distinct
    inputs, so small domains need more rounds: with 6 everywhere, n = 5, 6 and 7 fail
    tests/test_shuffle.py's chi-square (10,000 keys; p < 1e-3); with 12 they pass.  Six
    rounds on 64,000 indices cost ~0.3 ms on one CPU core, 12 ~0.6 ms."""
    return 6 if bits >= 12 else 12


def mix32(x: Array) -> Array:
    """An avalanching hash of uint32 (C. Wellons' "lowbias32", a murmur3-style finalizer):
    ``x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16``."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def domain_bits(n: int) -> int:
    """``b``: the smallest ``2^b >= n``, and at least 2 (one bit in each part)."""
    return max(2, (n - 1).bit_length())


def feistel(v: Array, round_keys: Array, bits: int) -> Array:
    """The keyed bijection of ``[0, 2^bits)``, elementwise on uint32 ``v``; ``round_keys``
    uint32 ``(rounds,)``.  ``L``: the high ``bits - bits // 2`` bits, ``R``: the low
    ``bits // 2``; a round maps ``(L, R) -> (R, L xor F_k(R))``, and the widths swap."""
    right_bits = bits // 2
    left_bits = bits - right_bits
    left, right = v >> right_bits, v & jnp.uint32((1 << right_bits) - 1)
    for r in range(round_keys.shape[0]):
        left, right = right, left ^ (mix32(right ^ round_keys[r]) & jnp.uint32((1 << left_bits) - 1))
        left_bits, right_bits = right_bits, left_bits
    return (left << right_bits) | right


def permutation(key: Array, n: int) -> Array:
    """``p``: a keyed bijection of ``[0, n)``, int32 ``(n,)``, a pure function of
    ``(key, n)``: a Feistel network on ``[0, 2^b)`` restricted to ``[0, n)`` by cycle
    walking (the module docstring gives the construction and its statistical quality).
    ``n`` is static; jit- and vmap-able over ``key``."""
    if n <= 1:
        return jnp.zeros((n,), jnp.int32)
    bits = domain_bits(n)
    round_keys = jax.random.bits(key, (rounds(bits),), jnp.uint32)
    first = feistel(jnp.arange(n, dtype=jnp.uint32), round_keys, bits)
    walked = jax.lax.while_loop(lambda v: jnp.any(v >= n),
                                lambda v: jnp.where(v >= n, feistel(v, round_keys, bits), v), first)
    return walked.astype(jnp.int32)


def shuffled_batches(key: Array, batch_size: int, *arrays: Array, part=0, parts: int = 1) -> tuple[Array, ...]:
    """Each array ``(n, ...)`` as an epoch of ``n // batch_size`` shuffled mini-batches
    ``(n // batch_size, batch_size, ...)``: example ``i`` goes to position ``p[i]`` of the
    epoch, ``p = permutation(key, n)`` (batch ``p[i] // batch_size``, row ``p[i] %
    batch_size``); the ``n % batch_size`` examples with the last positions sit this epoch out.

    With ``parts > 1`` (data parallelism: ``parts`` devices, this one ``part``, which may be
    traced), only this part's rows of every batch: rows ``part * m .. (part + 1) * m - 1``
    with ``m = batch_size // parts``, shape ``(n // batch_size, m, ...)``.  Every device
    computes the same ``p`` and writes only its own rows, so the devices' parts side by side
    are the one-device epoch.

    The arrays are written by a scatter, not read by a gather: on XLA:CPU a scatter of
    64,000 rows of 64 floats takes ~1.3 ms on one core, the gather ``x[argsort(p)]`` ~3 ms
    (it reads the rows at random, one at a time).  Gathering each batch inside the scan
    instead (no shuffled copy, half the peak memory) was slower still on XLA:CPU: ~2x the
    epoch of a scan that does not shuffle at all, for a 64-32-10 MLP at batch 32 on 2 cores
    (the per-step gather is split over the threads, and the threads sync every step).
    """
    n = arrays[0].shape[0]
    n_batches = n // batch_size
    positions = permutation(key, n)
    rows = batch_size // parts
    if parts > 1:  # this part's rows of each batch, at b * rows + (row within the part); others dropped
        batch, row = positions // batch_size, positions % batch_size
        mine = (row // rows == part) & (batch < n_batches)
        positions = jnp.where(mine, batch * rows + row % rows, n_batches * rows)
    return tuple(jnp.zeros((n_batches * rows, *a.shape[1:]), a.dtype).at[positions].set(a, mode="drop")
                 .reshape(n_batches, rows, *a.shape[1:]) for a in arrays)
