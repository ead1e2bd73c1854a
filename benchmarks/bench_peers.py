"""`fit` against peer libraries: samples/s on the same architectures, data and batch sizes.

jaxnn runs ``train.fit`` with its defaults (``grad="autodiff"``), one epoch per call, so
its time includes what ``fit`` does once per call (checking the data and the model's
shapes, setting up the run), as Keras's includes ``model.fit``'s.
Each peer trains the same architecture as a good user of that library writes it:

* PyTorch (CPU, eager): an ``nn.Module``, a fresh ``torch.randperm`` of the examples each
  epoch, ``zero_grad``/``backward``/``step`` per batch, one ``.item()`` at the end of the
  epoch; ``torch.set_num_threads`` the machine's core count, or ``--torch-threads`` (on a
  machine loaded by other work its threads stall one another, and fewer are faster).
* Keras 3 on its JAX backend: ``model.compile`` then ``model.fit(x, y, epochs=1,
  shuffle=True)`` on the numpy arrays.
* Flax NNX, two ways its performance guide gives: a jitted step called once per batch
  through ``nnx.cached_partial`` ("jit step"), and the functional API (``nnx.split`` /
  ``nnx.merge``) inside one ``jax.jit`` of a ``lax.scan`` over the epoch ("scan epoch").
* Equinox, the same two ways: an ``eqx.filter_jit`` step per batch, and one ``jax.jit`` of
  a ``lax.scan`` over the epoch of ``eqx.partition`` ed params.

The JAX loops shuffle on the device (``jax.random.permutation`` and a gather, as
``reference.shuffled_batches``) with a fresh key every epoch.  All use Adam (lr 1e-3),
float32 and their library's own initialization: speed depends on the shapes, not the
values; the parameters column shows that every contender trains the same number of weights
(PyTorch's LSTM carries a second, redundant bias per gate: 4H more).  Peers come from the
``bench`` extra (``pip install -e ".[bench]"``); one not installed is skipped with a note.

Workloads (the models of ``bench_fit.py`` and ``bench_architectures.py``, random data of
the right shapes, ``reference.random_data``; every epoch uses the whole batches of the
data): the MLPs 784-512-512-10 (batch 128) and 64-32-10 (batch 32) on 8,192 examples, the
digits-sized CNN (conv 5x5x32 "SAME", ReLU, 2x2 max-pool, dense 128, ReLU, dropout 0.3,
dense 10; 5,376 images, batch 64) and the LSTM on adding-problem-shaped sequences (T = 100,
D = 2, H = 32, dense 1, MSE; 4,000 sequences, batch 32).

Every contender is compiled and run for two epochs first; then each round times one epoch
of every contender, in alternating order (`timing.interleaved_rounds`), so machine load
hits all alike.  Reported: samples/s (median over rounds, quartiles) and the speed of jaxnn
relative to each peer, the median over rounds of that round's peer time / jaxnn time
(> 1 = jaxnn faster), with its quartiles.

    python benchmarks/bench_peers.py [--rounds 15] [--quick] [--only mlp,cnn,lstm]
                                     [--peers torch,keras,flax,equinox] [--torch-threads N]
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import itertools
import os
import statistics
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from bench_architectures import CNN_DROPOUT, IMAGE_SHAPE, LSTM_HIDDEN, jaxnn_cnn
from reference import random_data, shuffled_batches, time_fit
from timing import header, interleaved_rounds, markdown_table, paired_ratios, quartiles

from jaxnn import models

LEARNING_RATE = 1e-3
WARMUP_EPOCHS = 2          # before timing: the first compiles, the second warms caches (1 with --quick)
WORKLOAD_GROUPS = ("mlp", "cnn", "lstm")
JAXNN = 'jaxnn fit (grad="autodiff")'


# --- the workloads --------------------------------------------------------------------------

class Workload(NamedTuple):
    group: str             # "mlp", "cnn" or "lstm" (``--only``)
    name: str
    widths: tuple          # MLP layer widths, input first; () for the others
    loss: str              # "softmax_cross_entropy" or "mse"
    x: np.ndarray          # float32 (n, *input shape), n a multiple of batch_size
    y: np.ndarray          # int32 labels (n,) or float32 targets (n, 1)
    batch_size: int

    @property
    def classification(self) -> bool:
        return self.loss == "softmax_cross_entropy"


def whole_batches(x, y, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy copies of the first ``n // batch_size * batch_size`` examples: every contender
    then sees the same examples each epoch (``fit`` drops a last partial batch, Keras would
    not)."""
    n = x.shape[0] // batch_size * batch_size
    return np.array(x[:n]), np.array(y[:n])


def workloads(quick: bool, groups=WORKLOAD_GROUPS) -> list[Workload]:
    mlp_n, cnn_n, lstm_n = (1024, 512, 256) if quick else (8192, 5385, 4000)
    found = [
        Workload("mlp", "MLP 784-512-512-10 relu, batch 128", (784, 512, 512, 10), "softmax_cross_entropy",
                 *whole_batches(*random_data(mlp_n, (784,), n_classes=10), 128), 128),
        Workload("mlp", "MLP 64-32-10 relu, batch 32", (64, 32, 10), "softmax_cross_entropy",
                 *whole_batches(*random_data(mlp_n, (64,), n_classes=10), 32), 32),
        Workload("cnn", "digits-sized CNN conv5x5x32-pool-128-10, batch 64", (), "softmax_cross_entropy",
                 *whole_batches(*random_data(cnn_n, (64,), n_classes=10), 64), 64),
        Workload("lstm", f"LSTM H={LSTM_HIDDEN} on sequences T=100, D=2, batch 32", (), "mse",
                 *whole_batches(*random_data(lstm_n, (100, 2), y_shape=(1,)), 32), 32),
    ]
    return [w for w in found if w.group in groups]


class Contender(NamedTuple):
    name: str
    parameters: int
    epoch: Callable[[], object]   # trains one epoch and waits for it to finish


def jax_parameter_count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(tree))


def jax_loss(workload: Workload, pred, y):
    """Mean softmax cross-entropy of logits, or mean squared error: the JAX peers' loss."""
    if workload.classification:
        return optax.softmax_cross_entropy_with_integer_labels(pred, y).mean()
    return jnp.mean((pred - y) ** 2)


def epoch_keys():
    """A fresh shuffling key per call: ``fold_in(key(0), epoch)``."""
    counter = itertools.count()
    return lambda: jax.random.fold_in(jax.random.key(0), next(counter))


# --- jaxnn ----------------------------------------------------------------------------------

def jaxnn_model(workload: Workload):
    if workload.group == "mlp":
        return models.mlp(list(workload.widths[1:]), activation="relu")
    if workload.group == "cnn":
        return jaxnn_cnn()
    return models.rnn_regressor(LSTM_HIDDEN, 1, cell="lstm")


def jaxnn_contender(workload: Workload) -> Contender:
    """``train.fit`` with its defaults, one epoch per call from the same initial params."""
    model = jaxnn_model(workload)
    params = model.init(jax.random.key(0), workload.x.shape[1:])[1]
    optimizer = optax.adam(LEARNING_RATE)
    x, y = jnp.asarray(workload.x), jnp.asarray(workload.y)
    return Contender(JAXNN, jax_parameter_count(params),
                     lambda: time_fit(model, params, workload.loss, optimizer, x, y, workload.batch_size, 1))


# --- PyTorch --------------------------------------------------------------------------------

def torch_contenders(workload: Workload) -> list[Contender]:
    import torch
    from torch import nn

    torch.manual_seed(0)

    class LastHidden(nn.Module):
        """LSTM over the sequence, dense readout of the last hidden state."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(workload.x.shape[-1], LSTM_HIDDEN, batch_first=True)
            self.out = nn.Linear(LSTM_HIDDEN, 1)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.out(h[-1])

    x = workload.x
    if workload.group == "mlp":
        layers = []
        for fan_in, fan_out in zip(workload.widths[:-2], workload.widths[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        net = nn.Sequential(*layers, nn.Linear(*workload.widths[-2:]))
    elif workload.group == "cnn":
        height, width, channels = IMAGE_SHAPE
        x = x.reshape(-1, height, width, channels).transpose(0, 3, 1, 2).copy()  # stored NCHW, torch's layout
        net = nn.Sequential(nn.Conv2d(channels, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(32 * (height // 2) * (width // 2), 128), nn.ReLU(), nn.Dropout(CNN_DROPOUT),
                            nn.Linear(128, 10))
    else:
        net = LastHidden()
    x = torch.from_numpy(x)
    y = torch.from_numpy(workload.y).long() if workload.classification else torch.from_numpy(workload.y)
    loss_fn = nn.CrossEntropyLoss() if workload.classification else nn.MSELoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    batch_size = workload.batch_size

    def epoch():
        net.train()
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        return loss.item()

    threads = torch.get_num_threads()
    return [Contender(f"PyTorch {torch.__version__} ({threads} thread{'s' * (threads != 1)})",
                      sum(p.numel() for p in net.parameters()), epoch)]


# --- Keras 3, JAX backend -------------------------------------------------------------------

def keras_contenders(workload: Workload) -> list[Contender]:
    os.environ["KERAS_BACKEND"] = "jax"   # read when keras is first imported
    import keras
    from keras import layers

    if keras.backend.backend() != "jax":
        raise ImportError(f"keras was imported earlier with the {keras.backend.backend()} backend")
    keras.utils.set_random_seed(0)
    if workload.group == "mlp":
        stack = [layers.Dense(width, activation="relu") for width in workload.widths[1:-1]]
        stack.append(layers.Dense(workload.widths[-1]))
    elif workload.group == "cnn":
        stack = [layers.Reshape(IMAGE_SHAPE), layers.Conv2D(32, 5, padding="same", activation="relu"),
                 layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(128, activation="relu"),
                 layers.Dropout(CNN_DROPOUT), layers.Dense(10)]
    else:
        stack = [layers.LSTM(LSTM_HIDDEN), layers.Dense(1)]
    model = keras.Sequential([keras.Input(workload.x.shape[1:]), *stack])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if workload.classification else "mse"
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss)

    def epoch():
        history = model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=1, shuffle=True,
                            verbose=0)
        return float(history.history["loss"][-1])

    return [Contender(f"Keras {keras.__version__} (JAX backend)", model.count_params(), epoch)]


# --- Flax NNX -------------------------------------------------------------------------------

def flax_model(workload: Workload, nnx, seed: int = 0):
    rngs = nnx.Rngs(seed)

    class MLP(nnx.Module):
        def __init__(self, widths):
            self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = nnx.relu(layer(x))
            return self.layers[-1](x)

    class CNN(nnx.Module):
        def __init__(self):
            height, width, channels = IMAGE_SHAPE
            self.conv = nnx.Conv(channels, 32, kernel_size=(5, 5), padding="SAME", rngs=rngs)
            self.hidden = nnx.Linear(32 * (height // 2) * (width // 2), 128, rngs=rngs)
            self.dropout = nnx.Dropout(CNN_DROPOUT, rngs=rngs)
            self.out = nnx.Linear(128, 10, rngs=rngs)

        def __call__(self, x):
            h = nnx.relu(self.conv(x.reshape(-1, *IMAGE_SHAPE)))
            h = nnx.max_pool(h, (2, 2), strides=(2, 2))
            return self.out(self.dropout(nnx.relu(self.hidden(h.reshape(h.shape[0], -1)))))

    class LSTM(nnx.Module):
        def __init__(self):
            self.rnn = nnx.RNN(nnx.OptimizedLSTMCell(workload.x.shape[-1], LSTM_HIDDEN, rngs=rngs))
            self.out = nnx.Linear(LSTM_HIDDEN, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(self.rnn(x)[:, -1])

    model = MLP(workload.widths) if workload.group == "mlp" else CNN() if workload.group == "cnn" else LSTM()
    model.train()
    return model


def flax_contenders(workload: Workload) -> list[Contender]:
    import flax
    from flax import nnx

    def loss_of(model, x, y):
        return jax_loss(workload, model(x), y)

    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_of)(model, x, y)
        optimizer.update(model, grads)
        return loss

    x, y = jnp.asarray(workload.x), jnp.asarray(workload.y)
    shuffle = jax.jit(shuffled_batches, static_argnames="batch_size")

    # a jitted step per batch; cached_partial caches nnx.jit's graph traversal (performance guide)
    model = flax_model(workload, nnx)
    step = nnx.cached_partial(nnx.jit(train_step, donate_argnums=(0, 1)), model,
                              nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param))
    step_keys = epoch_keys()

    def step_epoch():
        xs, ys = shuffle(x, y, step_keys(), batch_size=workload.batch_size)
        for i in range(xs.shape[0]):
            loss = step(xs[i], ys[i])
        return float(loss)

    # the functional API: one jax.jit of a lax.scan over the epoch
    scanned = flax_model(workload, nnx)
    graphdef, state = nnx.split((scanned, nnx.Optimizer(scanned, optax.adam(LEARNING_RATE), wrt=nnx.Param)))

    @functools.partial(jax.jit, donate_argnums=0)
    def epoch(state, x, y, key):
        def body(state, batch):
            model, optimizer = nnx.merge(graphdef, state)
            loss = train_step(model, optimizer, *batch)
            return nnx.split((model, optimizer))[1], loss

        state, losses = jax.lax.scan(body, state, shuffled_batches(x, y, key, workload.batch_size))
        return state, losses.mean()

    scan_keys = epoch_keys()
    carried = {"state": state}

    def scan_epoch():
        carried["state"], loss = epoch(carried["state"], x, y, scan_keys())
        return float(loss)

    parameters = jax_parameter_count(nnx.state(model, nnx.Param))
    return [Contender(f"Flax NNX {flax.__version__}, jit step", parameters, step_epoch),
            Contender(f"Flax NNX {flax.__version__}, scan epoch", parameters, scan_epoch)]


# --- Equinox --------------------------------------------------------------------------------

def equinox_model(workload: Workload, eqx, key):
    """One example in, one prediction out (vmapped over the batch by the loss)."""
    keys = jax.random.split(key, 3)

    class CNN(eqx.Module):
        conv: eqx.nn.Conv2d
        pool: eqx.nn.MaxPool2d
        hidden: eqx.nn.Linear
        dropout: eqx.nn.Dropout
        out: eqx.nn.Linear

        def __init__(self):
            height, width, channels = IMAGE_SHAPE
            self.conv = eqx.nn.Conv2d(channels, 32, 5, padding="SAME", key=keys[0])
            self.pool = eqx.nn.MaxPool2d(2, 2)
            self.hidden = eqx.nn.Linear(32 * (height // 2) * (width // 2), 128, key=keys[1])
            self.dropout = eqx.nn.Dropout(CNN_DROPOUT)
            self.out = eqx.nn.Linear(128, 10, key=keys[2])

        def __call__(self, x, *, key):   # x: (channels, height, width)
            h = self.pool(jax.nn.relu(self.conv(x)))
            return self.out(self.dropout(jax.nn.relu(self.hidden(h.reshape(-1))), key=key))

    class LSTM(eqx.Module):
        cell: eqx.nn.LSTMCell
        out: eqx.nn.Linear

        def __init__(self):
            self.cell = eqx.nn.LSTMCell(workload.x.shape[-1], LSTM_HIDDEN, key=keys[0])
            self.out = eqx.nn.Linear(LSTM_HIDDEN, 1, key=keys[1])

        def __call__(self, x, *, key=None):   # x: (time, features)
            def step(state, x_t):
                return self.cell(x_t, state), None

            zeros = jnp.zeros(LSTM_HIDDEN, x.dtype)
            (h, _), _ = jax.lax.scan(step, (zeros, zeros), x)
            return self.out(h)

    if workload.group == "mlp":
        widths = workload.widths
        return eqx.nn.MLP(widths[0], widths[-1], widths[1], len(widths) - 2, activation=jax.nn.relu, key=keys[0])
    return CNN() if workload.group == "cnn" else LSTM()


def equinox_contenders(workload: Workload) -> list[Contender]:
    import equinox as eqx

    def loss_of(model, x, y, key):
        if workload.group == "cnn":   # dropout: a key per example
            pred = jax.vmap(lambda xi, ki: model(xi, key=ki))(x, jax.random.split(key, x.shape[0]))
        else:
            pred = jax.vmap(model)(x)
        return jax_loss(workload, pred, y)

    optimizer = optax.adam(LEARNING_RATE)

    def train_step(model, opt_state, x, y, key):
        loss, grads = eqx.filter_value_and_grad(loss_of)(model, x, y, key)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    x = workload.x
    if workload.group == "cnn":
        height, width, channels = IMAGE_SHAPE
        x = x.reshape(-1, height, width, channels).transpose(0, 3, 1, 2)   # stored CHW, Equinox's layout
    x, y = jnp.asarray(x), jnp.asarray(workload.y)
    shuffle = jax.jit(shuffled_batches, static_argnames="batch_size")

    # eqx.filter_jit step per batch
    step = eqx.filter_jit(train_step, donate="all")
    model = equinox_model(workload, eqx, jax.random.key(0))
    carried = {"model": model, "opt_state": optimizer.init(eqx.filter(model, eqx.is_inexact_array))}
    step_keys = epoch_keys()

    def step_epoch():
        key = step_keys()
        xs, ys = shuffle(x, y, key, batch_size=workload.batch_size)
        for i in range(xs.shape[0]):
            carried["model"], carried["opt_state"], loss = step(carried["model"], carried["opt_state"], xs[i], ys[i],
                                                                jax.random.fold_in(key, i))
        return float(loss)

    # one jax.jit of a lax.scan over the epoch, on the partitioned params
    params, static = eqx.partition(equinox_model(workload, eqx, jax.random.key(0)), eqx.is_inexact_array)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def epoch(params, opt_state, x, y, key):
        def body(carry, batch):
            params, opt_state, i = carry
            model, opt_state, loss = train_step(eqx.combine(params, static), opt_state, *batch,
                                                jax.random.fold_in(key, i))
            return (eqx.filter(model, eqx.is_inexact_array), opt_state, i + 1), loss

        (params, opt_state, _), losses = jax.lax.scan(body, (params, opt_state, 0),
                                                      shuffled_batches(x, y, key, workload.batch_size))
        return params, opt_state, losses.mean()

    scanned = {"params": params, "opt_state": optimizer.init(params)}
    scan_keys = epoch_keys()

    def scan_epoch():
        scanned["params"], scanned["opt_state"], loss = epoch(scanned["params"], scanned["opt_state"], x, y,
                                                              scan_keys())
        return float(loss)

    parameters = jax_parameter_count(params)
    return [Contender(f"Equinox {eqx.__version__}, filter_jit step", parameters, step_epoch),
            Contender(f"Equinox {eqx.__version__}, scan epoch", parameters, scan_epoch)]


# --- measurement ----------------------------------------------------------------------------

PEERS = {  # name (--peers) -> (module that must be importable, contenders of a workload)
    "torch": ("torch", torch_contenders),
    "keras": ("keras", keras_contenders),
    "flax": ("flax", flax_contenders),
    "equinox": ("equinox", equinox_contenders),
}


def installed(peers) -> list[str]:
    """The peers whose module imports; prints a note for each one skipped."""
    found = []
    for name in peers:
        module = PEERS[name][0]
        if importlib.util.find_spec(module) is None:
            print(f"skipping {name}: {module} is not installed (pip install -e \".[bench]\")")
        else:
            found.append(name)
    return found


def seconds_of(epoch: Callable[[], object]) -> Callable[[], float]:
    def seconds() -> float:
        start = time.perf_counter()
        epoch()
        return time.perf_counter() - start

    return seconds


def contenders(workload: Workload, peers) -> list[Contender]:
    found = [jaxnn_contender(workload)]
    for name in peers:
        try:
            found += PEERS[name][1](workload)
        except ImportError as error:
            print(f"skipping {name}: {error}")
    return found


def measure(workload: Workload, peers, rounds: int, warmup: int = WARMUP_EPOCHS) -> dict:
    """Per contender: parameters, samples/s per round, and the paired jaxnn speed ratios."""
    entries = contenders(workload, peers)
    for entry in entries:
        for _ in range(warmup):
            entry.epoch()
    times = interleaved_rounds({entry.name: seconds_of(entry.epoch) for entry in entries}, rounds)
    samples = workload.x.shape[0]
    return {"workload": workload.name, "samples": samples, "results": [
        {"name": entry.name, "parameters": entry.parameters,
         "samples_per_s": [samples / t for t in times[entry.name]],
         "jaxnn_speed": paired_ratios(times[entry.name], times[JAXNN])} for entry in entries]}


def spread(values: list[float]) -> tuple[float, float]:
    """The quartiles; the range when there are too few rounds to estimate them."""
    return quartiles(values) if len(values) >= 4 else (min(values), max(values))


def throughput_cell(values: list[float]) -> str:
    q1, q3 = spread(values)
    return f"{statistics.median(values):,.0f} ({q1:,.0f}-{q3:,.0f})"


def ratio_cell(values: list[float]) -> str:
    q1, q3 = spread(values)
    return f"{statistics.median(values):.2f}x ({q1:.2f}-{q3:.2f})"


def workload_table(row: dict) -> str:
    return markdown_table(
        ["library", "parameters", "samples/s (quartiles)", "jaxnn speed vs it (quartiles)"],
        [[r["name"], f"{r['parameters']:,}", throughput_cell(r["samples_per_s"]),
          "-" if r["name"] == JAXNN else ratio_cell(r["jaxnn_speed"])] for r in row["results"]])


def summary_table(rows: list[dict]) -> str:
    """jaxnn's median paired speed against every peer (columns), one row per workload."""
    peers = list(dict.fromkeys(r["name"] for row in rows for r in row["results"] if r["name"] != JAXNN))
    cells = [{r["name"]: f"{statistics.median(r['jaxnn_speed']):.2f}x" for r in row["results"]} for row in rows]
    return markdown_table(["jaxnn speed vs"] + peers,
                          [[row["workload"]] + [cell.get(peer, "") for peer in peers] for row, cell in zip(rows, cells)])


def main(rounds: int = 15, quick: bool = False, only=WORKLOAD_GROUPS, peers=tuple(PEERS),
         torch_threads: int | None = None) -> list[dict]:
    peers = installed(peers)
    if "torch" in peers:
        import torch

        torch.set_num_threads(torch_threads or os.cpu_count() or 1)
    print(header(rounds))
    warmup = 1 if quick else WARMUP_EPOCHS
    print(f"one epoch per timing, {warmup} epoch(s) of warm-up; {os.cpu_count()} CPU cores; "
          f"peers: {', '.join(peers) or 'none installed'}\n")
    rows = []
    for workload in workloads(quick, only):
        row = measure(workload, peers, rounds, warmup)
        print(f"### {workload.name} ({row['samples']:,} examples per epoch)\n\n{workload_table(row)}\n", flush=True)
        rows.append(row)
    if peers and len(rows) > 1:
        print(f"### summary: jaxnn speed vs each peer (median of peer time / jaxnn time per round)\n\n"
              f"{summary_table(rows)}")
    return rows


def comma_list(choices):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = set(names) - set(choices)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {sorted(unknown)}; choose from {', '.join(choices)}")
        return names

    return parse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 15; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a few hundred examples per workload, 2 rounds")
    parser.add_argument("--only", type=comma_list(WORKLOAD_GROUPS), default=WORKLOAD_GROUPS,
                        help="workloads, comma-separated (default mlp,cnn,lstm)")
    parser.add_argument("--peers", type=comma_list(tuple(PEERS)), default=tuple(PEERS),
                        help="peer libraries, comma-separated (default all installed)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads (default: the machine's CPU cores)")
    args = parser.parse_args()
    main(args.rounds or (2 if args.quick else 15), args.quick, args.only, args.peers, args.torch_threads)
