"""Named datasets with fixed splits: :class:`Dataset`, :func:`load`, :func:`names`.

The bundled scikit-learn sets (digits, iris, wine, breast_cancer, diabetes) are split
here; the MNIST-format sets come from :mod:`jaxnn.datasets.idx`.  Features are scaled
with the scalers of :mod:`jaxnn.datasets.preprocessing`, fitted on the training split.
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

from jaxnn.datasets.idx import FASHION_MNIST_CLASSES, MNIST_URLS, Split, load_mnist
from jaxnn.datasets.preprocessing import _SCALERS, MinMaxState, StandardState
from jaxnn.util import as_int


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
    if not isinstance(name, str) or name not in _DESCRIPTIONS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_DESCRIPTIONS)}")
    if as_int(seed) is None or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got seed={seed!r}")
    if scale is not None and (not isinstance(scale, str) or scale not in _SCALERS):
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
