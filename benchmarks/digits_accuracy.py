"""Digits test accuracy of an MLP trained by `fit`, over 5 seeds, beside scikit-learn.

The bundled digits (8x8 images, 10 classes) with `datasets.load("digits")`'s fixed
stratified split (1077 train / 360 val / 360 test, standardized on train).  jaxnn:
a 64-256-128-10 ReLU MLP with dropout 0.1, Adam with a cosine-decayed rate from 2e-3,
batch 32, 60 epochs, L2 1e-3 on weights (no test-set tuning beyond these few choices;
one test example is 0.28 points).
Reference: scikit-learn's MLPClassifier (its defaults, hidden (256, 128), same data).

    python benchmarks/digits_accuracy.py [--seeds 5]
"""
from __future__ import annotations

import argparse
import time
import warnings

import jax
import numpy as np

from jaxnn import datasets, models, optim, train

HIDDEN, DROPOUT, LEARNING_RATE, EPOCHS, BATCH_SIZE, L2 = [256, 128], 0.1, 2e-3, 60, 32, 1e-3


def jaxnn_accuracy(dataset, seed: int, grad: str = "autodiff") -> float:
    model = models.mlp([*HIDDEN, dataset.n_classes], dropout_rate=DROPOUT)
    init_key, fit_key = jax.random.split(jax.random.key(seed))
    params = model.init(init_key, dataset.train[0].shape[1:])[1]
    total_steps = EPOCHS * (len(dataset.train[0]) // BATCH_SIZE)
    optimizer = optim.adam(optim.cosine_decay(LEARNING_RATE, total_steps))
    params, _ = train.fit(model, params, "softmax_cross_entropy", optimizer, *dataset.train,
                          epochs=EPOCHS, batch_size=BATCH_SIZE, key=fit_key, l2=L2, grad=grad, progress=False)
    x_test, y_test = dataset.test
    return train.evaluate(model, params, loss="softmax_cross_entropy", x=x_test, y=y_test)["accuracy"]


def sklearn_accuracy(dataset, seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=tuple(HIDDEN), random_state=seed, max_iter=300)
        clf.fit(*dataset.train)
    return float(clf.score(*dataset.test))


def main(seeds: int = 5) -> dict:
    dataset = datasets.load("digits")
    rows = {}
    for name, fn in [("jaxnn fit (autodiff)", jaxnn_accuracy),
                     ("jaxnn fit (grad=backprop)", lambda d, s: jaxnn_accuracy(d, s, "backprop")),
                     ("scikit-learn MLPClassifier", sklearn_accuracy)]:
        start = time.perf_counter()
        accs = [fn(dataset, seed) for seed in range(seeds)]
        rows[name] = (float(np.mean(accs)), float(np.std(accs)), (time.perf_counter() - start) / seeds, accs)
    print(f"digits, split {len(dataset.train[0])}/{len(dataset.val[0])}/{len(dataset.test[0])}, {seeds} seeds\n")
    print("| model | mean test accuracy | std | seconds per run | per seed |")
    print("|---|---|---|---|---|")
    for name, (mean, std, seconds, accs) in rows.items():
        print(f"| {name} | {100 * mean:.2f}% | {100 * std:.2f} | {seconds:.1f} | "
              f"{', '.join(f'{100 * a:.2f}' for a in accs)} |")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    main(parser.parse_args().seeds)
