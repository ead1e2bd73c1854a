"""Lecture 000, "Autoencoders and their uses": visualization, denoising, anomaly detection.

On the bundled 8x8 digits (``datasets.load("digits", scale=None)``: pixel / 16 in [0, 1];
fixed 1077 / 360 / 360 split), sigmoid outputs, MSE reconstruction loss, Adam 1e-3:

1. Dimensionality reduction and visualization: ``models.autoencoder([64, 128, 32, 2])``
   (decoder 2 -> 32 -> 128 -> 64).  The test digits' 2-D codes are plotted coloured by
   class (``codes.png``).  How well the classes separate is measured by a 5-nearest-
   neighbour classifier on the codes (fit on training codes, scored on test codes), beside
   the same on the top-2 principal components (a linear autoencoder's optimum, Baldi &
   Hornik 1989).
2. Denoising (Vincent et al. 2008): ``autoencoder([64, 128, 32], noise_std=0.3)`` and
   ``conv_autoencoder((8, 8, 1), (16, 8), noise_std=0.3, flat=True)`` see inputs corrupted
   by Gaussian noise (std 0.3) in training and must output the clean digit.  Printed: the
   test MSE to the clean images of the noisy inputs and of the reconstructions;
   ``denoising.png`` shows clean / noisy / denoised rows.
3. Anomaly detection: the autoencoder of part 1, trained on clean digits only, scores
   each test image by its reconstruction error (``models.anomaly_scores``).  Corrupted test
   digits (heavy noise, shuffled pixels, an inverted 4x4 block) should score higher than
   clean ones: AUROC by ``sklearn.metrics.roc_auc_score``; the detection rate at the
   threshold ``models.anomaly_threshold`` puts at the validation scores' 95th percentile
   (``anomaly_scores.png``).

    python experiments/autoencoder_digits.py [--out runs/autoencoder_digits]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from jaxnn import datasets, models, optim, train

TARGET_AUROC = 0.95
NOISE_STD = 0.3


def fit_autoencoder(model, x_train, x_val, *, epochs: int, seed: int = 0, batch_size: int = 32):
    """Train ``model`` to reconstruct ``x_train`` (target = the clean input); returns params, seconds."""
    _, params = model.init(jax.random.key(seed), (x_train.shape[1],))
    start = time.perf_counter()
    params, history = train.fit(model, params, "mse", optim.adam(1e-3), x_train, x_train, epochs=epochs,
                                batch_size=batch_size, key=jax.random.key(100 + seed),
                                validation=(x_val, x_val), progress=False)
    return params, history, time.perf_counter() - start


# --- corruptions (anomalies) ----------------------------------------------------------------

def heavy_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with std 0.5 (half the pixel range), clipped back to [0, 1]."""
    return np.clip(x + rng.normal(0.0, 0.5, x.shape), 0.0, 1.0).astype(x.dtype)


def shuffled_pixels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image's 64 pixels in a random order (same intensities, no digit shape)."""
    return np.stack([row[rng.permutation(row.size)] for row in x])


def inverted_block(x: np.ndarray, rng: np.random.Generator, size: int = 4) -> np.ndarray:
    """A random ``size`` x ``size`` patch of each 8x8 image inverted, ``p -> 1 - p``."""
    images = x.reshape(-1, 8, 8).copy()
    for image, (top, left) in zip(images, rng.integers(0, 8 - size + 1, (len(images), 2))):
        image[top:top + size, left:left + size] = 1.0 - image[top:top + size, left:left + size]
    return images.reshape(x.shape)


CORRUPTIONS = {"heavy noise (std 0.5)": heavy_noise, "shuffled pixels": shuffled_pixels,
               "inverted 4x4 block": inverted_block}


# --- figures --------------------------------------------------------------------------------

def plot_codes(codes: np.ndarray, labels: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=12, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set(title="2-D autoencoder codes of the test digits", xlabel="code 1", ylabel="code 2")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_image_rows(rows: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.8, len(rows) * 0.9))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(images[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_scores(clean: np.ndarray, corrupted: dict[str, np.ndarray], threshold: float, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.logspace(np.log10(min(clean.min(), *(s.min() for s in corrupted.values()))),
                       np.log10(max(clean.max(), *(s.max() for s in corrupted.values()))), 40)
    ax.hist(clean, bins=bins, alpha=0.6, label="clean test digits")
    for name, scores in corrupted.items():
        ax.hist(scores, bins=bins, alpha=0.4, label=name)
    ax.axvline(threshold, color="k", linestyle="--", label="threshold (95th pct. of val)")
    ax.set(xscale="log", xlabel="reconstruction error (mean squared)", ylabel="images",
           title="Anomaly scores of the 2-D autoencoder")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- the three parts ------------------------------------------------------------------------

def knn_accuracy(train_features, y_train, test_features, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(5).fit(train_features, y_train).score(test_features, y_test))


def visualization(ds, out: Path) -> tuple[dict, object, object]:
    (x_train, y_train), (x_val, _), (x_test, y_test) = ds.train, ds.val, ds.test
    from sklearn.decomposition import PCA

    model = models.autoencoder([64, 128, 32, 2], "relu", output_activation="sigmoid")
    params, history, seconds = fit_autoencoder(model, x_train, x_val, epochs=200)
    codes_train = np.asarray(models.encode(model, params, x_train))
    codes_test = np.asarray(models.encode(model, params, x_test))
    plot_codes(codes_test, y_test, out / "codes.png")
    pca = PCA(2).fit(x_train)
    result = {"val_mse": history["val_loss"][-1], "seconds": seconds,
              "knn_accuracy_on_codes": knn_accuracy(codes_train, y_train, codes_test, y_test),
              "knn_accuracy_on_pca2": knn_accuracy(pca.transform(x_train), y_train, pca.transform(x_test), y_test)}
    print(f"1. autoencoder 64-128-32-2-32-128-64: validation MSE {result['val_mse']:.4f}, {seconds:.1f} s; "
          f"5-NN test accuracy on the 2-D codes {result['knn_accuracy_on_codes']:.3f} "
          f"(on 2 principal components {result['knn_accuracy_on_pca2']:.3f}) -> {out / 'codes.png'}")
    return result, model, params


def denoising(ds, out: Path) -> dict:
    (x_train, _), (x_val, _), (x_test, y_test) = ds.train, ds.val, ds.test
    noisy = (x_test + np.random.default_rng(1).normal(0.0, NOISE_STD, x_test.shape)).astype(x_test.dtype)
    contenders = {
        "dense 64-128-32": (models.autoencoder([64, 128, 32], output_activation="sigmoid", noise_std=NOISE_STD), 200),
        "conv 16-8": (models.conv_autoencoder((8, 8, 1), (16, 8), output_activation="sigmoid",
                                              noise_std=NOISE_STD, flat=True), 60),
    }
    result = {"noisy_mse": float(np.mean((noisy - x_test) ** 2))}
    first_of_each_class = [int(np.flatnonzero(y_test == digit)[0]) for digit in range(10)]
    rows = {"clean": x_test[first_of_each_class], f"noisy (std {NOISE_STD})": noisy[first_of_each_class]}
    print(f"2. denoising, test inputs + N(0, {NOISE_STD}^2) noise: MSE to the clean images {result['noisy_mse']:.4f}")
    for name, (model, epochs) in contenders.items():
        params, _, seconds = fit_autoencoder(model, x_train, x_val, epochs=epochs)
        denoised = np.asarray(model.apply(params, noisy))
        mse = float(np.mean((denoised - x_test) ** 2))
        result[name] = {"denoised_mse": mse, "seconds": seconds, "epochs": epochs}
        rows[f"{name} DAE"] = denoised[first_of_each_class]
        print(f"   {name} denoising autoencoder: MSE of its output to the clean images {mse:.4f} "
              f"({result['noisy_mse'] / mse:.1f}x lower), {epochs} epochs in {seconds:.1f} s")
    plot_image_rows(rows, out / "denoising.png")
    print(f"   -> {out / 'denoising.png'}")
    return result


def anomaly_detection(ds, model, params, out: Path) -> dict:
    from sklearn.metrics import roc_auc_score

    x_val, x_test = ds.val[0], ds.test[0]
    threshold = float(models.anomaly_threshold(models.anomaly_scores(model, params, x_val), 0.95))
    clean = np.asarray(models.anomaly_scores(model, params, x_test))
    rng = np.random.default_rng(2)
    result = {"threshold": threshold, "false_positive_rate": float(np.mean(clean > threshold))}
    print(f"3. anomaly detection by reconstruction error (threshold = 95th percentile of validation scores "
          f"= {threshold:.4f}; clean test digits flagged: {result['false_positive_rate']:.3f})")
    corrupted_scores = {}
    for name, corrupt in CORRUPTIONS.items():
        scores = np.asarray(models.anomaly_scores(model, params, corrupt(x_test, rng)))
        corrupted_scores[name] = scores
        auroc = float(roc_auc_score(np.r_[np.zeros(len(clean)), np.ones(len(scores))], np.r_[clean, scores]))
        result[name] = {"auroc": auroc, "detection_rate": float(np.mean(scores > threshold))}
        print(f"   {name:>22}: AUROC {auroc:.4f}, detected at the threshold {result[name]['detection_rate']:.3f}")
    plot_scores(clean, corrupted_scores, threshold, out / "anomaly_scores.png")
    print(f"   -> {out / 'anomaly_scores.png'}")
    return result


def main(out: str | Path = "runs/autoencoder_digits") -> dict:
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = datasets.load("digits", scale=None)
    start = time.perf_counter()
    codes, model, params = visualization(ds, out)
    result = {"visualization": codes, "denoising": denoising(ds, out),
              "anomaly_detection": anomaly_detection(ds, model, params, out)}
    (out / "results.json").write_text(json.dumps(result, indent=2))
    aurocs = {name: result["anomaly_detection"][name]["auroc"] for name in CORRUPTIONS}
    verdict = "reached" if min(aurocs.values()) >= TARGET_AUROC else "MISSED"
    dense_dae = result["denoising"]["dense 64-128-32"]["denoised_mse"]
    print(f"\nautoencoder_digits: 2-D code 5-NN accuracy {codes['knn_accuracy_on_codes']:.3f}; denoising MSE "
          f"{result['denoising']['noisy_mse']:.4f} -> {dense_dae:.4f}; anomaly AUROC min "
          f"{min(aurocs.values()):.4f} (target >= {TARGET_AUROC} {verdict}); "
          f"{time.perf_counter() - start:.1f} s in all")
    if verdict != "reached":
        raise SystemExit(f"autoencoder_digits: claim not reproduced (AUROC {min(aurocs.values()):.4f})")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/autoencoder_digits")
    main(parser.parse_args().out)
