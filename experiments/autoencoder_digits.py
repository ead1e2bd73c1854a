"""KAUST Academy, Neural Networks, "Autoencoders" (their uses); Hinton & Salakhutdinov 2006, Vincent et al. 2008: an autoencoder visualizes, denoises and detects anomalies.

Autoencoders with sigmoid outputs, trained by MSE reconstruction with Adam on the bundled
8x8 digits (fixed 1077 / 360 / 360 split, pixels in [0, 1]), serve the course's three uses:
a 64-128-32-2 one gives 2-D codes and anomaly scores, a dense and a convolutional one learn
to denoise.  The codes are scored by a 5-nearest-neighbour classifier, the denoisers by their
output's MSE to the clean test digits, and the anomaly scores by AUROC against corrupted test
digits.

Data: ``datasets.load("digits", scale=None)``: pixel / 16 in [0, 1]; Adam 1e-3, batch 32.

Run and measurement, one per use the course names:

1. Dimensionality reduction and visualization: ``models.autoencoder([128, 32, 2])`` on 64 pixels
   (decoder 2 -> 32 -> 128 -> 64).  The test digits' 2-D codes are plotted coloured by
   class (``codes.png``).  How well the classes separate is measured by a 5-nearest-
   neighbour classifier on the codes (fit on training codes, scored on test codes), beside
   the same on the top-2 principal components (a linear autoencoder's optimum, Baldi &
   Hornik 1989).
2. Denoising (Vincent et al. 2008): ``autoencoder([128, 32], noise_std=0.3)`` and
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

Verdict: reproduced when the 2-D codes' 5-NN accuracy reaches ``TARGET_CODE_ACCURACY``, each
denoiser divides the noisy input's MSE by ``TARGET_DENOISING_FACTOR``, and every corruption's
AUROC reaches ``TARGET_AUROC``.

    python experiments/autoencoder_digits.py [--quick] [--seed 0] [--out runs/autoencoder_digits]
"""

# %% [markdown]
# # What an autoencoder is for
#
# KAUST Academy, Neural Networks, "Autoencoders": a network trained to output its own
# input through a narrow middle layer (the code) must learn what the data have in common.
# The course names its uses; this script shows three of them on the 8x8 digits:
# a 2-D code to *see* the data (Hinton & Salakhutdinov 2006), *denoising* (Vincent et al.
# 2008), and *anomaly detection* by reconstruction error.

# %%
from __future__ import annotations

from functools import partial

import jax
import numpy as np
from common import check, exit_with, figure, finish, image_grid, save_figure, start, timed

from jaxnn import datasets, models, optim, train

# Every corruption must be told from clean digits with AUROC >= 0.95: a detector that ranks
# a random anomaly above a random clean digit 19 times out of 20.
TARGET_AUROC = 0.95
# The 2-D codes must keep the classes apart: 5-NN accuracy >= 0.70 on them, where the best
# linear 2-D projection (two principal components) gives ~0.58 and chance 0.10.
TARGET_CODE_ACCURACY = 0.70
# A denoiser must at least halve the MSE of its noisy input to the clean digit.
TARGET_DENOISING_FACTOR = 2.0
THRESHOLD_QUANTILE = 0.95   # flag what scores above 95% of the clean validation digits
NOISE_STD = 0.3             # denoising: the corruption seen in training and at test
CODE_EPOCHS, DENSE_DAE_EPOCHS, CONV_DAE_EPOCHS = 200, 200, 60   # full run
QUICK_EPOCHS = 2                                                 # --quick: each model
BATCH_SIZE, LEARNING_RATE = 32, 1e-3


# %% [markdown]
# ## Setup: the corruptions (the anomalies)
#
# Three ways to make a digit that is not a digit: heavy noise, the right pixels in the
# wrong places, and a block of inverted ink.

# %%
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


# %% [markdown]
# ## Setup: training an autoencoder
#
# The target is the clean input itself.  A denoising autoencoder adds its noise inside the
# model, in training only, so the same call trains both kinds.

# %%
def fit_autoencoder(model, x_train, x_val, *, epochs: int, seed: int):
    """Train ``model`` to reconstruct ``x_train`` (target = the clean input); params, history, seconds."""
    _, params = model.init(jax.random.key(seed), (x_train.shape[1],))
    (params, history), seconds = timed(
        train.fit, model, params, "mse", optim.adam(LEARNING_RATE), x_train, x_train, epochs=epochs,
        batch_size=BATCH_SIZE, key=jax.random.key(100 + seed), validation=(x_val, x_val), progress=False)
    return params, history, seconds


def knn_accuracy(train_features, y_train, test_features, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(5).fit(train_features, y_train).score(test_features, y_test))


# %% [markdown]
# ## 1. Visualization: a 2-D code
#
# The code layer has two units, so every digit becomes a point in the plane.  A 5-nearest-
# neighbour classifier on those points measures how well the classes separate, beside the
# best linear map to 2-D (PCA).

# %%
def visualization(ds, out, epochs: int, seed: int) -> tuple[dict, object, object]:
    from sklearn.decomposition import PCA

    (x_train, y_train), (x_val, _), (x_test, y_test) = ds.train, ds.val, ds.test
    model = models.autoencoder([128, 32, 2], "relu", output_activation="sigmoid")
    params, history, seconds = fit_autoencoder(model, x_train, x_val, epochs=epochs, seed=seed)
    encode = jax.jit(partial(models.encode, model))
    codes_train, codes_test = np.asarray(encode(params, x_train)), np.asarray(encode(params, x_test))
    pca = PCA(2).fit(x_train)
    result = {"val_mse": history["val_loss"][-1], "seconds": seconds, "epochs": epochs,
              "knn_accuracy_on_codes": knn_accuracy(codes_train, y_train, codes_test, y_test),
              "knn_accuracy_on_pca2": knn_accuracy(pca.transform(x_train), y_train, pca.transform(x_test), y_test)}
    print(f"1. autoencoder 64-128-32-2-32-128-64: validation MSE {result['val_mse']:.4f}, {seconds:.1f} s; "
          f"5-NN test accuracy on the 2-D codes {result['knn_accuracy_on_codes']:.3f} "
          f"(on 2 principal components {result['knn_accuracy_on_pca2']:.3f})")

    fig, ax = figure("2-D autoencoder codes of the test digits", "code 1 (dimensionless)",
                     "code 2 (dimensionless)", size=(6.0, 5.0))
    for digit in range(10):
        mine = codes_test[y_test == digit]
        ax.scatter(mine[:, 0], mine[:, 1], s=12, color=f"C{digit}", label=str(digit))
    ax.legend(title="digit", fontsize=8, markerscale=1.5, loc="best")
    save_figure(fig, out / "codes.png")
    return result, model, params


# %% [markdown]
# ## 2. Denoising
#
# Trained on noisy inputs against clean targets, the autoencoder learns to remove the
# noise: its output should be much closer to the clean digit than its input was.

# %%
def denoising(ds, out, epochs: dict[str, int], seed: int) -> dict:
    (x_train, _), (x_val, _), (x_test, y_test) = ds.train, ds.val, ds.test
    noisy = (x_test + np.random.default_rng(seed + 1).normal(0.0, NOISE_STD, x_test.shape)).astype(x_test.dtype)
    contenders = {
        "dense 64-128-32": models.autoencoder([128, 32], output_activation="sigmoid", noise_std=NOISE_STD),
        "conv 16-8": models.conv_autoencoder((8, 8, 1), (16, 8), output_activation="sigmoid",
                                             noise_std=NOISE_STD, flat=True),
    }
    result = {"noisy_mse": float(np.mean((noisy - x_test) ** 2))}
    first_of_each_class = [int(np.flatnonzero(y_test == digit)[0]) for digit in range(10)]
    rows = {"clean": x_test[first_of_each_class],
            f"noisy (std {NOISE_STD})\nMSE {result['noisy_mse']:.3f}": noisy[first_of_each_class]}
    print(f"2. denoising, test inputs + N(0, {NOISE_STD}^2) noise: MSE to the clean images {result['noisy_mse']:.4f}")
    for name, model in contenders.items():
        params, _, seconds = fit_autoencoder(model, x_train, x_val, epochs=epochs[name], seed=seed)
        denoised = np.asarray(jax.jit(model.apply)(params, noisy))
        mse = float(np.mean((denoised - x_test) ** 2))
        result[name] = {"denoised_mse": mse, "factor": result["noisy_mse"] / mse, "seconds": seconds,
                        "epochs": epochs[name]}
        rows[f"{name} DAE\nMSE {mse:.3f}"] = denoised[first_of_each_class]
        print(f"   {name} denoising autoencoder: MSE of its output to the clean images {mse:.4f} "
              f"({result['noisy_mse'] / mse:.1f}x lower), {epochs[name]} epochs in {seconds:.1f} s")
    save_figure(image_grid(rows, "Denoising autoencoders on test digits (pixel value 0 = white, 1 = black; "
                           "MSE to the clean digits)", (8, 8)), out / "denoising.png")
    return result


# %% [markdown]
# ## 3. Anomaly detection
#
# The part-1 autoencoder has only seen clean digits, so it reconstructs them well and
# anything else badly: the reconstruction error is an anomaly score.  AUROC measures how
# well the scores rank anomalies above clean digits, whatever the threshold.

# %%
def anomaly_detection(ds, model, params, out, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    x_val, x_test = ds.val[0], ds.test[0]
    scores_of = jax.jit(partial(models.anomaly_scores, model))
    threshold = float(models.anomaly_threshold(scores_of(params, x_val), THRESHOLD_QUANTILE))
    clean = np.asarray(scores_of(params, x_test))
    rng = np.random.default_rng(seed + 2)
    result = {"threshold": threshold, "false_positive_rate": float(np.mean(clean > threshold))}
    print(f"3. anomaly detection by reconstruction error (threshold = {THRESHOLD_QUANTILE:.0%} quantile of "
          f"validation scores = {threshold:.4f}; clean test digits flagged: {result['false_positive_rate']:.3f})")
    corrupted = {}
    for name, corrupt in CORRUPTIONS.items():
        corrupted[name] = scores = np.asarray(scores_of(params, corrupt(x_test, rng)))
        auroc = float(roc_auc_score(np.r_[np.zeros(len(clean)), np.ones(len(scores))], np.r_[clean, scores]))
        result[name] = {"auroc": auroc, "detection_rate": float(np.mean(scores > threshold))}
        print(f"   {name:>22}: AUROC {auroc:.4f}, detected at the threshold {result[name]['detection_rate']:.3f}")

    fig, ax = figure("Anomaly scores of the 2-D autoencoder", "reconstruction error (mean squared pixel "
                     "error, pixels in [0, 1]; log scale)", "test images", xscale="log")
    every = np.concatenate([clean, *corrupted.values()])
    bins = np.logspace(np.log10(every.min()), np.log10(every.max()), 40)
    ax.hist(clean, bins=bins, alpha=0.6, label="clean test digits")
    for name, scores in corrupted.items():
        ax.hist(scores, bins=bins, alpha=0.4, label=f"{name} (AUROC {result[name]['auroc']:.3f})")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold ({THRESHOLD_QUANTILE:.0%} of val)")
    save_figure(fig, out / "anomaly_scores.png")
    return result


# %% [markdown]
# ## Measurement and verdict
#
# One check per use: the codes separate the classes, each denoiser at least halves the
# noise's error, and every corruption is detected.

# %%
def main(argv: list[str] | None = None) -> int:
    run = start(__file__, __doc__, argv)
    code_epochs, dense_epochs, conv_epochs = ((QUICK_EPOCHS,) * 3 if run.quick
                                              else (CODE_EPOCHS, DENSE_DAE_EPOCHS, CONV_DAE_EPOCHS))
    ds = datasets.load("digits", scale=None)

    codes, model, params = visualization(ds, run.out, code_epochs, run.seed)
    denoised = denoising(ds, run.out, {"dense 64-128-32": dense_epochs, "conv 16-8": conv_epochs}, run.seed)
    anomalies = anomaly_detection(ds, model, params, run.out, run.seed)
    results = {"visualization": codes, "denoising": denoised, "anomaly_detection": anomalies}

    checks = [check("5-NN test accuracy on the 2-D codes (fraction)", codes["knn_accuracy_on_codes"], ">=",
                    TARGET_CODE_ACCURACY)]
    checks += [check(f"{name} DAE: noisy MSE / denoised MSE (factor)", denoised[name]["factor"], ">=",
                     TARGET_DENOISING_FACTOR) for name in ("dense 64-128-32", "conv 16-8")]
    checks += [check(f"anomaly AUROC, {name}", anomalies[name]["auroc"], ">=", TARGET_AUROC) for name in CORRUPTIONS]
    worst_auroc = min(anomalies[name]["auroc"] for name in CORRUPTIONS)
    return finish(run, results, f"2-D code 5-NN accuracy {codes['knn_accuracy_on_codes']:.3f} (PCA "
                  f"{codes['knn_accuracy_on_pca2']:.3f}); denoising MSE {denoised['noisy_mse']:.4f} -> "
                  f"{denoised['dense 64-128-32']['denoised_mse']:.4f} (dense), "
                  f"{denoised['conv 16-8']['denoised_mse']:.4f} (conv); anomaly AUROC min {worst_auroc:.4f} "
                  f"(target >= {TARGET_AUROC})", checks=checks)


# %%
if __name__ == "__main__":
    exit_with(main())
