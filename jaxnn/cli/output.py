"""What `jaxnn train` shows and writes besides the model: the overfitting diagnosis, the
loss/metric curves, the progress bar that leaves compiling out of its rate."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from jaxnn import callbacks
from jaxnn.util import tqdm_or_none

# `overfitting`: the best validation-loss epoch lies at least max(5, 20% of the epochs)
# before the end, and the last validation loss is more than 1% above the best one.
OVERFIT_MIN_EPOCHS, OVERFIT_FRACTION, OVERFIT_RISE = 5, 0.2, 0.01


def overfitting(history: dict) -> str | None:
    """A one-line diagnosis when the validation loss rose at the end of training, else None.

    Rule: the best (lowest) validation loss came at least ``max(OVERFIT_MIN_EPOCHS,
    OVERFIT_FRACTION * epochs)`` epochs before the last one, and the last validation loss is
    more than ``OVERFIT_RISE`` (relative) above the best.
    """
    values = [v if v is not None and math.isfinite(v) else math.inf for v in history.get("val_loss", [])]
    if len(values) < 2 or not math.isfinite(min(values)):
        return None
    n, best = len(values), values.index(min(values))
    since = n - 1 - best
    if since < max(OVERFIT_MIN_EPOCHS, math.ceil(OVERFIT_FRACTION * n)):
        return None
    if not values[-1] > values[best] + OVERFIT_RISE * abs(values[best]):
        return None
    epochs = history["epoch"]
    return (f"overfitting: best epoch {epochs[best]} of {epochs[n - 1]} (validation loss rose for the last "
            f"{since} epochs, from {values[best]:.4g} to {values[-1]:.4g})")


def plot_curves(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def plot(axis, name, **style):  # a NaN epoch has a loss but no validation scores
        axis.plot(history["epoch"][:len(history[name])], history[name], **style)

    metric = next((k for k in ("val_accuracy", "val_r2") if k in history), None)
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(10 if metric else 5, 4), squeeze=False)
    plot(axes[0, 0], "loss", label="train")
    if "val_loss" in history:
        plot(axes[0, 0], "val_loss", label="validation")
    axes[0, 0].set(xlabel="epoch", ylabel="loss", title="Loss")
    axes[0, 0].legend()
    if metric:
        plot(axes[0, 1], metric, color="C1")
        axes[0, 1].set(xlabel="epoch", ylabel=metric[4:], title=f"Validation {metric[4:]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def seconds_text(seconds: float) -> str:
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def format_scores(scores: dict[str, float]) -> str:
    return "  ".join(f"{name}={value:.4f}" for name, value in scores.items())


class EpochProgress:
    """The progress of `jaxnn train`, driven by a `callbacks.Callback`: a "compiling..."
    line while the first epoch runs (it includes compiling), then a tqdm bar started at
    1/epochs, so its rate counts only the compiled epochs (plain lines without tqdm)."""

    def __init__(self, epochs: int, enabled: bool = True, stream=None):
        self.epochs, self.enabled, self.stream = epochs, enabled, stream
        self.bar = None

    def start(self) -> None:
        if self.enabled:
            self.stream = self.stream or sys.stderr
            print(f"compiling... (epoch 1 of {self.epochs} includes compiling)", file=self.stream, flush=True)

    def callback(self) -> callbacks.Callback:
        def on_epoch_end(state, epoch, record, train_state):
            self.update(epoch, record)
            return state, train_state, record, False
        return callbacks.Callback(lambda train_state: (), on_epoch_end)

    def update(self, epoch: int, record: dict) -> None:
        if not self.enabled:
            return
        shown = {name: f"{value:.4g}" for name, value in record.items()}
        if epoch == 1:
            tqdm = tqdm_or_none()
            if tqdm is not None:  # tqdm is an optional extra; without it, plain lines
                self.bar = tqdm(total=self.epochs, initial=1, unit="epoch", desc="training", file=self.stream)
        if self.bar is not None:
            if epoch > 1:
                self.bar.set_postfix(shown, refresh=False)
                self.bar.update(1)
        else:
            print(f"epoch {epoch}/{self.epochs} " + " ".join(f"{k}={v}" for k, v in shown.items()),
                  file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
