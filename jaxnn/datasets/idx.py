"""The IDX file format of MNIST, and the MNIST / Fashion-MNIST files themselves.

:func:`parse_idx` / :func:`read_idx` decode IDX bytes or files (gzip or raw);
:func:`load_mnist` finds the four official files in :func:`mnist_directory`, downloads
them (only when asked) from :data:`MNIST_URLS`, and verifies each against
:data:`MNIST_SHA256`.
"""
from __future__ import annotations

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
from typing import Sequence

import numpy as np

Split = tuple[np.ndarray, np.ndarray]


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
