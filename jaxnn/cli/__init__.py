"""The jaxnn command: train an MLP or a CNN on a dataset, evaluate a checkpoint, list datasets.

    jaxnn train --data digits --hidden 128,64 --activation relu --optimizer adam --lr 1e-3 \\
                --epochs 30 --batch-size 64 --seed 0 --out runs/NAME
    jaxnn train --data digits --model cnn --conv 16,32 --hidden 64 --patience 5 --out runs/CNN
    jaxnn evaluate --checkpoint runs/NAME/model.npz
    jaxnn datasets

train checks every argument before it creates the output directory (a bad one exits with
status 2 and a message naming it), then writes history.json, curves.png (loss and
accuracy per epoch) and model.npz (the parameters and the configuration that evaluate
needs to rebuild the model: the model kind, "mlp" or "cnn", and its sizes; a checkpoint
without the kind is read as an MLP) into --out.  history.json is strict JSON: a NaN or
infinite number in it is written as null.  A run whose loss became NaN or inf still
writes its files (with the parameters of the last finite epoch) and exits with status 1.
After training it reports early stopping and overfitting (see `overfitting`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np

from jaxnn import (activations, backprop, callbacks, checkpoint, datasets, evaluation, losses, metrics, models,
                   optim, train)

MODEL_FILE, HISTORY_FILE, CURVES_FILE = "model.npz", "history.json", "curves.png"
MODEL_KINDS = ("mlp", "cnn")
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")  # the names whose Dataset has an image_shape
CNN_KERNEL_SIZE, CNN_POOL = 3, 2
# `overfitting`: the best validation-loss epoch lies at least max(5, 20% of the epochs)
# before the end, and the last validation loss is more than 1% above the best one.
OVERFIT_MIN_EPOCHS, OVERFIT_FRACTION, OVERFIT_RISE = 5, 0.2, 0.01
NAN_EXIT = 1  # the loss became NaN or inf; bad arguments exit with 2 (argparse's status)


# ----------------------------------------------------------------------------- argument types

def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value
    return parse


def _float_in(text: str, ok: Callable[[float], bool], rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text!r}") from None
    if not ok(value):  # NaN fails every comparison, so it fails every rule
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text}")
    return value


def _positive_float(text: str) -> float:
    return _float_in(text, lambda v: 0 < v < math.inf, "> 0 (finite)")


def _non_negative_float(text: str) -> float:
    return _float_in(text, lambda v: 0 <= v < math.inf, ">= 0 (finite)")


def _rate(text: str) -> float:
    return _float_in(text, lambda v: 0 <= v < 1, "in [0, 1)")


def _widths(allow_empty: bool) -> Callable[[str], list[int]]:
    def parse(text: str) -> list[int]:
        rule = "comma-separated positive integers such as 128,64"
        try:
            widths = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if any(w < 1 for w in widths) or (not widths and not allow_empty):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return widths
    return parse


def _name_in(known: Sequence[str], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in known:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; known: {', '.join(known)}")
        return text
    return parse


def _checked_out(text: str) -> Path:
    """``--out`` as a Path, or ValueError if it is a file or cannot be created (nothing is created)."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {text!r} is an existing file, not a directory")
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"--out {text!r} cannot be created: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {text!r} cannot be {'written' if existing == out else 'created'}: "
                         f"no write permission in {str(existing)!r}")
    return out


def _make_dirs(out: Path) -> list[Path]:
    """Create ``out``; returns the directories it created (deepest first)."""
    created = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {str(out)!r} cannot be created: {error.strerror or error}") from None
    return created


def _remove_empty(created: list[Path]) -> None:
    for directory in created:  # deepest first; rmdir leaves a non-empty directory alone
        try:
            directory.rmdir()
        except OSError:
            return


# ----------------------------------------------------------------------------- heads, models

def _head(dataset) -> losses.Head:
    return losses.head_for_dataset(dataset.task, dataset.n_classes)


def _target_scaler(dataset, config=None):
    """The train targets' standardizer for real-valued targets (the network learns
    unit-scale outputs; `_metrics_report` maps predictions back), fitted or rebuilt from a
    saved config; None for classification."""
    if _head(dataset).metric != "r2":
        return None
    if config is not None:
        return datasets.StandardState(np.asarray(config["target_mean"], np.float32),
                                      np.asarray(config["target_std"], np.float32))
    return datasets.standard_fit(_head(dataset).targets(dataset.train[1]))


def _targets(dataset, y, target_scaler=None):
    """``y`` in the form the head's loss takes, standardized when there is a scaler."""
    y = _head(dataset).targets(y)
    return y if target_scaler is None else datasets.standard_transform(target_scaler, y)


def _features(x) -> np.ndarray:
    """``x`` in JAX's default float dtype (float32, float64 with x64 enabled), the dtype the
    parameters get, since a convolution takes no mixed dtypes."""
    return np.asarray(x, dtype=jax.dtypes.canonicalize_dtype(np.float64))


def model_from_config(config: dict):
    """The model a checkpoint's config describes: ``config["model"]`` is ``"mlp"`` or
    ``"cnn"``; a config without it (written before CNNs) is an MLP."""
    kind = config.get("model", "mlp")
    dropout_rate = config.get("dropout_rate", config.get("dropout", 0.0))
    if kind == "mlp":
        return models.mlp([*config["hidden"], config["output_width"]], activation=config["activation"],
                          dropout_rate=dropout_rate)
    if kind == "cnn":
        return models.cnn(config["conv_features"], config["output_width"], image_shape=tuple(config["image_shape"]),
                          kernel_size=config["kernel_size"], pool=config["pool"], dense_sizes=config["hidden"],
                          activation=config["activation"], dropout_rate=dropout_rate)
    raise ValueError(f"the checkpoint's model kind {kind!r} is not one of {', '.join(MODEL_KINDS)}")


def _describe(config: dict) -> str:
    widths = "-".join(map(str, [*config["hidden"], config["output_width"]]))
    if config.get("model", "mlp") == "cnn":
        h, w, c = config["image_shape"]
        return (f"{config['activation']} CNN on {h}x{w}x{c} images: conv {'-'.join(map(str, config['conv_features']))} "
                f"({config['kernel_size']}x{config['kernel_size']}, max-pool {config['pool']}), dense {widths}")
    return f"{config['activation']} MLP {config['n_features']}-{widths}"


# ----------------------------------------------------------------------------- reports

def _metrics_report(model, params, dataset, split: str, target_scaler=None) -> dict[str, float]:
    """Test metrics; for regression in the targets' original units (MSE, R^2)."""
    x, y = getattr(dataset, split)
    x = _features(x)
    if target_scaler is None:
        return evaluation.evaluate(model, params, _head(dataset).loss, x, _targets(dataset, y))
    pred = datasets.standard_inverse(target_scaler, evaluation.predict(model, params, x))
    y = _targets(dataset, y)
    return {"mse": float(metrics.mean_squared_error(pred, y)), "r2": float(metrics.r2_score(pred, y))}


def strict_json(value):
    """``value`` with every NaN or infinite float replaced by None (JSON ``null``)."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


def _plot_curves(history: dict, path: Path) -> None:
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


def _seconds(seconds: float) -> str:
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def _format(scores: dict[str, float]) -> str:
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
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is an optional extra
                pass
            else:
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


# ----------------------------------------------------------------------------- commands

def _train_config(args, dataset, head) -> dict:
    x_train = dataset.train[0]
    config = {"model": args.model, "data": args.data, "hidden": args.hidden, "activation": args.activation,
              "dropout_rate": args.dropout, "output_width": head.output_width(dataset.n_classes),
              "n_features": int(x_train.shape[1]), "optimizer": args.optimizer, "lr": args.lr,
              "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "grad": args.grad,
              "l2": args.l2, "patience": args.patience}
    if args.model == "cnn":
        if dataset.image_shape is None:
            raise ValueError(f"--model cnn needs an image dataset; {args.data!r} is not one")
        config.update(conv_features=args.conv, kernel_size=CNN_KERNEL_SIZE, pool=CNN_POOL,
                      image_shape=list(dataset.image_shape))
    return config


def cmd_train(args) -> int:
    # Every check comes before the output directory is created.
    out = _checked_out(args.out)
    if args.model == "cnn" and args.data not in IMAGE_DATASETS:
        raise ValueError(f"--model cnn needs an image dataset ({', '.join(IMAGE_DATASETS)}); "
                         f"{args.data!r} is not one")
    if args.checkpoint_every is not None and args.checkpoint_every > args.epochs:
        raise ValueError(f"--checkpoint-every {args.checkpoint_every} is more than --epochs {args.epochs}: "
                         f"no checkpoint would be written")
    dataset = datasets.load(args.data)
    head = _head(dataset)
    config = _train_config(args, dataset, head)
    model = model_from_config(config)
    init_key, fit_key = jax.random.split(jax.random.key(args.seed))
    x_train, y_train = _features(dataset.train[0]), dataset.train[1]
    _, params = model.init(init_key, x_train.shape[1:])
    optimizer = optim.by_name(args.optimizer, args.lr)
    scaler = _target_scaler(dataset)
    if scaler is not None:
        config.update(target_mean=np.asarray(scaler.mean).tolist(), target_std=np.asarray(scaler.std).tolist())

    created = _make_dirs(out)
    print(f"jaxnn: training {_describe(config)} on {args.data} ({len(x_train)} train examples), "
          f"{args.optimizer} lr={args.lr}, {args.epochs} epochs"
          + (f", early stopping with patience {args.patience}" if args.patience else ""))
    progress = EpochProgress(args.epochs, enabled=not args.quiet)
    try:
        progress.start()
        with warnings.catch_warnings():  # reported below, as a message and an exit status
            warnings.filterwarnings("ignore", message="fit: the loss became NaN", category=RuntimeWarning)
            params, history = train.fit(
                model, params, head.loss, optimizer, x_train, _targets(dataset, y_train, scaler),
                epochs=args.epochs, batch_size=min(args.batch_size, len(x_train)), key=fit_key, grad=args.grad,
                l2=args.l2, validation=(_features(dataset.val[0]), _targets(dataset, dataset.val[1], scaler)),
                patience=args.patience, restore_best=True,
                checkpoint_dir=out if args.checkpoint_every else None, checkpoint_every=args.checkpoint_every,
                callbacks=(progress.callback(),), progress=False)
    except BaseException:
        progress.close()
        _remove_empty(created)
        raise
    progress.close()

    if "nan_epoch" in history:
        epoch = history["nan_epoch"]
        kept = "the initial parameters" if epoch == 1 else f"the parameters from the end of epoch {epoch - 1}"
        history["stopped"] = (f"the loss became NaN or inf in epoch {epoch}; training stopped and {MODEL_FILE} "
                              f"holds {kept}. Lower --lr (it is {args.lr}) or check the data.")
    scores = _metrics_report(model, params, dataset, "test", scaler)
    checkpoint.save(out / MODEL_FILE, params, {"config": config, "test": strict_json(scores)})
    (out / HISTORY_FILE).write_text(json.dumps(strict_json(history), indent=1, allow_nan=False))
    _plot_curves(history, out / CURVES_FILE)
    times = history["time"]
    if len(times) > 1:
        print(f"time: epoch 1 (with compiling) {_seconds(times[0])}, then {_seconds(np.mean(times[1:]))} per epoch")
    print(f"test: {_format(scores)}")
    if "stopped_early" in history:
        print(f"early stopping: the validation loss did not improve for {args.patience} epochs; stopped after "
              f"epoch {history['stopped_early']}, kept the weights of epoch {history['best_epoch']}")
    diagnosis = overfitting(history)
    if diagnosis:
        print(diagnosis + ("" if args.patience else "; --patience N stops such runs and keeps the best weights"))
    print(f"wrote {out / MODEL_FILE}, {out / HISTORY_FILE}, {out / CURVES_FILE}")
    if "nan_epoch" in history:
        print(f"jaxnn train: error: {history['stopped']}", file=sys.stderr)
        return NAN_EXIT
    return 0


def cmd_evaluate(args) -> int:
    params, meta = checkpoint.load(args.checkpoint)
    config = meta["config"]
    dataset = datasets.load(args.data or config["data"])
    if dataset.train[0].shape[1] != config["n_features"]:
        raise ValueError(f"the checkpoint expects {config['n_features']} features, "
                         f"dataset {dataset.name!r} has {dataset.train[0].shape[1]}")
    model = model_from_config(config)
    scores = _metrics_report(model, params, dataset, args.split, _target_scaler(dataset, config))
    print(f"{args.split}: {_format(scores)}")
    return 0


def cmd_datasets(args) -> int:
    for name, description in datasets.names().items():
        print(f"{name:<16} {description}")
    return 0


# ----------------------------------------------------------------------------- parser

class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help ("off" for a flag or an unset option); the
    description and epilog keep their line breaks."""

    def _get_help_string(self, action):
        if action.required or "(default:" in action.help:
            return action.help
        if (action.default is None or action.default is False) and action.option_strings:
            return f"{action.help} (default: off)"
        return super()._get_help_string(action)


TRAIN_DESCRIPTION = "Train an MLP or a CNN on a dataset and save the model, its history and its curves."
TRAIN_EPILOG = f"""\
outputs (in --out):
  {MODEL_FILE}     the parameters and the configuration jaxnn evaluate rebuilds the model from
  {HISTORY_FILE}  per epoch: loss, validation loss and metric, seconds; strict JSON, so a
                NaN or infinite value is written as null
  {CURVES_FILE}    loss and validation metric per epoch

models:
  mlp  dense layers of --hidden widths, then the output layer
  cnn  for image datasets ({', '.join(IMAGE_DATASETS)}): per --conv width a {CNN_KERNEL_SIZE}x{CNN_KERNEL_SIZE}
       convolution, the activation and {CNN_POOL}x{CNN_POOL} max pooling; then dense layers of --hidden widths

The first epoch includes compiling: "compiling..." is printed while it runs, and the
progress bar's rate counts the later epochs only.

After training, "overfitting: best epoch B of E ..." is printed when the lowest
validation loss came at least max({OVERFIT_MIN_EPOCHS}, {OVERFIT_FRACTION:.0%} of E) epochs before the end and the
last validation loss is more than {OVERFIT_RISE:.0%} above it.

exit status: 0 done; {NAN_EXIT} the loss became NaN or inf (the files are still written, with the
parameters of the last finite epoch); 2 a bad argument (checked before anything is written).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxnn", description="Train neural networks on bundled datasets, evaluate them, list the datasets.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an MLP or a CNN on a dataset", description=TRAIN_DESCRIPTION,
                       epilog=TRAIN_EPILOG, formatter_class=_HelpFormatter)
    dataset_names = tuple(datasets.names())
    t.add_argument("--data", default="digits", type=_name_in(dataset_names, "dataset"), metavar="NAME",
                   help=f"dataset: {', '.join(dataset_names)} (jaxnn datasets describes them)")
    t.add_argument("--model", default="mlp", choices=MODEL_KINDS,
                   help="model kind; cnn needs an image dataset")
    t.add_argument("--hidden", default="128,64", type=_widths(allow_empty=True), metavar="WIDTHS",
                   help="hidden dense widths, comma-separated (for cnn: the dense layers after the convolutions)")
    t.add_argument("--conv", default="16,32", type=_widths(allow_empty=False), metavar="FEATURES",
                   help="cnn only: features of each convolution block, comma-separated")
    t.add_argument("--activation", default="relu", type=_name_in(activations.NAMES, "activation"), metavar="NAME",
                   help=f"hidden activation: {', '.join(activations.NAMES)}")
    t.add_argument("--optimizer", default="adam", type=_name_in(optim.NAMES, "optimizer"), metavar="NAME",
                   help=f"optimizer: {', '.join(optim.NAMES)}")
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate, > 0")
    t.add_argument("--epochs", type=_int_at_least(1), default=30, help="number of epochs, >= 1")
    t.add_argument("--batch-size", type=_int_at_least(1), default=64,
                   help="mini-batch size, >= 1 (at most the number of training examples is used)")
    t.add_argument("--seed", type=int, default=0, help="random seed (initialization, shuffling, dropout)")
    t.add_argument("--dropout", type=_rate, default=0.0, help="dropout rate after each hidden dense layer, in [0, 1)")
    t.add_argument("--l2", type=_non_negative_float, default=0.0, help="weight decay: adds l2/2 * sum of squared "
                   "weights to the loss, >= 0")
    t.add_argument("--grad", default="autodiff", choices=tuple(backprop.GRADIENT_PATHS),
                   help="gradient path: jax autodiff or the hand-derived backprop")
    t.add_argument("--patience", type=_int_at_least(1), default=None, metavar="N",
                   help="early stopping: stop when the validation loss has not improved for N epochs and keep "
                        "the weights of the best epoch")
    t.add_argument("--checkpoint-every", type=_int_at_least(1), default=None, metavar="N",
                   help=f"save the whole train state to --out/{train.TRAIN_STATE_FILE} every N epochs")
    t.add_argument("--out", default="runs/latest", metavar="DIR",
                   help="output directory, created if missing (files in it are overwritten)")
    t.add_argument("--quiet", action="store_true", help="no compiling line and no progress bar")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a saved model", formatter_class=_HelpFormatter,
                       description="Score a model saved by jaxnn train (MLP or CNN) on a dataset split.")
    e.add_argument("--checkpoint", required=True, help=f"path to a {MODEL_FILE} written by jaxnn train")
    e.add_argument("--data", default=None, help="dataset to score (default: the one it was trained on)")
    e.add_argument("--split", default="test", choices=("train", "val", "test"), help="which split to score")
    e.set_defaults(run=cmd_evaluate)

    d = sub.add_parser("datasets", help="list the datasets jaxnn knows")
    d.set_defaults(run=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 1 a NaN run, 2 a bad argument or file)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a bad argument (2, message already on stderr)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"jaxnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
