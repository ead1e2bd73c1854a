"""jaxnn.datasets: scalers vs scikit-learn, synthetic geometry, IDX/MNIST files, splits."""
import gzip
import hashlib
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import datasets
from jaxnn.datasets import idx

sk_datasets = pytest.importorskip("sklearn.datasets")
sk_preprocessing = pytest.importorskip("sklearn.preprocessing")


# ----------------------------------------------------------------------------- scalers

def features_with_a_constant_column(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 5.0, (40, 4)) * np.array([1.0, 100.0, 0.01, 1.0])
    x[:, 3] = 7.0
    return x


def test_minmax_matches_sklearn_including_constant_feature_and_new_data():
    x, x_new = features_with_a_constant_column(0), features_with_a_constant_column(1)
    state = datasets.minmax_fit(x, feature_range=(-1.0, 2.0))
    oracle = sk_preprocessing.MinMaxScaler(feature_range=(-1.0, 2.0)).fit(x)
    np.testing.assert_allclose(datasets.minmax_transform(state, x), oracle.transform(x),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(datasets.minmax_transform(state, x_new),
                               oracle.transform(x_new), rtol=1e-12, atol=1e-12)
    scaled = np.asarray(datasets.minmax_transform(state, x))
    np.testing.assert_allclose(scaled[:, :3].min(0), -1.0)
    np.testing.assert_allclose(scaled[:, :3].max(0), 2.0)
    np.testing.assert_array_equal(scaled[:, 3], -1.0)            # constant -> a
    np.testing.assert_allclose(datasets.minmax_inverse(state, scaled), x, rtol=1e-12)


def test_standard_matches_sklearn_including_constant_feature_and_new_data():
    x, x_new = features_with_a_constant_column(0), features_with_a_constant_column(1)
    state = datasets.standard_fit(x)
    oracle = sk_preprocessing.StandardScaler().fit(x)
    np.testing.assert_allclose(state.mean, oracle.mean_, rtol=1e-12)
    np.testing.assert_allclose(state.std, oracle.scale_, rtol=1e-12)
    np.testing.assert_allclose(datasets.standard_transform(state, x), oracle.transform(x),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(datasets.standard_transform(state, x_new),
                               oracle.transform(x_new), rtol=1e-10, atol=1e-12)
    scaled = np.asarray(datasets.standard_transform(state, x))
    np.testing.assert_array_equal(scaled[:, 3], 0.0)             # constant -> 0, not nan
    np.testing.assert_allclose(datasets.standard_inverse(state, scaled), x, rtol=1e-12)


def test_scalers_work_per_feature_on_image_shaped_data_and_keep_float32():
    x = np.random.default_rng(2).uniform(0, 255, (10, 3, 3, 1)).astype(np.float32)
    state = datasets.standard_fit(x)
    assert state.mean.shape == (3, 3, 1)
    scaled = datasets.standard_transform(state, x)
    assert scaled.dtype == jnp.float32
    np.testing.assert_allclose(np.mean(scaled, axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.std(scaled, axis=0), 1.0, rtol=1e-5)
    ints = datasets.minmax_transform(datasets.minmax_fit(np.array([[0], [5], [10]])),
                                     np.array([[5]]))
    assert jnp.issubdtype(ints.dtype, jnp.floating) and float(ints[0, 0]) == 0.5


def test_scaler_argument_errors():
    with pytest.raises(ValueError, match=r"a < b; got \(1.0, 0.0\)"):
        datasets.minmax_fit(np.ones((3, 2)), feature_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="N >= 1"):
        datasets.standard_fit(np.zeros((0, 3)))


# ----------------------------------------------------------------------------- labels, batches

def test_one_hot_matches_identity_rows_and_rejects_bad_labels():
    labels = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(datasets.one_hot(labels, 3), np.eye(3)[labels])
    assert datasets.one_hot(labels, 3).dtype == jnp.float64           # x64 on in tests
    assert datasets.one_hot(labels, 4, dtype=jnp.int32).dtype == jnp.int32
    with pytest.raises(ValueError, match=r"\[0, 2\] for n_classes=3; got values in \[0, 3\]"):
        datasets.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        datasets.one_hot(np.array([-1, 1]), 3)
    with pytest.raises(ValueError, match="integers"):
        datasets.one_hot(np.array([0.0, 1.0]), 3)


def test_batches_cover_every_example_once_in_key_determined_order(key):
    x, y = np.arange(10)[:, None] * 10, np.arange(10)
    got = list(datasets.batches(x, y, 4, key=key))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    order = np.concatenate([b[1] for b in got])
    np.testing.assert_array_equal(order, np.asarray(jax.random.permutation(key, 10)))
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb * 10)             # pairs stay aligned
    again = np.concatenate([b[1] for b in datasets.batches(x, y, 4, key=key)])
    np.testing.assert_array_equal(order, again)
    other = np.concatenate([b[1] for b in datasets.batches(x, y, 4, key=jax.random.key(1))])
    assert not np.array_equal(order, other)


def test_batches_drop_last_unshuffled_and_jax_arrays():
    x, y = jnp.arange(10.0)[:, None], jnp.arange(10)
    got = list(datasets.batches(x, y, 3, shuffle=False, drop_last=True))
    assert [b[1].tolist() for b in got] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert isinstance(got[0][0], jax.Array)
    assert len(list(datasets.batches(x, y, 10, shuffle=False, drop_last=True))) == 1
    from_lists = list(datasets.batches([[1], [2], [3]], [0, 1, 0], 2, shuffle=False))
    assert [b[0].tolist() for b in from_lists] == [[[1], [2]], [[3]]]


@pytest.mark.parametrize("x, y, batch_size, kwargs, message", [
    (np.zeros((0, 2)), np.zeros(0), 1, {"shuffle": False}, "x is empty"),
    (np.zeros((5, 2)), np.zeros(5), 0, {"shuffle": False}, r"batch_size must be in \[1, 5\]"),
    (np.zeros((5, 2)), np.zeros(5), 6, {"shuffle": False}, r"in \[1, 5\].*got 6"),
    (np.zeros((5, 2)), np.zeros(4), 2, {"shuffle": False}, "same number of examples; got 5 and 4"),
    (np.zeros((5, 2)), np.zeros(5), 2, {}, "shuffle=True needs a key"),
])
def test_batches_validate_eagerly(x, y, batch_size, kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.batches(x, y, batch_size, **kwargs)      # no next(): raised on the call


# ----------------------------------------------------------------------------- synthetic

GENERATORS = {
    "xor": lambda k: datasets.xor(k, 20, noise=0.1),
    "two_moons": lambda k: datasets.two_moons(k, 20, noise=0.1),
    "circles": lambda k: datasets.circles(k, 20, noise=0.1),
    "spirals": lambda k: datasets.spirals(k, 21, noise=0.1, n_classes=3),
    "blobs": lambda k: datasets.blobs(k, 20, centers=3),
    "function_1d": lambda k: datasets.function_1d(k, 20, noise=0.1),
    "polynomial": lambda k: datasets.polynomial(k, 20, [1.0, -2.0, 0.5], noise=0.1),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic_in_the_key(name):
    make = GENERATORS[name]
    (x1, y1), (x2, y2) = make(jax.random.key(3)), make(jax.random.key(3))
    assert x1.tobytes() == x2.tobytes() and y1.tobytes() == y2.tobytes()
    x3, _ = make(jax.random.key(4))
    assert not np.array_equal(x1, x3)
    assert x1.shape[0] == y1.shape[0] and np.all(np.isfinite(x1))


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_use_default_float_dtype_and_int32_labels(name):
    with jax.enable_x64(False):
        x, y = GENERATORS[name](jax.random.key(0))
        assert x.dtype == jnp.float32
        if name not in ("function_1d", "polynomial"):
            assert y.dtype == jnp.int32


@pytest.mark.parametrize("n", [20, 23])
def test_xor_label_rule_balance_and_range(key, n):
    x, y = datasets.xor(key, n)
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int32))
    assert np.all(np.abs(x) <= 1) and np.all(x != 0)
    assert abs(np.sum(y == 1) - np.sum(y == 0)) <= 1
    noisy, noisy_y = datasets.xor(key, n, noise=0.3)
    np.testing.assert_array_equal(noisy_y, y)                     # labels from clean points
    assert not np.allclose(noisy, x)


def sorted_rows(x):
    x = np.round(np.asarray(x, np.float64), 12)
    return x[np.lexsort(x.T[::-1])]


@pytest.mark.parametrize("n", [10, 11])
def test_two_moons_match_sklearn_and_lie_on_their_circles(key, n):
    x, y = map(np.asarray, datasets.two_moons(key, n))
    ref_x, ref_y = sk_datasets.make_moons(n, shuffle=False)
    for label in (0, 1):
        np.testing.assert_allclose(sorted_rows(x[y == label]), sorted_rows(ref_x[ref_y == label]),
                                   atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - [1.0, 0.5], axis=1), 1.0, rtol=1e-12)
    assert np.all(x[y == 0][:, 1] >= -1e-12) and np.all(x[y == 1][:, 1] <= 0.5 + 1e-12)
    assert np.sum(y == 0) == n // 2


@pytest.mark.parametrize("factor", [0.3, 0.8])
def test_circles_match_sklearn_and_have_the_two_radii(key, factor):
    x, y = map(np.asarray, datasets.circles(key, 15, factor=factor))
    ref_x, ref_y = sk_datasets.make_circles(15, shuffle=False, factor=factor)
    for label in (0, 1):
        np.testing.assert_allclose(sorted_rows(x[y == label]), sorted_rows(ref_x[ref_y == label]),
                                   atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1], axis=1), factor, rtol=1e-12)
    with pytest.raises(ValueError, match=r"factor .* must be in \(0, 1\); got 1.5"):
        datasets.circles(key, 10, factor=1.5)


def test_spirals_radius_angle_and_balance(key):
    n_classes, turns = 3, 1.5
    x, y = map(np.asarray, datasets.spirals(key, 31, n_classes=n_classes, turns=turns))
    assert sorted(np.bincount(y).tolist()) == [10, 10, 11]
    radius = np.linalg.norm(x, axis=1)
    for k in range(n_classes):
        r = np.sort(radius[y == k])
        count = len(r)
        np.testing.assert_allclose(r, np.arange(1, count + 1) / count, rtol=1e-12)
    theta = 2 * np.pi * (turns * radius + y / n_classes)
    np.testing.assert_allclose(x, radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1),
                               atol=1e-12)


def test_blobs_exact_without_noise_and_statistics_with_noise(key):
    centers = np.array([[0.0, 0.0], [5.0, -5.0], [-3.0, 8.0]])
    x, y = map(np.asarray, datasets.blobs(key, 601, centers=centers, std=0.0))
    np.testing.assert_array_equal(x, centers[y])
    assert sorted(np.bincount(y).tolist()) == [200, 200, 201]
    x, y = map(np.asarray, datasets.blobs(key, 601, centers=centers, std=[0.5, 1.0, 2.0]))
    for k, std in enumerate([0.5, 1.0, 2.0]):
        np.testing.assert_allclose(x[y == k].mean(0), centers[k], atol=4 * std / np.sqrt(200))
        np.testing.assert_allclose(x[y == k].std(0), std, rtol=0.2)
    x, y = map(np.asarray, datasets.blobs(key, 601, centers=3, std=0.0))
    assert np.all(np.abs(x) <= 10) and len(np.unique(x, axis=0)) == 3
    with pytest.raises(ValueError, match="std must be >= 0"):
        datasets.blobs(key, 10, centers=centers, std=-1.0)


@pytest.mark.parametrize("fn, expected", [
    ("sin", lambda x: np.sin(np.pi * x)), ("abs", np.abs),
    ("step", lambda x: (x > 0).astype(float)), ("square", np.square),
    (jnp.tanh, np.tanh),
])
def test_function_1d_noiseless_values_are_exact(key, fn, expected):
    x, y = map(np.asarray, datasets.function_1d(key, 50, fn=fn, x_range=(-2.0, 3.0)))
    assert x.shape == y.shape == (50, 1)
    assert np.all((x >= -2.0) & (x < 3.0))
    np.testing.assert_allclose(y, expected(x), rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="unknown function 'cos'; known: sin, abs, step, square"):
        datasets.function_1d(key, 5, fn="cos")


def test_polynomial_values_and_noise_level(key):
    coefficients = [1.0, -2.0, 0.0, 3.0]                      # 1 - 2x + 3x^3
    x, y = map(np.asarray, datasets.polynomial(key, 4000, coefficients, x_range=(-2.0, 2.0)))
    np.testing.assert_allclose(y, np.polynomial.polynomial.polyval(x, coefficients),
                               rtol=1e-13, atol=1e-13)
    x, noisy = map(np.asarray, datasets.polynomial(key, 4000, coefficients, noise=0.5))
    residual = noisy - np.polynomial.polynomial.polyval(x, coefficients)
    assert abs(residual.std() - 0.5) < 0.03 and abs(residual.mean()) < 0.03


def test_generator_argument_errors(key):
    with pytest.raises(ValueError, match="n must be an int >= 1; got 0"):
        datasets.xor(key, 0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        datasets.two_moons(key, 10, noise=-1.0)
    with pytest.raises(ValueError, match=r"centers must have shape \(K, D\)"):
        datasets.blobs(key, 10, centers=np.zeros(3))


# ----------------------------------------------------------------------------- IDX files

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    """The IDX encoding of ``array``, written independently of the reader."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trips_every_type_raw_and_gzip(tmp_path, dtype, compressed):
    array = (np.random.default_rng(0).normal(size=(3, 4, 2)) * 50).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(data) if compressed else data)
    got = datasets.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[:-1], "truncated: shape .3, 4. of uint8 needs 12 bytes of data, the file has 11"),
    (lambda b: b + b"\x00", "trailing bytes"),
    (lambda b: b"\x08\x00" + b[2:], "bad IDX magic number 0x0800"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
    (lambda b: b[:9], "truncated IDX header"),
    (lambda b: b[:3], "no 4-byte magic"),
])
def test_read_idx_rejects_corrupt_files(tmp_path, mangle, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(mangle(idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))))
    with pytest.raises(ValueError, match=message) as info:
        datasets.read_idx(path)
    assert "bad.idx" in str(info.value)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-10])
    with pytest.raises(ValueError, match="bad.gz: corrupt or truncated gzip"):
        datasets.read_idx(path)


# ----------------------------------------------------------------------------- MNIST

def fake_mnist(directory, n_train=12, n_test=5, seed=0):
    """Write the four gzip IDX files of a tiny MNIST-like set; return arrays and digests."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    directory.mkdir(parents=True, exist_ok=True)
    digests = {}
    for part, name in datasets.MNIST_FILES.items():
        data = gzip.compress(idx_bytes(arrays[part]), mtime=0)
        (directory / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return arrays, digests


@pytest.fixture
def fake_checksums(monkeypatch):
    """Patch the official checksum table; return a setter for one kind."""
    table = {kind: dict(files) for kind, files in datasets.MNIST_SHA256.items()}
    monkeypatch.setattr(idx, "MNIST_SHA256", table)      # read in jaxnn.datasets.idx
    return table.__setitem__


def test_official_checksum_table_is_complete():
    for kind in ("mnist", "fashion_mnist"):
        files = datasets.MNIST_SHA256[kind]
        assert sorted(files) == sorted(datasets.MNIST_FILES.values())
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in files.values())
    assert datasets.MNIST_SHA256["mnist"]["train-images-idx3-ubyte.gz"].startswith("440fcabf")


def test_load_mnist_from_data_dir(tmp_path, fake_checksums):
    arrays, digests = fake_mnist(tmp_path / "files")
    fake_checksums("mnist", digests)
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data_dir=tmp_path / "files")
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int32


def test_load_mnist_directory_resolution(tmp_path, monkeypatch, fake_checksums):
    monkeypatch.setenv("JAXNN_DATA_DIR", str(tmp_path / "root"))
    assert datasets.mnist_directory("fashion_mnist") == tmp_path / "root" / "fashion_mnist"
    arrays, digests = fake_mnist(tmp_path / "root" / "fashion_mnist")
    fake_checksums("fashion_mnist", digests)
    (x_train, _), _ = datasets.load_mnist("fashion_mnist")
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    monkeypatch.delenv("JAXNN_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.mnist_directory("mnist") == tmp_path / "home" / ".cache" / "jaxnn" / "mnist"
    assert datasets.mnist_directory("mnist", "elsewhere") == Path("elsewhere")


def test_missing_files_error_says_which_where_and_how(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist("mnist", data_dir=tmp_path)
    message = str(info.value)
    assert "missing t10k-labels-idx1-ubyte.gz in " + str(tmp_path) in message
    assert "train-images" not in message.split("download")[0]           # only the missing one
    assert "download=True" in message
    assert datasets.MNIST_URLS["mnist"] + "t10k-labels-idx1-ubyte.gz" in message
    with pytest.raises(ValueError, match="unknown MNIST kind 'kmnist'; known: mnist, fashion_mnist"):
        datasets.load_mnist("kmnist")


def test_checksum_mismatch_is_reported(tmp_path, fake_checksums):
    _, digests = fake_mnist(tmp_path)
    digests["train-labels-idx1-ubyte.gz"] = "0" * 64
    fake_checksums("mnist", digests)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: SHA-256 [0-9a-f]{64} is "
                                         r"not the official 0{64}"):
        datasets.load_mnist("mnist", data_dir=tmp_path)


def test_official_checksums_reject_files_that_are_not_the_originals(tmp_path):
    fake_mnist(tmp_path)
    with pytest.raises(ValueError, match="is not the official 440fcabf"):
        datasets.load_mnist("mnist", data_dir=tmp_path)


def test_download_from_a_local_mirror_verifies_and_caches(tmp_path, monkeypatch, fake_checksums):
    arrays, digests = fake_mnist(tmp_path / "mirror")
    fake_checksums("mnist", digests)
    monkeypatch.setitem(datasets.MNIST_URLS, "mnist", (tmp_path / "mirror").as_uri() + "/")
    cache = tmp_path / "cache"
    (x_train, _), (_, y_test) = datasets.load_mnist("mnist", data_dir=cache, download=True)
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert sorted(p.name for p in cache.iterdir()) == sorted(datasets.MNIST_FILES.values())


def test_download_with_wrong_checksum_leaves_nothing_behind(tmp_path, monkeypatch, fake_checksums):
    _, digests = fake_mnist(tmp_path / "mirror")
    fake_checksums("mnist", {name: "0" * 64 for name in digests})
    monkeypatch.setitem(datasets.MNIST_URLS, "mnist", (tmp_path / "mirror").as_uri() + "/")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="mirror served a different file"):
        datasets.load_mnist("mnist", data_dir=cache, download=True)
    assert list(cache.iterdir()) == []


def test_failed_download_says_which_files_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.MNIST_URLS, "mnist", (tmp_path / "offline").as_uri() + "/")
    with pytest.raises(ConnectionError) as info:
        datasets.load_mnist("mnist", data_dir=tmp_path / "cache", download=True)
    message = str(info.value)
    assert "could not download" in message and str(tmp_path / "cache") in message
    assert all(name in message for name in datasets.MNIST_FILES.values())
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


@pytest.mark.parametrize("kind", ["mnist", "fashion_mnist"])
def test_load_mnist_dataset_splits_and_pixels(tmp_path, fake_checksums, kind):
    arrays, digests = fake_mnist(tmp_path, n_train=12, n_test=5)
    fake_checksums(kind, digests)
    ds = datasets.load(kind, scale=None, data_dir=tmp_path)
    pixels = arrays["train_images"].reshape(12, 784).astype(np.float32) / 255
    np.testing.assert_array_equal(ds.train[0], pixels[:10])            # last sixth is val
    np.testing.assert_array_equal(ds.val[0], pixels[10:])
    np.testing.assert_array_equal(ds.val[1], arrays["train_labels"][10:])
    assert ds.test[0].shape == (5, 784) and ds.test[0].dtype == np.float32
    assert ds.train[1].dtype == np.int32 and ds.n_classes == 10 and ds.n_features == 784
    assert ds.image_shape == (28, 28, 1) and ds.task == "classification"
    assert ds.class_names[0] == ("T-shirt/top" if kind == "fashion_mnist" else "0")
    scaled = datasets.load(kind, scale="minmax", data_dir=tmp_path)
    assert scaled.train[0].min() == 0.0 and scaled.train[0].max() == 1.0


# ----------------------------------------------------------------------------- bundled sets

SIZES = {"digits": (1077, 360, 360, 64, 10), "iris": (90, 30, 30, 4, 3),
         "wine": (106, 36, 36, 13, 3), "breast_cancer": (341, 114, 114, 30, 2),
         "diabetes": (264, 89, 89, 10, None)}


@pytest.mark.parametrize("name", SIZES)
def test_bundled_sizes_dtypes_and_partition(name):
    n_train, n_val, n_test, n_features, n_classes = SIZES[name]
    ds = datasets.load(name, scale=None)
    assert [len(s[0]) for s in (ds.train, ds.val, ds.test)] == [n_train, n_val, n_test]
    assert ds.n_features == n_features == len(ds.feature_names)
    assert ds.n_classes == n_classes and ds.name == name and ds.scaler is None
    options = {"scaled": False} if name == "diabetes" else {}
    bunch = getattr(sk_datasets, f"load_{name}")(**options)
    divisor = 16.0 if name == "digits" else 1.0
    every_x = np.concatenate([ds.train[0], ds.val[0], ds.test[0]])
    every_y = np.concatenate([ds.train[1], ds.val[1], ds.test[1]])
    assert every_x.dtype == np.float32
    original = np.column_stack([bunch.data.astype(np.float32) / np.float32(divisor), bunch.target])
    ours = np.column_stack([every_x, every_y.reshape(len(every_y), -1)[:, 0]])
    np.testing.assert_array_equal(sorted_rows(ours), sorted_rows(original))   # a partition
    if n_classes is None:
        assert ds.task == "regression" and ds.train[1].shape == (n_train, 1)
        assert ds.train[1].dtype == np.float32 and every_y.min() == 25 and every_y.max() == 346
    else:
        assert ds.task == "classification" and ds.train[1].dtype == np.int32
        overall = np.bincount(bunch.target) / len(bunch.target)
        for split in (ds.train, ds.val, ds.test):                  # stratified
            counts = np.bincount(split[1], minlength=n_classes)
            assert np.all(np.abs(counts - overall * len(split[1])) <= 1)


def test_scaling_is_fitted_on_train_only_and_matches_sklearn():
    raw = datasets.load("wine", scale=None)
    ds = datasets.load("wine")
    oracle = sk_preprocessing.StandardScaler().fit(raw.train[0].astype(np.float64))
    for split, raw_split in zip((ds.train, ds.val, ds.test), (raw.train, raw.val, raw.test)):
        np.testing.assert_allclose(split[0], oracle.transform(raw_split[0]), rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(split[1], raw_split[1])
    np.testing.assert_allclose(ds.train[0].mean(0), 0, atol=1e-5)
    assert not np.allclose(ds.test[0].mean(0), 0, atol=1e-3)         # test not refitted
    back = datasets.standard_inverse(ds.scaler, ds.test[0])
    np.testing.assert_allclose(back, raw.test[0], rtol=1e-5)
    minmax = datasets.load("iris", scale="minmax")
    np.testing.assert_allclose(minmax.train[0].min(0), 0, atol=1e-7)
    np.testing.assert_allclose(minmax.train[0].max(0), 1, atol=1e-6)


def test_splits_are_fixed_by_seed():
    a, b, c = datasets.load("iris", seed=0), datasets.load("iris", seed=0), datasets.load("iris", seed=1)
    np.testing.assert_array_equal(a.test[0], b.test[0])
    assert len(c.test[0]) == len(a.test[0]) and not np.array_equal(a.test[0], c.test[0])


def test_digits_metadata():
    ds = datasets.load("digits", scale=None)
    assert ds.image_shape == (8, 8, 1) and ds.class_names == tuple(str(d) for d in range(10))
    assert ds.train[0].max() == 1.0 and ds.train[0].min() == 0.0


def test_names_and_argument_errors(monkeypatch):
    known = datasets.names()
    assert list(known) == ["digits", "iris", "wine", "breast_cancer", "diabetes", "mnist",
                           "fashion_mnist"]
    assert all(isinstance(d, str) and d for d in known.values())
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; known: digits, iris, wine"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="scale must be one of 'standard', 'minmax' or None; got 'z'"):
        datasets.load("iris", scale="z")
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.load("iris")
