"""Datasets: synthetic sets, bundled real sets, MNIST-format files, scalers, batching.

* :func:`load` gives a :class:`Dataset` with fixed train/validation/test splits as numpy
  arrays: features float32 ``(N, n_features)``, class labels int32 ``(N,)``, regression
  targets float32 ``(N, 1)``.  :func:`names` lists what it knows.
* Synthetic generators (``xor``, ``two_moons``, ``circles``, ``spirals``, ``blobs``,
  ``function_1d``, ``polynomial``) take an explicit ``jax.random`` key and return jax
  arrays: ``x`` in JAX's default float dtype, class labels int32.  Same key, same data.
* :func:`read_idx` reads the IDX format of MNIST; :func:`load_mnist` finds, downloads
  (only when asked) and verifies the MNIST and Fashion-MNIST files.
* Feature scaling (lecture 004) as pure fit/transform/inverse triples:
  min-max ``x' = a + (x - min)(b - a) / (max - min)`` and standardization
  ``x' = (x - mu) / sigma``, the statistics taken per feature over the first axis.
* :func:`one_hot` and a shuffling mini-batch generator :func:`batches` for notebooks
  (``jaxnn.train`` shuffles on device itself).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Dataset", "load", "names",
    "MinMaxState", "minmax_fit", "minmax_transform", "minmax_inverse",
    "StandardState", "standard_fit", "standard_transform", "standard_inverse",
    "one_hot", "batches",
    "xor", "two_moons", "circles", "spirals", "blobs", "function_1d", "polynomial",
    "FUNCTIONS_1D", "read_idx", "parse_idx", "load_mnist", "mnist_directory",
    "MNIST_FILES", "MNIST_URLS", "MNIST_SHA256",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike
Split = tuple[np.ndarray, np.ndarray]


# ============================================================================ scalers

class MinMaxState(NamedTuple):
    """Fitted min-max scaler: per-feature ``data_min``, ``data_max`` and the target
    interval ``feature_range = (a, b)``."""
    data_min: Array
    data_max: Array
    feature_range: tuple[float, float]


class StandardState(NamedTuple):
    """Fitted standardizer: per-feature ``mean`` and ``std`` (population, ddof=0), with
    ``std = 1`` for constant features."""
    mean: Array
    std: Array


def _float_array(x: ArrayLike, what: str = "x") -> Array:
    """``x`` as a jax array of a float dtype (integers become the default float)."""
    x = jnp.asarray(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{what} must have shape (N, ...) with N >= 1 examples; got {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def _constant(x: Array) -> Array:
    """Mask of features that take one value over the examples (exactly ``max == min``)."""
    return jnp.max(x, axis=0) == jnp.min(x, axis=0)


def minmax_fit(x: ArrayLike, feature_range: tuple[float, float] = (0.0, 1.0)) -> MinMaxState:
    """Per-feature minimum and maximum of ``x``: ``(N, *F)`` -> state with ``(*F,)`` arrays."""
    low, high = feature_range
    if not low < high:
        raise ValueError(f"feature_range must be (a, b) with a < b; got {feature_range}")
    x = _float_array(x)
    return MinMaxState(jnp.min(x, axis=0), jnp.max(x, axis=0), (float(low), float(high)))


def _minmax_range(state: MinMaxState) -> Array:
    """``max - min``, with 1 for constant features (scikit-learn's choice)."""
    data_range = state.data_max - state.data_min
    return jnp.where(data_range == 0, 1, data_range)


def minmax_transform(state: MinMaxState, x: ArrayLike) -> Array:
    """``x' = a + (x - min)(b - a) / (max - min)`` (lecture 004), per feature.

    Fitted data lands in ``[a, b]``; a constant feature (``max == min``) maps to ``a``
    rather than dividing by zero.  New data may fall outside ``[a, b]``.
    """
    low, high = state.feature_range
    return low + (_float_array(x) - state.data_min) * (high - low) / _minmax_range(state)


def minmax_inverse(state: MinMaxState, x_scaled: ArrayLike) -> Array:
    """Undo :func:`minmax_transform`: ``x = min + (x' - a)(max - min) / (b - a)``."""
    low, high = state.feature_range
    return state.data_min + (_float_array(x_scaled) - low) * _minmax_range(state) / (high - low)


def standard_fit(x: ArrayLike) -> StandardState:
    """Per-feature mean and population standard deviation of ``x`` ``(N, *F)``.

    A constant feature gets ``std = 1`` (as scikit-learn's StandardScaler), so it is
    centred to 0 instead of divided by zero.
    """
    x = _float_array(x)
    std = jnp.where(_constant(x), 1, jnp.std(x, axis=0)).astype(x.dtype)
    return StandardState(jnp.mean(x, axis=0), std)


def standard_transform(state: StandardState, x: ArrayLike) -> Array:
    """``x' = (x - mu) / sigma`` (lecture 004): zero mean, unit variance on the fitted data."""
    return (_float_array(x) - state.mean) / state.std


def standard_inverse(state: StandardState, x_scaled: ArrayLike) -> Array:
    """Undo :func:`standard_transform`: ``x = x' sigma + mu``."""
    return _float_array(x_scaled) * state.std + state.mean


_SCALERS = {"standard": (standard_fit, standard_transform),
            "minmax": (minmax_fit, minmax_transform)}


# ============================================================================ labels, batches

def one_hot(labels: ArrayLike, n_classes: int, dtype=None) -> Array:
    """One-hot rows: integer labels ``(N,)`` -> ``(N, n_classes)``, ``1`` at each label.

    dtype: defaults to JAX's default float.  Labels outside ``[0, n_classes)`` raise
    ``ValueError`` (checked when the labels are concrete, i.e. outside ``jit``).
    """
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1; got {n_classes}")
    if labels.size and not isinstance(labels, jax.core.Tracer):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            raise ValueError(f"labels must lie in [0, {n_classes - 1}] for n_classes="
                             f"{n_classes}; got values in [{low}, {high}]")
    return jax.nn.one_hot(labels, n_classes, dtype=dtype or jnp.result_type(float))


def batches(x: ArrayLike, y: ArrayLike, batch_size: int, *, key: Array | None = None,
            shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple]:
    """Mini-batches ``(x[idx], y[idx])`` covering the data once (one epoch).

    x: ``(N, ...)``, y: ``(N, ...)``, numpy or jax arrays (batches are of the same kind).
    shuffle: visit the examples in the order ``jax.random.permutation(key, N)``; pass a
    fresh ``key`` each epoch.  drop_last: skip the final batch when it has fewer than
    ``batch_size`` examples (otherwise it is yielded, smaller).
    Arguments are checked here, before the first batch is asked for.
    """
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    y = y if isinstance(y, jax.Array) else np.asarray(y)
    n = len(x)
    if n == 0:
        raise ValueError("x is empty; batches need at least one example")
    if len(y) != n:
        raise ValueError(f"x and y must have the same number of examples; got {n} and {len(y)}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, {n}] (the number of examples); "
                         f"got {batch_size}")
    if shuffle and key is None:
        raise ValueError("shuffle=True needs a key, e.g. key=jax.random.key(epoch); "
                         "or pass shuffle=False")
    order = np.asarray(jax.random.permutation(key, n)) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return ((x[order[i:i + batch_size]], y[order[i:i + batch_size]])
            for i in range(0, stop, batch_size))


# ============================================================================ synthetic

def _check_generator_args(n: int, noise: float, min_n: int = 1) -> None:
    if not isinstance(n, (int, np.integer)) or n < min_n:
        raise ValueError(f"n must be an int >= {min_n}; got {n!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (a standard deviation); got {noise}")


def _class_counts(n: int, n_classes: int) -> list[int]:
    """``n`` split over classes as evenly as possible, the first classes taking extras."""
    return [n // n_classes + (k < n % n_classes) for k in range(n_classes)]


def _points(x: np.ndarray, y: np.ndarray) -> tuple[Array, Array]:
    """A noiseless layout built with numpy, as jax arrays: default float, int32 labels."""
    return jnp.asarray(x, dtype=jnp.result_type(float)), jnp.asarray(y, dtype=jnp.int32)


@jax.jit
def _shuffle_and_jitter(key: Array, x: Array, y: Array, noise: float) -> tuple[Array, Array]:
    """Random order, then ``x + noise * N(0, 1)`` (one compiled program per shape)."""
    order_key, noise_key = jax.random.split(key)
    order = jax.random.permutation(order_key, x.shape[0])
    x, y = x[order], y[order]
    return x + noise * jax.random.normal(noise_key, x.shape, x.dtype), y


@functools.partial(jax.jit, static_argnums=1)
def _xor_points(key: Array, n: int, noise: float) -> tuple[Array, Array]:
    quadrant_key, magnitude_key, noise_key = jax.random.split(key, 3)
    quadrant = jax.random.permutation(quadrant_key, jnp.arange(n) % 4)
    signs = jnp.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])[quadrant]
    magnitude = 1 - jax.random.uniform(magnitude_key, (n, 2))             # in (0, 1]
    x = signs * magnitude
    y = (quadrant % 2).astype(jnp.int32)                                   # quadrants 2, 4
    return x + noise * jax.random.normal(noise_key, x.shape, x.dtype), y


def xor(key: Array, n: int, noise: float = 0.0) -> tuple[Array, Array]:
    """The XOR problem: ``x`` ``(n, 2)`` in ``[-1, 1]^2``, ``y = 1`` iff ``x0 * x1 < 0``.

    Each point's quadrant is drawn so the four quadrants get ``n / 4`` points each (±1),
    hence class counts differ by at most 1; coordinates' magnitudes are uniform in
    ``(0, 1]``.  Labels follow the noiseless point; ``noise`` (std of added Gaussian
    noise) then blurs the boundary.  Not linearly separable (Minsky & Papert, 1969).
    """
    _check_generator_args(n, noise)
    return _xor_points(key, int(n), noise)


def two_moons(key: Array, n: int, noise: float = 0.0) -> tuple[Array, Array]:
    """Two interleaved half circles, as scikit-learn's ``make_moons``: ``(n, 2)``, labels.

    Class 0 (``n // 2`` points): ``(cos t, sin t)``, unit circle centred at ``(0, 0)``;
    class 1 (the rest): ``(1 - cos t, 0.5 - sin t)``, unit circle centred at
    ``(1, 0.5)``; ``t`` evenly spaced in ``[0, pi]``.  Shuffled, then Gaussian ``noise``.
    """
    _check_generator_args(n, noise, min_n=2)
    n_outer = n // 2
    t_outer, t_inner = np.linspace(0, np.pi, n_outer), np.linspace(0, np.pi, n - n_outer)
    x = np.concatenate([np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
                        np.stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)])
    return _shuffle_and_jitter(key, *_points(x, np.arange(n) >= n_outer), noise)


def circles(key: Array, n: int, noise: float = 0.0, factor: float = 0.5
            ) -> tuple[Array, Array]:
    """Two concentric circles, as scikit-learn's ``make_circles``: ``(n, 2)``, labels.

    Class 0 (``n // 2`` points): radius 1; class 1 (the rest): radius ``factor``; angles
    evenly spaced in ``[0, 2 pi)``.  Shuffled, then Gaussian ``noise``.
    """
    _check_generator_args(n, noise, min_n=2)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1); "
                         f"got {factor}")
    n_outer = n // 2
    angle = np.concatenate([np.linspace(0, 2 * np.pi, m, endpoint=False)
                            for m in (n_outer, n - n_outer)])
    radius = np.where(np.arange(n) < n_outer, 1.0, factor)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _shuffle_and_jitter(key, *_points(x, np.arange(n) >= n_outer), noise)


def spirals(key: Array, n: int, noise: float = 0.0, n_classes: int = 2,
            turns: float = 1.0) -> tuple[Array, Array]:
    """Interleaved spiral arms, one per class: ``(n, 2)``, labels (as CS231n's example).

    Arm ``k`` of ``K``: ``r (cos theta, sin theta)`` with ``r`` evenly spaced in
    ``(0, 1]`` and ``theta = 2 pi (turns r + k / K)``.  Class counts differ by at most 1.
    Shuffled, then Gaussian ``noise``.
    """
    _check_generator_args(n, noise, min_n=n_classes)
    if n_classes < 2 or turns <= 0:
        raise ValueError(f"need n_classes >= 2 and turns > 0; got {n_classes}, {turns}")
    counts = _class_counts(n, n_classes)
    y = np.repeat(np.arange(n_classes), counts)
    r = np.concatenate([np.arange(1, count + 1) / count for count in counts])
    theta = 2 * np.pi * (turns * r + y / n_classes)
    x = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _shuffle_and_jitter(key, *_points(x, y), noise)


@functools.partial(jax.jit, static_argnums=3)
def _clusters(key: Array, centers: Array, std: Array, n: int) -> tuple[Array, Array]:
    order_key, noise_key = jax.random.split(key)
    labels = np.repeat(np.arange(len(std)), _class_counts(n, len(std)))
    y = jax.random.permutation(order_key, jnp.asarray(labels, jnp.int32))
    noise = jax.random.normal(noise_key, (n, centers.shape[1]), centers.dtype)
    return centers[y] + std[y][:, None] * noise, y


def blobs(key: Array, n: int, centers: int | ArrayLike = 3, std: float | ArrayLike = 1.0,
          *, n_features: int = 2, center_box: tuple[float, float] = (-10.0, 10.0)
          ) -> tuple[Array, Array]:
    """Isotropic Gaussian clusters, as scikit-learn's ``make_blobs``.

    centers: an int ``K`` (centres drawn uniformly in ``center_box ** n_features``) or a
    ``(K, D)`` array.  std: one standard deviation, or one per cluster ``(K,)``.
    Returns ``x = centers[y] + std[y] * N(0, I)`` ``(n, D)`` and labels ``y`` ``(n,)``,
    class counts differing by at most 1, in random order.
    """
    centers_key, key = jax.random.split(key)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be >= 1 or a (K, D) array; got {centers}")
        low, high = center_box
        centers = jax.random.uniform(centers_key, (int(centers), n_features),
                                     minval=low, maxval=high)
    centers = _float_array(centers, "centers")
    if centers.ndim != 2:
        raise ValueError(f"centers must have shape (K, D); got {centers.shape}")
    _check_generator_args(n, 0.0, min_n=centers.shape[0])
    std = jnp.broadcast_to(jnp.asarray(std, centers.dtype), centers.shape[:1])
    if bool(jnp.any(std < 0)):
        raise ValueError(f"std must be >= 0; got {std}")
    return _clusters(key, centers, std, int(n))


def _sin(x: Array) -> Array:
    """``sin(pi x)``: one full period on ``[-1, 1]``."""
    return jnp.sin(jnp.pi * x)


def _step(x: Array) -> Array:
    """Heaviside step: 1 for ``x > 0``, else 0."""
    return (x > 0).astype(x.dtype)


FUNCTIONS_1D: dict[str, Callable[[Array], Array]] = {
    "sin": _sin, "abs": jnp.abs, "step": _step, "square": jnp.square,
}
"""Named targets of :func:`function_1d`: ``sin`` = sin(pi x), ``abs`` = |x|,
``step`` = 1[x > 0], ``square`` = x**2."""


def _uniform_inputs(key: Array, n: int, x_range: tuple[float, float]) -> Array:
    low, high = x_range
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high; got {x_range}")
    return jax.random.uniform(key, (n, 1), minval=low, maxval=high)


def function_1d(key: Array, n: int, fn: str | Callable[[Array], Array] = "sin",
                noise: float = 0.0, x_range: tuple[float, float] = (-1.0, 1.0)
                ) -> tuple[Array, Array]:
    """Samples of a 1-D function for regression (universal approximation demos).

    ``x`` ``(n, 1)`` uniform in ``x_range`` (unsorted); ``y = fn(x) + noise * N(0, 1)``
    ``(n, 1)``.  fn: a name in :data:`FUNCTIONS_1D` or an elementwise ``jnp`` function.
    """
    _check_generator_args(n, noise)
    if isinstance(fn, str):
        if fn not in FUNCTIONS_1D:
            raise ValueError(f"unknown function {fn!r}; known: {', '.join(FUNCTIONS_1D)} "
                             f"(or pass a callable)")
        fn = FUNCTIONS_1D[fn]
    x_key, noise_key = jax.random.split(key)
    x = _uniform_inputs(x_key, n, x_range)
    y = fn(x)
    return x, y + noise * jax.random.normal(noise_key, y.shape, y.dtype)


def polynomial(key: Array, n: int, coefficients: Sequence[float], noise: float = 0.0,
               x_range: tuple[float, float] = (-1.0, 1.0)) -> tuple[Array, Array]:
    """Samples of ``y = w0 + w1 x + w2 x^2 + ... + noise * N(0, 1)`` (lecture 004's
    polynomial basis), ``coefficients = (w0, w1, ...)`` in increasing degree.

    Returns ``x`` ``(n, 1)`` uniform in ``x_range`` and ``y`` ``(n, 1)``.
    """
    _check_generator_args(n, noise)
    coefficients = jnp.asarray(coefficients, dtype=jnp.result_type(float))
    if coefficients.ndim != 1 or coefficients.size == 0:
        raise ValueError(f"coefficients must be a non-empty sequence (w0, w1, ...); "
                         f"got shape {coefficients.shape}")
    x_key, noise_key = jax.random.split(key)
    x = _uniform_inputs(x_key, n, x_range)
    y = jnp.polyval(coefficients[::-1], x)                  # Horner's rule
    return x, y + noise * jax.random.normal(noise_key, y.shape, y.dtype)


# ============================================================================ IDX / MNIST

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
"""IDX type codes (third byte of the magic number) and their big-endian dtypes."""

MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz",
}
"""The four files of an MNIST-format dataset (the same names for Fashion-MNIST)."""

MNIST_URLS: dict[str, str] = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
"""Base URL per kind: the mirror TensorFlow Datasets uses for MNIST, and the download
location in Zalando Research's Fashion-MNIST README.  Integrity rests on the SHA-256
check below, not on the transport."""

MNIST_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
"""Official SHA-256 of every file, from TensorFlow Datasets' ``url_checksums/mnist.txt``
and ``fashion_mnist.txt`` (which also agree with Fashion-MNIST's published MD5s)."""

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into an array in native byte order.

    Layout: magic ``00 00 <type code> <ndim>``, then ``ndim`` big-endian uint32 sizes,
    then the values, big-endian, row-major.  Raises ``ValueError`` naming ``source`` for a
    bad magic number, an unknown type code, or a payload of the wrong size.
    """
    if len(data) < 4:
        raise ValueError(f"{source}: truncated IDX file, {len(data)} bytes, no 4-byte magic")
    if data[:2] != b"\x00\x00" or data[3] == 0:
        raise ValueError(f"{source}: bad IDX magic number 0x{data[:4].hex()}; expected "
                         f"00 00 <type code> <ndim >= 1> (e.g. 0x00000803 for images)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{source}: unknown IDX type code 0x{code:02x}; known: "
                         f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{source}: truncated IDX header, {ndim} dimensions need "
                         f"{header_size} bytes, the file has {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "trailing bytes after the data"
        raise ValueError(f"{source}: {problem}: shape {shape} of {dtype.name} needs "
                         f"{expected} bytes of data, the file has {actual}")
    values = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzip-compressed or raw, into a numpy array.

    Compression is detected from the content (gzip's ``1f 8b`` magic), not the name.
    Raises ``ValueError`` for corrupt gzip data or an invalid IDX file (see
    :func:`parse_idx`) and ``FileNotFoundError`` for a missing file.
    """
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{os.fspath(path)}: corrupt or truncated gzip data "
                             f"({error})") from None
    return parse_idx(data, source=os.fspath(path))


def mnist_directory(kind: str = "mnist", data_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`load_mnist` looks for the files of ``kind``: ``data_dir`` itself if
    given, else ``$JAXNN_DATA_DIR/<kind>``, else ``~/.cache/jaxnn/<kind>``."""
    if data_dir is not None:
        return Path(data_dir)
    root = os.environ.get("JAXNN_DATA_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "jaxnn") / kind


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_get(kind: str, directory: Path, files: Sequence[str]) -> str:
    urls = "\n".join(f"  {MNIST_URLS[kind]}{name}" for name in files)
    return (f"To get them, call jaxnn.datasets.load_mnist({kind!r}, download=True) (or "
            f"jaxnn.datasets.load({kind!r}, download=True)), or download\n{urls}\ninto "
            f"{directory} yourself; set JAXNN_DATA_DIR to keep datasets elsewhere.")


def _download(url: str, destination: Path, sha256: str) -> None:
    """Fetch ``url`` to ``destination`` via a temporary file, verified before renaming."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        actual = _sha256(Path(temp_name))
        if actual != sha256:
            raise ValueError(f"downloaded {url} has SHA-256 {actual}, expected {sha256}; "
                             f"the mirror served a different file")
        os.replace(temp_name, destination)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def load_mnist(kind: str = "mnist", *, data_dir: str | os.PathLike | None = None,
               download: bool = False) -> tuple[Split, Split]:
    """The official MNIST or Fashion-MNIST train and test sets, verified by SHA-256.

    Looks for the four :data:`MNIST_FILES` in :func:`mnist_directory` (``data_dir``, else
    ``$JAXNN_DATA_DIR/<kind>``, else ``~/.cache/jaxnn/<kind>``).  Missing files are
    fetched from :data:`MNIST_URLS` only if ``download=True``.  Every file's SHA-256 must
    equal :data:`MNIST_SHA256`.

    Returns ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(N, 28, 28)``
    (60,000 and 10,000), labels int32 ``(N,)`` in ``0..9``.
    Raises ``FileNotFoundError`` (files missing, ``download=False``) or ``ConnectionError``
    (download failed) saying which files, where, and how to get them; ``ValueError`` for
    a checksum mismatch or a corrupt file.
    """
    if kind not in MNIST_URLS:
        raise ValueError(f"unknown MNIST kind {kind!r}; known: {', '.join(MNIST_URLS)}")
    directory = mnist_directory(kind, data_dir)
    checksums = MNIST_SHA256[kind]
    missing = [name for name in MNIST_FILES.values() if not (directory / name).is_file()]
    if missing and not download:
        raise FileNotFoundError(f"{kind}: missing {', '.join(missing)} in {directory}.\n"
                                + _how_to_get(kind, directory, missing))
    for name in missing:
        url = MNIST_URLS[kind] + name
        try:
            _download(url, directory / name, checksums[name])
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ConnectionError(f"{kind}: could not download {url} ({error}).\n"
                                  + _how_to_get(kind, directory, missing)) from error
    for name in MNIST_FILES.values():
        actual = _sha256(directory / name)
        if actual != checksums[name]:
            raise ValueError(f"{directory / name}: SHA-256 {actual} is not the official "
                             f"{checksums[name]}; the file is corrupt or not the {kind} "
                             f"original. Delete it and load again with download=True.")
    arrays = {part: read_idx(directory / name) for part, name in MNIST_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{directory}: {split} images {images.shape} and labels "
                             f"{labels.shape} do not form an (N, H, W) / (N,) pair")
    return ((arrays["train_images"], arrays["train_labels"].astype(np.int32)),
            (arrays["test_images"], arrays["test_labels"].astype(np.int32)))


# ============================================================================ load

class Dataset(NamedTuple):
    """A dataset with fixed train/validation/test splits, as numpy arrays.

    Each split is a pair ``(x, y)``: ``x`` float32 ``(N, n_features)`` (images
    flattened row-major; ``x.reshape(-1, *image_shape)`` gives NHWC), ``y`` int32
    ``(N,)`` class labels or float32 ``(N, 1)`` regression targets.  ``scaler`` is the
    state fitted on the training features (``None`` when ``scale=None``), so new data
    can be transformed the same way and results mapped back (``*_inverse``).
    """
    name: str
    task: str                                  # "classification" | "regression"
    train: Split
    val: Split
    test: Split
    n_classes: int | None                      # None for regression
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    image_shape: tuple[int, int, int] | None   # (H, W, C) for image sets
    scaler: MinMaxState | StandardState | None

    @property
    def n_features(self) -> int:
        return int(self.train[0].shape[1])


_DESCRIPTIONS: dict[str, str] = {
    "digits": "8x8 handwritten digits: 1,797 images, 64 pixels, 10 classes (scikit-learn, bundled)",
    "iris": "iris flowers: 150 examples, 4 measurements, 3 species (scikit-learn, bundled)",
    "wine": "wine cultivars: 178 examples, 13 chemical features, 3 classes (scikit-learn, bundled)",
    "breast_cancer": "Wisconsin breast cancer: 569 examples, 30 features, 2 classes "
                     "(scikit-learn, bundled)",
    "diabetes": "diabetes progression: 442 patients, 10 features, regression "
                "(scikit-learn, bundled)",
    "mnist": "28x28 handwritten digits: 70,000 images, 10 classes (download=True once, 11 MB)",
    "fashion_mnist": "28x28 Zalando clothing images: 70,000 images, 10 classes "
                     "(download=True once, 30 MB)",
}
_PIXEL_MAXIMUM = {"digits": 16.0, "mnist": 255.0, "fashion_mnist": 255.0}


def names() -> dict[str, str]:
    """The dataset names :func:`load` knows, each with a one-line description."""
    return dict(_DESCRIPTIONS)


def _sklearn():
    """scikit-learn's ``datasets`` and ``train_test_split``, or a clear ImportError."""
    try:
        from sklearn import datasets as sk_datasets
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError("the bundled datasets (digits, iris, wine, breast_cancer, diabetes) "
                          "are read with scikit-learn: pip install 'jaxnn[experiments]' "
                          "(or pip install scikit-learn)") from error
    return sk_datasets, train_test_split


def _bundled_splits(name: str, seed: int) -> tuple[Split, Split, Split, object]:
    """60/20/20 train/val/test split of a scikit-learn bundled dataset (stratified by
    class for classification), with features float32 and images divided by 16."""
    sk_datasets, train_test_split = _sklearn()
    options = {"scaled": False} if name == "diabetes" else {}
    bunch = getattr(sk_datasets, f"load_{name}")(**options)
    x = np.asarray(bunch.data, np.float32) / np.float32(_PIXEL_MAXIMUM.get(name, 1.0))
    if name == "diabetes":
        y, stratify = np.asarray(bunch.target, np.float32)[:, None], None
    else:
        y = np.asarray(bunch.target, np.int32)
        stratify = y
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=stratify)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=seed,
        stratify=None if stratify is None else y_rest)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test), bunch


def _flat_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(N, H, W)`` -> float32 ``(N, H*W)`` intensities in ``[0, 1]``."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def _idx_splits(kind: str, data_dir, download: bool) -> tuple[Split, Split, Split]:
    """MNIST-format train (first 5/6 of the official train set), val (its last sixth)
    and the official test set; pixels flattened and divided by 255."""
    (x_train, y_train), (x_test, y_test) = load_mnist(kind, data_dir=data_dir,
                                                      download=download)
    x_train, x_test = _flat_pixels(x_train), _flat_pixels(x_test)
    cut = len(x_train) - len(x_train) // 6
    return (x_train[:cut], y_train[:cut]), (x_train[cut:], y_train[cut:]), (x_test, y_test)


def load(name: str, *, scale: str | None = "standard", seed: int = 0,
         data_dir: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """A dataset by name, split into fixed train/validation/test sets and scaled.

    Bundled (scikit-learn's files, no network): 60/20/20 split by two
    ``train_test_split`` calls with ``random_state=seed``, stratified by class for the
    classification sets.  Split sizes (train/val/test) do not depend on ``seed``:

    ==============  ================  =========  ========  ============================
    name            train/val/test    features   classes   x before scaling
    ==============  ================  =========  ========  ============================
    digits          1077 / 360 / 360  64         10        pixel / 16, in [0, 1]
    iris            90 / 30 / 30      4          3         cm
    wine            106 / 36 / 36     13         3         raw measurements
    breast_cancer   341 / 114 / 114   30         2         raw measurements
    diabetes        264 / 89 / 89     10         --        raw (``scaled=False``);
                                                           y: progression 25..346
    ==============  ================  =========  ========  ============================

    MNIST-format (``mnist``, ``fashion_mnist``; see :func:`load_mnist`, ``data_dir`` and
    ``download`` are passed to it): train = the first 50,000 images of the official
    training set, val = its last 10,000 (the last sixth), test = the official 10,000;
    independent of ``seed``.  784 features, pixel / 255 in [0, 1]; ``image_shape`` is
    ``(28, 28, 1)``.

    scale: ``"standard"`` (zero mean, unit variance), ``"minmax"`` (to [0, 1]) or
    ``None``; fitted per feature on the training split only and applied to all three.
    Regression targets are never scaled.
    """
    if name not in _DESCRIPTIONS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_DESCRIPTIONS)}")
    if scale is not None and scale not in _SCALERS:
        raise ValueError(f"scale must be one of {', '.join(map(repr, _SCALERS))} or None; "
                         f"got {scale!r}")
    if name in MNIST_URLS:
        train, val, test = _idx_splits(name, data_dir, download)
        side = int(round(math.sqrt(train[0].shape[1])))
        image_shape = (side, side, 1)
        feature_names = tuple(f"pixel_{i}_{j}" for i in range(side) for j in range(side))
        class_names = (FASHION_MNIST_CLASSES if name == "fashion_mnist"
                       else tuple(str(d) for d in range(10)))
    else:
        train, val, test, bunch = _bundled_splits(name, seed)
        image_shape = (8, 8, 1) if name == "digits" else None
        feature_names = tuple(str(f) for f in bunch.feature_names)
        class_names = (None if name == "diabetes"
                       else tuple(str(c) for c in bunch.target_names))
    scaler = None
    if scale is not None:
        fit, transform = _SCALERS[scale]
        scaler = fit(train[0])
        train, val, test = ((np.asarray(transform(scaler, x), np.float32), y)
                            for x, y in (train, val, test))
    return Dataset(name=name, task="regression" if class_names is None else "classification",
                   train=train, val=val, test=test,
                   n_classes=None if class_names is None else len(class_names),
                   feature_names=feature_names, class_names=class_names,
                   image_shape=image_shape, scaler=scaler)
