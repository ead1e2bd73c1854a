"""The `jaxnn` command end to end on tiny runs."""
import io
import json
import math
import subprocess
import sys
import warnings

import jax
import pytest

from jaxnn import activations, checkpoint, cli, datasets, optim, train

IRIS = ["train", "--data", "iris", "--hidden", "8", "--epochs", "3", "--batch-size", "16", "--lr", "1e-2"]
# sgd with lr=1000 on the (standardized) diabetes targets overflows in the first epoch
DIVERGENT = ["train", "--data", "diabetes", "--hidden", "4", "--optimizer", "sgd", "--lr", "1e3", "--epochs", "3"]


def _reject_nan(constant):
    raise ValueError(f"not strict JSON: {constant}")


def _strict_json(text):
    return json.loads(text, parse_constant=_reject_nan)


def _test_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("test:"))


def test_train_then_evaluate_reports_the_same_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main([*IRIS, "--out", str(out), "--quiet"]) == 0
    trained = capsys.readouterr().out
    for name in (cli.MODEL_FILE, cli.HISTORY_FILE, cli.CURVES_FILE):
        assert (out / name).stat().st_size > 0
    history = _strict_json((out / cli.HISTORY_FILE).read_text())
    assert history["epoch"] == [1, 2, 3] and len(history["val_accuracy"]) == 3
    _, meta = checkpoint.load(out / cli.MODEL_FILE)
    assert meta["config"]["model"] == "mlp"
    assert meta["config"]["hidden"] == [8] and meta["config"]["output_width"] == 3
    test_line = _test_line(trained)

    assert cli.main(["evaluate", "--checkpoint", str(out / cli.MODEL_FILE)]) == 0
    assert capsys.readouterr().out.strip() == test_line
    assert f"accuracy={meta['test']['accuracy']:.4f}" in test_line


def test_binary_and_regression_heads(tmp_path, capsys):
    assert cli.main(["train", "--data", "breast_cancer", "--hidden", "4", "--epochs", "2", "--out",
                     str(tmp_path / "b"), "--quiet", "--grad", "backprop"]) == 0
    assert "accuracy=" in capsys.readouterr().out
    assert cli.main(["train", "--data", "diabetes", "--hidden", "8", "--epochs", "60", "--lr", "3e-3",
                     "--batch-size", "32", "--out", str(tmp_path / "r"), "--quiet"]) == 0
    test_line = _test_line(capsys.readouterr().out)
    r2 = float(test_line.split("r2=")[1])
    # Oracle: ordinary least squares on the same split (R^2 about 0.34 there).  Trained on raw
    # targets (25..346) the MLP scores far below zero; standardized, it gets close to OLS.
    from sklearn.linear_model import LinearRegression

    data = datasets.load("diabetes")
    assert r2 > 0.75 * LinearRegression().fit(*data.train).score(*data.test)
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "r" / cli.MODEL_FILE)]) == 0
    assert capsys.readouterr().out.strip() == test_line


def test_datasets_lists_every_loader(capsys):
    assert cli.main(["datasets"]) == 0
    listing = capsys.readouterr().out
    for name in ("digits", "iris", "wine", "breast_cancer", "diabetes", "mnist", "fashion_mnist"):
        assert name in listing


# ----------------------------------------------------------------------------- 1. --help

def test_train_help_shows_every_option_with_default_and_the_names(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # one line per option
    assert cli.main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    train_parser = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    options = [a for a in train_parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 17
    for action in options:
        assert action.option_strings[0] in text and action.help
    flat = " ".join(text.split())
    for action in options:  # every option's help ends with its default
        assert f"{action.help} (default: " in flat, action.dest
    for expected in ("(default: digits)", "(default: 0.001)", "(default: 30)", "(default: 64)",
                     "(default: 128,64)", "(default: mlp)", "(default: runs/latest)"):
        assert expected in flat
    assert flat.count("(default: ") == len(options)
    for name in (*activations.NAMES, *optim.NAMES, *datasets.names()):
        assert name in text
    assert "`" not in text and "``" not in text  # plain text, no reStructuredText
    assert "null" in text and "compiling" in text and "overfitting" in text


def test_top_level_help_is_plain_text(capsys):
    assert cli.main(["--help"]) == 0
    assert "`" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- 2. argument checks

@pytest.mark.parametrize("extra, message", [
    (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
    (["--epochs", "-5"], "argument --epochs"),
    (["--epochs", "2.5"], "argument --epochs"),
    (["--checkpoint-every", "-1"], "argument --checkpoint-every: must be an integer >= 1, got -1"),
    (["--checkpoint-every", "0"], "argument --checkpoint-every"),
    (["--checkpoint-every", "5", "--epochs", "2"], "--checkpoint-every 5 is more than --epochs 2"),
    (["--lr", "0"], "argument --lr: must be a number > 0"),
    (["--lr", "-1e-3"], "argument --lr"),
    (["--lr", "nan"], "argument --lr: must be a number > 0 (finite), got nan"),
    (["--lr", "inf"], "argument --lr"),
    (["--lr", "fast"], "argument --lr"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1"),
    (["--dropout", "1"], "argument --dropout: must be a number in [0, 1), got 1"),
    (["--dropout", "-0.1"], "argument --dropout"),
    (["--dropout", "nan"], "argument --dropout"),
    (["--l2", "-1"], "argument --l2: must be a number >= 0"),
    (["--l2", "nan"], "argument --l2"),
    (["--patience", "0"], "argument --patience: must be an integer >= 1, got 0"),
    (["--data", "nope"], "argument --data: unknown dataset 'nope'; known: digits, iris"),
    (["--activation", "sine"], "argument --activation: unknown activation 'sine'; known: identity"),
    (["--optimizer", "adamm"], "argument --optimizer: unknown optimizer 'adamm'"),
    (["--hidden", "8,x"], "argument --hidden: must be comma-separated positive integers"),
    (["--hidden", "8,0"], "argument --hidden"),
    (["--model", "cnn", "--conv", ""], "argument --conv"),
    (["--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
    (["--model", "cnn"], "--model cnn needs an image dataset (digits, mnist, fashion_mnist); 'iris' is not one"),
])
def test_bad_arguments_exit_2_naming_them_and_create_nothing(extra, message, tmp_path, capsys):
    out = tmp_path / "runs" / "deep" / "run"
    assert cli.main(["train", "--data", "iris", *extra, "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "jaxnn train: error: " in captured.err and message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "runs").exists()


def test_out_that_cannot_be_a_directory(tmp_path, capsys):
    existing_file = tmp_path / "taken"
    existing_file.write_text("not a directory")
    for out, message in ((existing_file, "is an existing file, not a directory"),
                         (existing_file / "run", f"cannot be created: {str(existing_file)!r} is not a directory"),
                         ("/dev/null/x", "--out '/dev/null/x' cannot be created: '/dev/null' is not a directory")):
        assert cli.main([*IRIS, "--out", str(out), "--quiet"]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("jaxnn train: error: --out ") and message in captured.err
    assert existing_file.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_run_that_fails_after_creating_out_removes_its_empty_folders(tmp_path, capsys, monkeypatch):
    def broken_fit(*args, **kwargs):
        raise ValueError("fit: broken on purpose")

    monkeypatch.setattr(train, "fit", broken_fit)
    (tmp_path / "runs").mkdir()
    assert cli.main([*IRIS, "--out", str(tmp_path / "runs" / "a" / "b"), "--quiet"]) == 2
    assert "broken on purpose" in capsys.readouterr().err
    assert list((tmp_path / "runs").iterdir()) == []  # "runs" existed before and stays


def test_evaluate_missing_checkpoint_exits_2(capsys):
    assert cli.main(["evaluate", "--checkpoint", "/nonexistent/model.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxnn evaluate: error: ") and "model.npz" in err


# ----------------------------------------------------------------------------- 3. early stopping, overfitting

def _history(val_loss):
    return {"epoch": list(range(1, len(val_loss) + 1)), "val_loss": list(val_loss)}


def test_overfitting_rule():
    falling_then_rising = [1.0 - 0.01 * e for e in range(30)] + [0.71 + 0.01 * e for e in range(1, 71)]
    assert cli.overfitting(_history(falling_then_rising)) == (
        "overfitting: best epoch 30 of 100 (validation loss rose for the last 70 epochs, from 0.71 to 1.41)")
    assert cli.overfitting(_history([1.0 - 0.001 * e for e in range(100)])) is None  # still improving
    # too recent: the best epoch must be at least max(5, 20% of the epochs) before the end
    assert cli.overfitting(_history([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.6, 0.7, 0.8, 0.9])) is None   # 4 of 10 ago
    assert cli.overfitting(_history([1, 0.9, 0.8, 0.7, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])) is not None  # 5 of 10
    assert cli.overfitting(_history([1.0] * 84 + [0.5] + [0.6] * 15)) is None   # 15 < 20% of 100
    assert cli.overfitting(_history([1.0] * 79 + [0.5] + [0.6] * 20)) is not None
    # a plateau within 1% of the best is not a rise
    assert cli.overfitting(_history([1.0, 0.5] + [0.504] * 20)) is None
    assert cli.overfitting(_history([1.0, 0.5] + [0.506] * 20)) is not None
    # non-finite values (null in history.json) are skipped; no validation loss, no verdict
    assert "best epoch 2 of 12" in cli.overfitting(_history([1.0, 0.5, None, math.nan] + [0.9] * 8))
    assert cli.overfitting({"epoch": [1, 2], "loss": [1.0, 0.5]}) is None
    assert cli.overfitting(_history([None, math.inf])) is None


OVERFIT_IRIS = ["train", "--data", "iris", "--hidden", "64,64", "--lr", "3e-2", "--epochs", "80",
                "--batch-size", "8", "--quiet"]


def test_an_overfitting_run_says_so_and_patience_keeps_the_best_weights(tmp_path, capsys):
    assert cli.main([*OVERFIT_IRIS, "--out", str(tmp_path / "long")]) == 0
    report = capsys.readouterr().out
    history = _strict_json((tmp_path / "long" / cli.HISTORY_FILE).read_text())
    assert len(history["epoch"]) == 80 and cli.overfitting(history) in report
    assert "overfitting: best epoch " in report and "--patience N stops such runs" in report

    out = tmp_path / "early"
    assert cli.main([*OVERFIT_IRIS, "--patience", "5", "--checkpoint-every", "4", "--out", str(out)]) == 0
    assert (out / train.TRAIN_STATE_FILE).exists()
    report = capsys.readouterr().out
    history = _strict_json((out / cli.HISTORY_FILE).read_text())
    stopped, best = history["stopped_early"], history["best_epoch"]
    assert stopped < 80 and best == stopped - 5 and len(history["epoch"]) == stopped
    assert (f"early stopping: the validation loss did not improve for 5 epochs; stopped after epoch {stopped}, "
            f"kept the weights of epoch {best}") in report
    # the saved model is the best epoch's: its validation loss is that epoch's
    assert cli.main(["evaluate", "--checkpoint", str(out / cli.MODEL_FILE), "--split", "val"]) == 0
    assert f"loss={history['val_loss'][best - 1]:.4f}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- 4. progress

def test_progress_says_compiling_and_its_rate_leaves_out_the_first_epoch(tmp_path, capsys):
    assert cli.main([*IRIS, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("compiling... (epoch 1 of 3 includes compiling)\n")
    assert "training: 100%" in err and "3/3" in err

    stream = io.StringIO()
    progress = cli.EpochProgress(4, stream=stream)
    progress.start()
    assert stream.getvalue() == "compiling... (epoch 1 of 4 includes compiling)\n"
    progress.update(1, {"loss": 1.0})
    # the bar starts after epoch 1, already at 1/4: tqdm's rate is (n - initial) / elapsed
    assert progress.bar.initial == 1 and progress.bar.n == 1 and progress.bar.total == 4
    progress.update(2, {"loss": 0.5, "val_loss": 0.7})
    assert progress.bar.n == 2 and progress.bar.postfix == "loss=0.5, val_loss=0.7"
    progress.close()


def test_quiet_prints_no_progress(tmp_path, capsys):
    assert cli.main([*IRIS, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- 5. divergent runs

def test_a_divergent_run_exits_1_with_the_message_and_strict_json(tmp_path, capsys):
    out = tmp_path / "nan"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main([*DIVERGENT, "--out", str(out), "--quiet"]) == cli.NAN_EXIT == 1
    assert not [w for w in caught if "NaN" in str(w.message)]
    err = capsys.readouterr().err
    text = (out / cli.HISTORY_FILE).read_text()
    history = _strict_json(text)
    epoch = history["nan_epoch"]  # 1 in float32; the suite's float64 lasts one epoch more
    assert history["loss"][-1] is None and None not in history["loss"][:-1] and len(history["loss"]) == epoch
    assert err.startswith(f"jaxnn train: error: the loss became NaN or inf in epoch {epoch}; training stopped "
                          f"and model.npz holds the ")
    assert "Lower --lr (it is 1000.0) or check the data." in err
    assert err == f"jaxnn train: error: {history['stopped']}\n"
    with pytest.raises(ValueError, match="not strict JSON"):
        _strict_json(json.dumps({"loss": [float("nan")]}))  # the check itself works
    for name in (cli.MODEL_FILE, cli.CURVES_FILE):
        assert (out / name).stat().st_size > 0


def test_the_command_reports_divergence_without_a_warning_or_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "jaxnn.cli", *DIVERGENT, "--out", str(tmp_path / "nan"),
                           "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("jaxnn train: error: the loss became NaN or inf in epoch 1")
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr and "train.fit(" not in done.stderr


def test_strict_json():
    assert cli.strict_json({"a": [1.0, float("nan"), float("inf"), -float("inf")], "b": "x", "c": 3}) == {
        "a": [1.0, None, None, None], "b": "x", "c": 3}


# ----------------------------------------------------------------------------- 6. CNN, checkpoints

def test_train_a_cnn_on_digits_and_evaluate_rebuilds_it(tmp_path, capsys):
    out = tmp_path / "cnn"
    assert cli.main(["train", "--data", "digits", "--model", "cnn", "--conv", "4", "--hidden", "8", "--epochs",
                     "2", "--out", str(out), "--quiet"]) == 0
    report = capsys.readouterr().out
    assert "CNN on 8x8x1 images: conv 4 (3x3, max-pool 2), dense 8-10" in report
    params, meta = checkpoint.load(out / cli.MODEL_FILE)
    config = meta["config"]
    assert config["model"] == "cnn" and config["conv_features"] == [4] and config["image_shape"] == [8, 8, 1]
    assert any(leaf.ndim == 4 for leaf in jax.tree_util.tree_leaves(params))  # a conv kernel
    assert cli.main(["evaluate", "--checkpoint", str(out / cli.MODEL_FILE)]) == 0
    assert capsys.readouterr().out.strip() == _test_line(report)


def test_evaluate_reads_old_checkpoints_without_a_model_kind_as_mlps(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main([*IRIS, "--out", str(out), "--quiet"]) == 0
    test_line = _test_line(capsys.readouterr().out)
    params, meta = checkpoint.load(out / cli.MODEL_FILE)
    old = {k: v for k, v in meta["config"].items() if k not in ("model", "patience")}
    checkpoint.save(tmp_path / "old.npz", params, {"config": old, "test": meta["test"]})
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "old.npz")]) == 0
    assert capsys.readouterr().out.strip() == test_line

    checkpoint.save(tmp_path / "odd.npz", params, {"config": {**old, "model": "transformer"}})
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "odd.npz")]) == 2
    assert "model kind 'transformer' is not one of mlp, cnn" in capsys.readouterr().err


def test_image_datasets_are_the_ones_with_an_image_shape():
    bundled = [name for name in datasets.names() if name not in datasets.MNIST_URLS]
    for name in bundled:
        assert (datasets.load(name).image_shape is not None) == (name in cli.IMAGE_DATASETS), name
    assert set(cli.IMAGE_DATASETS) - set(bundled) == set(datasets.MNIST_URLS)


def test_experiments_lists_names_and_claims_and_refuses_unknown_names(capfd):
    assert cli.main(["experiments", "--list"]) == 0
    listing = capfd.readouterr().out
    assert "cnn_digits" in listing and "KAUST Academy" in listing and "run_all" not in listing
    assert cli.main(["experiments", "nosuch"]) == 2
    assert "unknown experiment(s) nosuch; known: " in capfd.readouterr().err
