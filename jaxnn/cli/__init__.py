"""The jaxnn command: train an MLP or a CNN on a dataset, evaluate a checkpoint, list datasets.

    jaxnn train --data digits --hidden 128,64 --activation relu --optimizer adam --lr 1e-3 \\
                --epochs 30 --batch-size 64 --seed 0 --out runs/NAME
    jaxnn train --data digits --model cnn --conv 16,32 --hidden 64 --patience 5 --out runs/CNN
    python -m jaxnn.launch --processes 2 -- jaxnn train --data digits --out runs/MP
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

Under `jaxnn.launch` (or any ``JAXNN_COORDINATOR`` cluster) train joins the cluster first;
process ``r`` of ``P`` trains on rows ``r*m .. (r+1)*m - 1`` of the training and validation
sets (``m = n // P``, the last ``n % P`` unused) with `train.fit` over every process's
devices, and process 0 alone prints and writes --out.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
import warnings
from typing import Sequence

import jax
import numpy as np

from jaxnn.cli.arguments import (HelpFormatter, checked_out, int_at_least, make_dirs, name_in,
                                  non_negative_float, positive_float, rate, remove_empty, widths)
from jaxnn.cli.output import (OVERFIT_FRACTION, OVERFIT_MIN_EPOCHS, OVERFIT_RISE, EpochProgress, format_scores,
                              overfitting, plot_curves, seconds_text)
from jaxnn.util import finite_or_none as strict_json
from jaxnn import (activations, backprop, checkpoint, datasets, evaluation, launch, losses, metrics, models,
                   optim, parallel, train)

MODEL_FILE, HISTORY_FILE, CURVES_FILE = "model.npz", "history.json", "curves.png"
MODEL_KINDS = ("mlp", "cnn")
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")  # the names whose Dataset has an image_shape
CNN_KERNEL_SIZE, CNN_POOL = 3, 2
NAN_EXIT = 1  # the loss became NaN or inf; bad arguments exit with 2 (argparse's status)


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


# ----------------------------------------------------------------------------- commands

def _train_config(args, dataset, head) -> dict:
    x_train = dataset.train[0]
    config = {"model": args.model, "data": args.data, "hidden": args.hidden, "activation": args.activation,
              "dropout_rate": args.dropout, "output_width": head.output_width(dataset.n_classes),
              "n_features": int(x_train.shape[1]), "optimizer": args.optimizer, "lr": args.lr,
              "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "grad": args.grad,
              "l2": args.l2, "patience": args.patience, "devices": args.devices}
    if args.model == "cnn":
        if dataset.image_shape is None:
            raise ValueError(f"--model cnn needs an image dataset; {args.data!r} is not one")
        config.update(conv_features=args.conv, kernel_size=CNN_KERNEL_SIZE, pool=CNN_POOL,
                      image_shape=list(dataset.image_shape))
    return config


def _process_rows(*arrays) -> tuple:
    """This process's rows of each array under several processes (`jaxnn.launch`): process
    ``r`` of ``P`` takes rows ``r*m .. (r+1)*m - 1``, ``m = n // P`` (the last ``n % P``
    unused), so the global dataset `train.fit` gathers is the first ``P*m`` rows in order.
    The arrays themselves in one process."""
    processes, rank = jax.process_count(), jax.process_index()
    if processes == 1:
        return arrays
    m = len(arrays[0]) // processes
    return tuple(array[rank * m:(rank + 1) * m] for array in arrays)


def cmd_train(args) -> int:
    launch.maybe_initialize()  # first: JAX joins a cluster only before it computes anything
    first_process = jax.process_index() == 0  # the one that prints and writes --out
    # Every check comes before the output directory is created.
    out = checked_out(args.out)
    if args.model == "cnn" and args.data not in IMAGE_DATASETS:
        raise ValueError(f"--model cnn needs an image dataset ({', '.join(IMAGE_DATASETS)}); "
                         f"{args.data!r} is not one")
    if args.checkpoint_every is not None and args.checkpoint_every > args.epochs:
        raise ValueError(f"--checkpoint-every {args.checkpoint_every} is more than --epochs {args.epochs}: "
                         f"no checkpoint would be written")
    mesh = parallel.data_mesh(args.devices, "--devices")
    if args.shard_optimizer and mesh is None:
        raise ValueError("--shard-optimizer splits the optimizer state over the devices of --devices N; "
                         "add --devices N")
    if jax.process_count() > 1:  # python -m jaxnn.launch: every process's devices, each its rows
        mesh = parallel.process_mesh(mesh, "--devices")
    dataset = datasets.load(args.data)
    n_train = len(dataset.train[0]) - len(dataset.train[0]) % jax.process_count()  # the rows fit sees
    batch_size = min(args.batch_size, n_train)
    parallel.check_global_batch(batch_size, n_train, mesh, "--batch-size")
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

    created = []
    if first_process:
        created = make_dirs(out)
        print(f"jaxnn: training {_describe(config)} on {args.data} ({n_train} train examples), "
              f"{args.optimizer} lr={args.lr}, {args.epochs} epochs"
              + (f", data parallel on {parallel.describe(mesh)}" if mesh is not None else "")
              + (f" in {jax.process_count()} processes" if jax.process_count() > 1 else "")
              + (f", early stopping with patience {args.patience}" if args.patience else ""))
    progress = EpochProgress(args.epochs, enabled=not args.quiet and first_process)
    try:
        progress.start()
        with warnings.catch_warnings():  # reported below, as a message and an exit status
            warnings.filterwarnings("ignore", message="fit: the loss became NaN", category=RuntimeWarning)
            params, history = train.fit(
                model, params, head.loss, optimizer, *_process_rows(x_train, _targets(dataset, y_train, scaler)),
                epochs=args.epochs, batch_size=batch_size, key=fit_key, grad=args.grad, mesh=mesh,
                shard_optimizer=args.shard_optimizer, l2=args.l2,
                validation=_process_rows(_features(dataset.val[0]), _targets(dataset, dataset.val[1], scaler)),
                patience=args.patience, restore_best=True,
                checkpoint_dir=out if args.checkpoint_every else None, checkpoint_every=args.checkpoint_every,
                callbacks=(progress.callback(),), progress=False)
    except BaseException:
        progress.close()
        remove_empty(created)
        raise
    progress.close()
    if not first_process:  # process 0 reports and writes; the others only trained with it
        return NAN_EXIT if "nan_epoch" in history else 0
    return _finish_training(args, out, model, params, history, dataset, config, scaler)


def _finish_training(args, out, model, params, history: dict, dataset, config: dict, scaler) -> int:
    """Write the model, the history and the curves; report the test scores, early stopping,
    overfitting and a NaN stop (exit status `NAN_EXIT`)."""
    if "nan_epoch" in history:
        epoch = history["nan_epoch"]
        kept = "the initial parameters" if epoch == 1 else f"the parameters from the end of epoch {epoch - 1}"
        history["stopped"] = (f"the loss became NaN or inf in epoch {epoch}; training stopped and {MODEL_FILE} "
                              f"holds {kept}. Lower --lr (it is {args.lr}) or check the data.")
    scores = _metrics_report(model, params, dataset, "test", scaler)
    checkpoint.save(out / MODEL_FILE, params, {"config": config, "test": strict_json(scores)})
    (out / HISTORY_FILE).write_text(json.dumps(strict_json(history), indent=1, allow_nan=False))
    plot_curves(history, out / CURVES_FILE)
    times = history["time"]
    if len(times) > 1:
        print(f"time: epoch 1 (with compiling) {seconds_text(times[0])}, then {seconds_text(np.mean(times[1:]))} per epoch")
    print(f"test: {format_scores(scores)}")
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
    print(f"{args.split}: {format_scores(scores)}")
    return 0


def cmd_datasets(args) -> int:
    for name, description in datasets.names().items():
        print(f"{name:<16} {description}")
    return 0


def experiments_runner() -> Path:
    """``experiments/run_all.py`` of the clone jaxnn runs from (or of the current folder)."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "experiments" / "run_all.py").is_file():
            return root / "experiments" / "run_all.py"
    raise ValueError("the experiments are scripts in the repository's experiments/ folder; run jaxnn experiments "
                     "from a clone of the repository (or python experiments/run_all.py)")


def cmd_experiments(args) -> int:
    """Run the experiments in their own processes (jaxnn never imports them) and write the reports."""
    runner = experiments_runner()
    command = [sys.executable, str(runner), *args.names, "--out", args.out] + (["--quick"] if args.quick else [])
    if args.list:
        command = [sys.executable, str(runner), "--list"]
    return subprocess.run(command, cwd=runner.parents[1]).returncode


# ----------------------------------------------------------------------------- parser

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


def _add_train_command(sub) -> None:
    t = sub.add_parser("train", help="train an MLP or a CNN on a dataset", description=TRAIN_DESCRIPTION,
                       epilog=TRAIN_EPILOG, formatter_class=HelpFormatter)
    dataset_names = tuple(datasets.names())
    t.add_argument("--data", default="digits", type=name_in(dataset_names, "dataset"), metavar="NAME",
                   help=f"dataset: {', '.join(dataset_names)} (jaxnn datasets describes them)")
    t.add_argument("--model", default="mlp", choices=MODEL_KINDS,
                   help="model kind; cnn needs an image dataset")
    t.add_argument("--hidden", default="128,64", type=widths(allow_empty=True), metavar="WIDTHS",
                   help="hidden dense widths, comma-separated (for cnn: the dense layers after the convolutions)")
    t.add_argument("--conv", default="16,32", type=widths(allow_empty=False), metavar="FEATURES",
                   help="cnn only: features of each convolution block, comma-separated")
    t.add_argument("--activation", default="relu", type=name_in(activations.NAMES, "activation"), metavar="NAME",
                   help=f"hidden activation: {', '.join(activations.NAMES)}")
    t.add_argument("--optimizer", default="adam", type=name_in(optim.NAMES, "optimizer"), metavar="NAME",
                   help=f"optimizer: {', '.join(optim.NAMES)}")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate, > 0")
    t.add_argument("--epochs", type=int_at_least(1), default=30, help="number of epochs, >= 1")
    t.add_argument("--batch-size", type=int_at_least(1), default=64,
                   help="mini-batch size, >= 1 (at most the number of training examples is used)")
    t.add_argument("--seed", type=int, default=0, help="random seed (initialization, shuffling, dropout)")
    t.add_argument("--dropout", type=rate, default=0.0, help="dropout rate after each hidden dense layer, in [0, 1)")
    t.add_argument("--l2", type=non_negative_float, default=0.0, help="weight decay: adds l2/2 * sum of squared "
                   "weights to the loss, >= 0")
    t.add_argument("--grad", default="autodiff", choices=tuple(backprop.GRADIENT_PATHS),
                   help="gradient path: jax autodiff or the hand-derived backprop")
    t.add_argument("--patience", type=int_at_least(1), default=None, metavar="N",
                   help="early stopping: stop when the validation loss has not improved for N epochs and keep "
                        "the weights of the best epoch")
    t.add_argument("--checkpoint-every", type=int_at_least(1), default=None, metavar="N",
                   help=f"save the whole train state to --out/{train.TRAIN_STATE_FILE} every N epochs")
    t.add_argument("--devices", type=int_at_least(1), default=None, metavar="N",
                   help="data parallel over the first N devices (jax.devices()): each mini-batch is split over "
                        "them, --batch-size is the global batch and must divide by N")
    t.add_argument("--shard-optimizer", action="store_true",
                   help="with --devices: split the optimizer state over the devices, each updating its slice "
                        "of the params (ZeRO stage 1)")
    t.add_argument("--out", default="runs/latest", metavar="DIR",
                   help="output directory, created if missing (files in it are overwritten)")
    t.add_argument("--quiet", action="store_true", help="no compiling line and no progress bar")
    t.set_defaults(run=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxnn", description="Train neural networks on bundled datasets, evaluate them, list the datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_command(sub)

    e = sub.add_parser("evaluate", help="evaluate a saved model", formatter_class=HelpFormatter,
                       description="Score a model saved by jaxnn train (MLP or CNN) on a dataset split.")
    e.add_argument("--checkpoint", required=True, help=f"path to a {MODEL_FILE} written by jaxnn train")
    e.add_argument("--data", default=None, help="dataset to score (default: the one it was trained on)")
    e.add_argument("--split", default="test", choices=("train", "val", "test"), help="which split to score")
    e.set_defaults(run=cmd_evaluate)

    d = sub.add_parser("datasets", help="list the datasets jaxnn knows")
    d.set_defaults(run=cmd_datasets)

    x = sub.add_parser("experiments", help="reproduce the course's claims; writes runs/report.html",
                       formatter_class=HelpFormatter,
                       description="Run each experiment (one script per course claim) in its own process and "
                                   "write runs/report.html (figures embedded) and runs/report.md. Exit status 1 "
                                   "when a claim is not reproduced, 2 for an unknown name.")
    x.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (all when none is given)")
    x.add_argument("--list", action="store_true", help="print each experiment's name and claim, run nothing")
    x.add_argument("--quick", action="store_true", help="small runs that check the scripts; no claim judged")
    x.add_argument("--out", default="runs", help="folder for the results and the reports")
    x.set_defaults(run=cmd_experiments)
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

