"""shuffle.permutation: a keyed bijection of [0, n) (Feistel network + cycle walking), and
shuffle.shuffled_batches, fit's epoch layout.

The statistical checks use fixed seeds and many keys; each asserts what a uniformly random
permutation would give, at a threshold a uniform one passes but a biased construction
fails (with 6 Feistel rounds instead of 12, n = 5, 6 and 7 fail the chi-square here).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxnn import shuffle

SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1000, 1024, 1025, 4097, 64000]


def permutations(n: int, keys: int, seed: int = 0) -> np.ndarray:
    """``(keys, n)``: the permutations of ``keys`` keys split from ``seed``, one vmapped call."""
    split = jax.random.split(jax.random.key(seed), keys)
    return np.asarray(jax.jit(jax.vmap(lambda k: shuffle.permutation(k, n)))(split))


@pytest.mark.parametrize("n", SIZES)
def test_a_bijection_of_0_to_n(n):
    p = np.asarray(jax.jit(shuffle.permutation, static_argnums=1)(jax.random.key(n), n))
    assert p.dtype == np.int32 and p.shape == (n,)
    np.testing.assert_array_equal(np.sort(p), np.arange(n))


def test_feistel_is_a_bijection_of_the_power_of_two_domain_for_odd_and_even_widths():
    for bits in (2, 3, 4, 5, 11, 16):
        keys = jax.random.bits(jax.random.key(bits), (shuffle.rounds(bits),), jnp.uint32)
        images = np.asarray(shuffle.feistel(jnp.arange(1 << bits, dtype=jnp.uint32), keys, bits))
        np.testing.assert_array_equal(np.sort(images), np.arange(1 << bits))


def test_deterministic_from_the_key_and_different_for_other_keys():
    key = jax.random.key(7)
    a, b = shuffle.permutation(key, 1000), shuffle.permutation(jax.random.key(7), 1000)
    np.testing.assert_array_equal(a, b)
    others = permutations(1000, keys=20, seed=8)
    assert len({row.tobytes() for row in others} | {np.asarray(a).tobytes()}) == 21
    raw = jax.random.PRNGKey(7)  # a legacy uint32[2] key works as well
    np.testing.assert_array_equal(shuffle.permutation(raw, 50), shuffle.permutation(raw, 50))


def test_under_jit_and_vmap_equals_one_key_at_a_time():
    keys = jax.random.split(jax.random.key(3), 5)
    batched = jax.jit(jax.vmap(lambda k: shuffle.permutation(k, 300)))(keys)
    for k in range(5):
        np.testing.assert_array_equal(batched[k], shuffle.permutation(keys[k], 300))


def permutation_chi_square(p: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic of the counts ``c[i, j]`` (keys that put element i at j), scaled
    to its null for a sum of uniform permutation matrices, and its degrees of freedom.

    A uniform permutation matrix has covariance (1/(n-1)) x the projection onto matrices with
    zero row and column sums (dimension (n-1)^2), so sum (c - K/n)^2 / (K/n) is distributed
    as n/(n-1) chi2((n-1)^2), not chi2((n-1)^2): its mean is n(n-1)."""
    keys, n = p.shape
    counts = np.zeros((n, n))
    np.add.at(counts, (np.broadcast_to(np.arange(n), p.shape), p), 1)
    statistic = ((counts - keys / n) ** 2).sum() / (keys / n) * (n - 1) / n
    return statistic, (n - 1) ** 2


@pytest.mark.parametrize("n", [3, 5, 6, 7, 8, 10, 17, 33, 100])
def test_every_element_is_equally_likely_at_every_position(n):
    """Small n, where a Feistel network is weakest (parts of 1 to 4 bits): chi-square of the
    position of each element over 10,000 keys, against the uniform permutation's null."""
    statistic, dof = permutation_chi_square(permutations(n, keys=10_000, seed=n))
    assert stats.chi2.sf(statistic, dof) > 1e-3, (statistic / dof, dof)


@pytest.mark.parametrize("n", [4097, 64000])
def test_large_n_positions_uniform_in_blocks(n):
    """Large n (6 rounds): elements in 32 blocks by index, positions in 32 blocks, over
    400 keys; the statistic is nearly chi2(31^2) for large n."""
    p = permutations(n, keys=400, seed=n)
    blocks = np.arange(n) * 32 // n
    counts = np.zeros((32, 32))
    np.add.at(counts, (np.broadcast_to(blocks, p.shape), p * 32 // n), 1)
    sizes = np.bincount(blocks, minlength=32)
    expected = np.outer(sizes, sizes) * p.shape[0] / n
    statistic = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(statistic, 31 ** 2) > 1e-3, statistic / 31 ** 2


@pytest.mark.parametrize("n", [10, 1000, 64000])
def test_fixed_points_are_poisson_1(n):
    """A uniform permutation of n >= 2 has on average 1 fixed point, with variance 1."""
    keys = 4000 if n < 64000 else 400
    fixed = (permutations(n, keys=keys, seed=1) == np.arange(n)).sum(axis=1)
    assert abs(fixed.mean() - 1) < 4 / np.sqrt(keys), fixed.mean()
    assert abs(fixed.var() - 1) < 6 * np.sqrt(3 / keys), fixed.var()  # Var of a Poisson(1) sample variance ~ 3/K


def test_index_image_neighbours_and_epochs_uncorrelated():
    n = 64000
    p = permutations(n, keys=8, seed=2).astype(float)
    bound = 5 / np.sqrt(n)  # a correlation of n independent-ish pairs: sd ~ 1/sqrt(n)
    for row in p:
        assert abs(np.corrcoef(np.arange(n), row)[0, 1]) < bound
        assert abs(np.corrcoef(row[:-1], row[1:])[0, 1]) < bound
    key = jax.random.key(5)
    epoch0, epoch1 = (np.asarray(shuffle.permutation(jax.random.fold_in(key, e), n)) for e in (0, 1))
    assert abs(np.corrcoef(epoch0, epoch1)[0, 1]) < bound


@pytest.mark.parametrize("n", [1000, 64000])
def test_neighbouring_examples_share_a_batch_at_the_uniform_rate(n):
    """Examples i and i + d (d = 1, 2, 3, 64, 2^(b/2): pairs that differ in the low part, the
    high part, or both) land in the same mini-batch of 32 at the rate of a uniform
    permutation, sum_b s_b (s_b - 1) / (n (n - 1)) over batch sizes s_b, within 4 sd (of
    independent pairs; within one permutation the pairs are nearly independent)."""
    batch_size, keys = 32, 200
    batch = permutations(n, keys=keys, seed=3) // batch_size
    sizes = np.bincount(np.arange(n) // batch_size)
    rate = (sizes * (sizes - 1)).sum() / (n * (n - 1))
    for d in (1, 2, 3, 64, 1 << (shuffle.domain_bits(n) // 2)):
        same = (batch[:, :-d] == batch[:, d:]).mean()
        pairs = keys * (n - d)
        assert abs(same - rate) < 4 * np.sqrt(rate * (1 - rate) / pairs), (d, same / rate)


def test_every_pair_shares_a_batch_at_the_uniform_rate():
    """Second order, what mini-batch SGD sees: over 5,000 keys each of the 19,900 pairs of
    n = 200 examples shares a batch of 20 at the rate (B - 1) / (n - 1); the pairs' z-scores
    spread like standard normals (jax.random.permutation gives 1.00 here), with no trend by
    the pair's index distance (pairs that differ in low bits, high bits or both)."""
    n, batch_size, keys = 200, 20, 5000
    batch = permutations(n, keys=keys, seed=6) // batch_size
    together = sum((batch == b).T.astype(np.float32) @ (batch == b).astype(np.float32)
                   for b in range(n // batch_size))
    rate = (batch_size - 1) / (n - 1)
    first, second = np.triu_indices(n, 1)
    z = (together[first, second] - keys * rate) / np.sqrt(keys * rate * (1 - rate))
    assert 0.93 < z.std() < 1.07, z.std()  # (their mean is 0 by construction: every batch holds B(B-1)/2 pairs)
    for distance in (1, 2, 4, 8, 16, 32, 64, 128):
        near = z[second - first == distance]
        assert abs(near.mean()) < 4 / np.sqrt(near.size), (distance, near.mean())


def parity(p: np.ndarray) -> int:
    """0 for an even permutation, 1 for an odd one (n minus the number of cycles, mod 2)."""
    p = p.tolist()
    seen, cycles = [False] * len(p), 0
    for start in range(len(p)):
        if not seen[start]:
            cycles += 1
            i = start
            while not seen[i]:
                seen[i], i = True, p[i]
    return (len(p) - cycles) % 2


def test_power_of_two_sizes_have_one_parity_as_the_docstring_says():
    """The documented limit: for n = 2^b (b >= 4, no cycle walking) every key gives a
    permutation of the same parity; cycle walking (n not a power of two) mixes them."""
    for n in (16, 32, 256):
        assert len({parity(p) for p in permutations(n, keys=200, seed=n)}) == 1
    for n in (15, 17, 100):
        assert {parity(p) for p in permutations(n, keys=200, seed=n)} == {0, 1}


def test_shuffled_batches_put_example_i_at_position_p_i_and_drop_the_last_positions():
    n, batch_size = 23, 5
    key = jax.random.key(11)
    x = jnp.arange(n * 2, dtype=jnp.float32).reshape(n, 2)
    y = jnp.arange(n) * 10
    xs, ys = jax.jit(shuffle.shuffled_batches, static_argnums=1)(key, batch_size, x, y)
    assert xs.shape == (4, 5, 2) and ys.shape == (4, 5)
    p = np.asarray(shuffle.permutation(key, n))
    order = np.argsort(p)  # the example at each position
    np.testing.assert_array_equal(np.asarray(ys).ravel(), np.asarray(y)[order[:20]])
    np.testing.assert_array_equal(np.asarray(xs).reshape(20, 2), np.asarray(x)[order[:20]])
    dropped = set(range(n)) - set(np.asarray(ys).ravel() // 10)
    assert dropped == {i for i in range(n) if p[i] >= 20}


def test_shuffled_batches_vmap_over_keys():
    """What the deep ensemble does: one data set, a key per member."""
    keys = jax.random.split(jax.random.key(4), 3)
    x, y = jnp.arange(40.0).reshape(20, 2), jnp.arange(20)
    xs, ys = jax.vmap(lambda k: shuffle.shuffled_batches(k, 6, x, y))(keys)
    assert xs.shape == (3, 3, 6, 2) and ys.shape == (3, 3, 6)
    for k in range(3):
        one = shuffle.shuffled_batches(keys[k], 6, x, y)
        np.testing.assert_array_equal(xs[k], one[0])
        np.testing.assert_array_equal(ys[k], one[1])


@pytest.mark.parametrize("parts", [2, 4])
def test_each_part_holds_its_rows_of_every_batch_and_the_parts_make_the_epoch(parts):
    """Data parallelism: device ``part`` of ``parts`` lays out only rows ``part*m..(part+1)*m-1``
    of each batch (``part`` may be traced); side by side the parts are the one-device epoch,
    the examples left out included."""
    n, batch_size = 103, 12
    x = jnp.arange(n * 3, dtype=jnp.float32).reshape(n, 3)
    y = jnp.arange(n, dtype=jnp.int32)
    key = jax.random.key(5)
    whole = shuffle.shuffled_batches(key, batch_size, x, y)
    per_part = jax.jit(jax.vmap(lambda part: shuffle.shuffled_batches(key, batch_size, x, y, part=part, parts=parts)))(
        jnp.arange(parts))
    m = batch_size // parts
    for got, expected in zip(per_part, whole):
        assert got.shape == (parts, n // batch_size, m, *expected.shape[2:])
        joined = jnp.concatenate(list(got), axis=1)
        np.testing.assert_array_equal(np.asarray(joined), np.asarray(expected))
