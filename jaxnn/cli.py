"""The ``jaxnn`` command: train an MLP on a dataset, evaluate a checkpoint, list datasets.

    jaxnn train --data digits --hidden 128,64 --activation relu --optimizer adam --lr 1e-3 \\
                --epochs 30 --batch-size 64 --seed 0 --out runs/NAME
    jaxnn evaluate --checkpoint runs/NAME/model.npz
    jaxnn datasets

``train`` writes ``history.json``, ``curves.png`` (loss and accuracy per epoch) and
``model.npz`` (params + the configuration needed to rebuild the model) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import jax
import numpy as np

from jaxnn import backprop, checkpoint, datasets, evaluation, losses, metrics, models, optim, train

MODEL_FILE, HISTORY_FILE, CURVES_FILE = "model.npz", "history.json", "curves.png"


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


def _parse_hidden(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--hidden must be comma-separated positive ints such as 128,64, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise ValueError(f"--hidden widths must be positive, got {text!r}")
    return widths


def _metrics_report(model, params, dataset, split: str, target_scaler=None) -> dict[str, float]:
    """Test metrics; for regression in the targets' original units (MSE, R^2)."""
    x, y = getattr(dataset, split)
    if target_scaler is None:
        return evaluation.evaluate(model, params, _head(dataset).loss, x, _targets(dataset, y))
    pred = datasets.standard_inverse(target_scaler, evaluation.predict(model, params, x))
    y = _targets(dataset, y)
    return {"mse": float(metrics.mean_squared_error(pred, y)), "r2": float(metrics.r2_score(pred, y))}


def _plot_curves(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = next((k for k in ("val_accuracy", "val_r2") if k in history), None)
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(10 if metric else 5, 4), squeeze=False)
    axes[0, 0].plot(history["epoch"], history["loss"], label="train")
    if "val_loss" in history:
        axes[0, 0].plot(history["epoch"], history["val_loss"], label="validation")
    axes[0, 0].set(xlabel="epoch", ylabel="loss", title="Loss")
    axes[0, 0].legend()
    if metric:
        axes[0, 1].plot(history["epoch"], history[metric], color="C1")
        axes[0, 1].set(xlabel="epoch", ylabel=metric[4:], title=f"Validation {metric[4:]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _format(scores: dict[str, float]) -> str:
    return "  ".join(f"{name}={value:.4f}" for name, value in scores.items())


def cmd_train(args) -> int:
    dataset = datasets.load(args.data)
    hidden = _parse_hidden(args.hidden)
    head = _head(dataset)
    model = models.mlp([*hidden, head.output_width(dataset.n_classes)], activation=args.activation,
                       dropout_rate=args.dropout)
    optimizer = optim.by_name(args.optimizer, args.lr)
    key = jax.random.key(args.seed)
    init_key, fit_key = jax.random.split(key)
    x_train, y_train = dataset.train
    _, params = model.init(init_key, x_train.shape[1:])
    scaler = _target_scaler(dataset)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"jaxnn: training {args.activation} MLP {x_train.shape[1]}-{'-'.join(map(str, hidden))}-"
          f"{head.output_width(dataset.n_classes)} on {args.data} ({len(x_train)} train examples), "
          f"{args.optimizer} lr={args.lr}, {args.epochs} epochs")
    params, history = train.fit(
        model, params, head.loss, optimizer, x_train, _targets(dataset, y_train, scaler),
        epochs=args.epochs, batch_size=min(args.batch_size, len(x_train)), key=fit_key, grad=args.grad,
        l2=args.l2, validation=(dataset.val[0], _targets(dataset, dataset.val[1], scaler)),
        patience=args.patience, checkpoint_dir=out if args.checkpoint_every else None,
        checkpoint_every=args.checkpoint_every, progress=not args.quiet)
    scores = _metrics_report(model, params, dataset, "test", scaler)
    config = {"data": args.data, "hidden": hidden, "activation": args.activation, "dropout_rate": args.dropout,
              "output_width": head.output_width(dataset.n_classes), "n_features": int(x_train.shape[1]),
              "optimizer": args.optimizer, "lr": args.lr, "epochs": args.epochs,
              "batch_size": args.batch_size, "seed": args.seed, "grad": args.grad, "l2": args.l2}
    if scaler is not None:
        config.update(target_mean=np.asarray(scaler.mean).tolist(), target_std=np.asarray(scaler.std).tolist())
    checkpoint.save(out / MODEL_FILE, params, {"config": config, "test": scores})
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=1))
    _plot_curves(history, out / CURVES_FILE)
    print(f"test: {_format(scores)}")
    print(f"wrote {out / MODEL_FILE}, {out / HISTORY_FILE}, {out / CURVES_FILE}")
    return 0


def cmd_evaluate(args) -> int:
    params, meta = checkpoint.load(args.checkpoint)
    config = meta["config"]
    dataset = datasets.load(args.data or config["data"])
    if dataset.train[0].shape[1] != config["n_features"]:
        raise ValueError(f"the checkpoint expects {config['n_features']} features, "
                         f"dataset {dataset.name!r} has {dataset.train[0].shape[1]}")
    model = models.mlp([*config["hidden"], config["output_width"]], activation=config["activation"],
                       dropout_rate=config.get("dropout_rate", config.get("dropout", 0.0)))
    scores = _metrics_report(model, params, dataset, args.split, _target_scaler(dataset, config))
    print(f"{args.split}: {_format(scores)}")
    return 0


def cmd_datasets(args) -> int:
    for name, description in datasets.names().items():
        print(f"{name:<16} {description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an MLP on a dataset")
    t.add_argument("--data", default="digits", help="dataset name (see `jaxnn datasets`)")
    t.add_argument("--hidden", default="128,64", help="hidden widths, comma-separated")
    t.add_argument("--activation", default="relu")
    t.add_argument("--optimizer", default="adam", choices=optim.NAMES)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--l2", type=float, default=0.0)
    t.add_argument("--grad", default="autodiff", choices=tuple(backprop.GRADIENT_PATHS))
    t.add_argument("--patience", type=int, default=None, help="early stopping patience (epochs)")
    t.add_argument("--checkpoint-every", type=int, default=None, help="save the train state every N epochs")
    t.add_argument("--out", default="runs/latest", help="output directory")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a saved model")
    e.add_argument("--checkpoint", required=True, help=f"path to a {MODEL_FILE} written by `jaxnn train`")
    e.add_argument("--data", default=None, help="dataset (default: the one it was trained on)")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.set_defaults(run=cmd_evaluate)

    d = sub.add_parser("datasets", help="list the datasets `load` knows")
    d.set_defaults(run=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"jaxnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
