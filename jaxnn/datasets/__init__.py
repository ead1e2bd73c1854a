"""Datasets: synthetic sets, bundled real sets, MNIST-format files, scalers, batching.

* :func:`load` gives a :class:`Dataset` with fixed train/validation/test splits as numpy
  arrays: features float32 ``(N, n_features)``, class labels int32 ``(N,)``, regression
  targets float32 ``(N, 1)``.  :func:`names` lists what it knows.
* Synthetic generators (``xor``, ``two_moons``, ``circles``, ``spirals``, ``blobs``,
  ``function_1d``, ``polynomial``) take an explicit ``jax.random`` key and return jax
  arrays: ``x`` in JAX's default float dtype, class labels int32.  Same key, same data.
* :func:`read_idx` reads the IDX format of MNIST; :func:`load_mnist` finds, downloads
  (only when asked) and verifies the MNIST and Fashion-MNIST files.
* Feature scaling (Liverpool, "Gradient descent: remarks", normalization and
  standardization) as pure fit/transform/inverse triples:
  min-max ``x' = a + (x - min)(b - a) / (max - min)`` and standardization
  ``x' = (x - mu) / sigma``, the statistics taken per feature over the first axis.
* :func:`one_hot` and a shuffling mini-batch generator :func:`batches` for notebooks
  (``jaxnn.train`` shuffles on device itself).

Submodules, imports flowing one way (``synthetic`` and ``bundled`` use
``preprocessing``; ``bundled`` uses ``idx``): ``preprocessing`` (scalers, one_hot,
batches), ``synthetic`` (generators), ``idx`` (IDX reader, MNIST download, cache and
SHA-256 check), ``bundled`` (``Dataset``, ``load``, ``names``).  The tables
(``MNIST_SHA256``, ``MNIST_URLS``, ...) are read where they are defined, in ``idx``:
patch them there.
"""
from jaxnn.datasets.bundled import Dataset, load, names
from jaxnn.datasets.idx import (
    FASHION_MNIST_CLASSES, IDX_DTYPES, MNIST_FILES, MNIST_SHA256, MNIST_URLS, Split,
    load_mnist, mnist_directory, parse_idx, read_idx,
)
from jaxnn.datasets.preprocessing import (
    Array, ArrayLike, MinMaxState, StandardState, batches, minmax_fit, minmax_inverse,
    minmax_transform, one_hot, standard_fit, standard_inverse, standard_transform,
)
from jaxnn.datasets.synthetic import (
    FUNCTIONS_1D, blobs, circles, function_1d, polynomial, spirals, two_moons, xor,
)

__all__ = [
    "Dataset", "load", "names",
    "MinMaxState", "minmax_fit", "minmax_transform", "minmax_inverse",
    "StandardState", "standard_fit", "standard_transform", "standard_inverse",
    "one_hot", "batches",
    "xor", "two_moons", "circles", "spirals", "blobs", "function_1d", "polynomial",
    "FUNCTIONS_1D", "read_idx", "parse_idx", "load_mnist", "mnist_directory",
    "MNIST_FILES", "MNIST_URLS", "MNIST_SHA256",
]
