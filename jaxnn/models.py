"""Model builders and inspection.

Builders (each returns a `Layer`, usually a `serial`, so everything that takes a layer
takes a model, and its params are a plain pytree), after KAUST Academy's architectures ("MLP", "CNN", "RNN", "Autoencoders"):

* `mlp`: fully connected network for tabular data;
* `cnn`: conv-activation-pool blocks then a dense head, for images;
* `rnn_classifier`, `rnn_regressor`: (stacked) recurrent layers then a dense head, for sequences;
* `autoencoder`, `conv_autoencoder`: encoder and mirrored decoder, with `encode`, `decode`,
  a denoising mode (``noise_std``), and `anomaly_scores` / `anomaly_threshold` for anomaly
  detection by reconstruction error.

Inspection (`count_params`, `mlp_param_count`, `output_shape`, `summary`) lives in
`jaxnn.inspection` and is re-exported here.
"""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxnn import activations, initializers
from jaxnn.inspection import count_params, mlp_param_count, output_shape, summary  # noqa: F401  (re-exported)
from jaxnn.layers import (Layer, avg_pool, conv2d, dense, describe, dropout, flatten, gaussian_noise, max_pool,
                          reshape, rnn, serial, upsample)
from jaxnn.layers import activation as activation_layer
from jaxnn.layers import bidirectional as bidirectional_layer
from jaxnn.util import as_int, check_number
from jaxnn.spec import configured

_IDENTITY = ("identity", "linear")
POOLS = {"max": max_pool, "avg": avg_pool}


def default_kernel_init(activation_name: str):
    """The initializer matched to an activation (`activations.KERNEL_INIT`: He for ReLU, Xavier for tanh)."""
    return initializers.get(activations.get(activation_name).kernel_init)


def _positive_ints(values, what: str, allow_empty: bool = False) -> list[int]:
    """``values`` (an int stands for a one-entry list) as a list of positive ints, or ValueError
    naming ``what``; numpy integers are ints."""
    try:
        values = [values] if as_int(values) is not None else list(values)
    except TypeError:
        values = None
    if values is None or (not values and not allow_empty) or any(as_int(v) is None or v < 1 for v in values):
        raise ValueError(f"{what} must be a {'' if allow_empty else 'non-empty '}list of positive ints, "
                         f"got {values!r}")
    return [as_int(v) for v in values]


def _check_rate(rate: float, what: str) -> None:
    check_number(f"{what}: dropout_rate", rate, 0, 1, high_open=True)


def _looks_channels_first(shape: tuple[int, ...]) -> bool:
    """``(C, H, W)`` with few channels first and many last, e.g. (1, 28, 28) or (3, 32, 32)."""
    return len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4) and shape[0] < min(shape[1:])


def _channels_last_hint(shape: tuple[int, ...]) -> str:
    """A hint naming the transposed shape when ``shape`` looks channels-first, else ``""``."""
    if not _looks_channels_first(shape):
        return ""
    c, h, w = shape
    return (f"; images are channels-last (H, W, C): in_shape {shape} looks channels-first (C, H, W), "
            f"use in_shape {(h, w, c)} and x.transpose(0, 2, 3, 1)")


def _output_layers(units: int, output_activation: str, hidden_init) -> list[Layer]:
    """``dense(units)`` and, unless it is the identity, the output activation.

    A linear output layer is Glorot-initialized; one followed by a nonlinearity gets ``hidden_init``.
    """
    linear = output_activation in _IDENTITY
    stack = [dense(units, kernel_init=initializers.glorot_uniform if linear else hidden_init)]
    if not linear:
        stack.append(activation_layer(output_activation))
    return stack


def _dense_stack(widths: Sequence[int], activation: str, dropout_rate: float, init) -> list[Layer]:
    """``dense(w), act, [dropout]`` for each hidden width ``w``."""
    stack = []
    for width in widths:
        stack += [dense(width, kernel_init=init), activation_layer(activation)]
        if dropout_rate:
            stack.append(dropout(dropout_rate))
    return stack


def _expecting(model: Layer, in_shape: tuple[int, ...], what: str, layout: str, also=()) -> Layer:
    """``model`` whose ``init`` first checks ``in_shape`` (or one of ``also``; ValueError naming ``layout``)."""
    accepted = (in_shape, *also)

    @describe(model.name, model.children)
    def init_fn(key, got_shape):
        if tuple(got_shape) not in accepted:
            shapes = " or ".join(f"(N, {', '.join(map(str, shape))})" for shape in accepted)
            raise ValueError(f"{what} was built for inputs {layout} = {shapes}, "
                             f"got in_shape {tuple(got_shape)} (without the batch axis)"
                             f"{_channels_last_hint(tuple(got_shape))}")
        return model.init(key, got_shape)

    return model._replace(init=init_fn)  # keeps the optional forward/backward_from_cache pair


# ----------------------------------------------------------------------------- MLP

@configured
def mlp(sizes: Sequence[int], activation: str = "relu", output_activation: str = "identity", *,
        dropout_rate: float = 0.0, kernel_init=None) -> Layer:
    """Multi-layer perceptron: ``sizes = (hidden_1, ..., hidden_L, output)``.

    ``serial(dense(h_1), act, [dropout], ..., dense(h_L), act, [dropout], dense(output),
    [output_act])``; ``mlp([C])`` has no hidden layer (a linear/logistic regression).
    ``kernel_init=None`` picks `default_kernel_init` for the hidden activation.
    """
    sizes = _positive_ints(sizes, "mlp: sizes (hidden widths..., output)")
    _check_rate(dropout_rate, "mlp")
    init = kernel_init if kernel_init is not None else default_kernel_init(activation)
    return serial(*_dense_stack(sizes[:-1], activation, dropout_rate, init),
                  *_output_layers(sizes[-1], output_activation, init))


# ----------------------------------------------------------------------------- CNN

@configured
def cnn(conv_features: Sequence[int] = (32, 64), n_outputs: int = 10, *,
        image_shape: Sequence[int] | None = None, kernel_size: int | Sequence[int] = 3,
        pool: int | None = 2, pool_type: str = "max", dense_sizes: Sequence[int] = (128,),
        activation: str = "relu", output_activation: str = "identity", dropout_rate: float = 0.0,
        padding: str = "SAME", kernel_init=None) -> Layer:
    """Convolutional network: conv-activation-pool blocks, then a dense head (LeCun et al. 1998).

    ::

        [reshape(image_shape)]                               (N, H*W*C) -> (N, H, W, C)
        for f in conv_features:  conv2d(f, kernel_size, padding), act, [pool]
        flatten                                              (N, H', W', F) -> (N, H' W' F)
        for w in dense_sizes:    dense(w), act, [dropout]
        dense(n_outputs), [output_act]                       -> (N, n_outputs)

    Inputs are NHWC.  ``image_shape=(H, W, C)`` puts a ``reshape`` first, so the model also
    takes flattened images ``(N, H*W*C)`` as `jaxnn.datasets.load` gives them (and ``init``
    takes only those two in_shapes).  A channels-first in_shape such as ``(1, 28, 28)`` is a
    ValueError that names the channels-last one, ``(28, 28, 1)``.
    ``pool``: window and stride of a ``pool_type`` (``"max"`` or ``"avg"``) pooling after each
    conv, ``None`` for none; with ``padding="SAME"`` each block divides H and W by ``pool``
    (rounding down).  The outputs are logits (``output_activation="identity"``): train with
    ``softmax_cross_entropy``.  ``kernel_init=None`` picks `default_kernel_init` for the
    activation (He for ReLU) for the convolutions and hidden dense layers.
    """
    conv_features = _positive_ints(conv_features, "cnn: conv_features", allow_empty=True)
    dense_sizes = _positive_ints(dense_sizes, "cnn: dense_sizes", allow_empty=True)
    (n_outputs,) = _positive_ints(n_outputs, "cnn: n_outputs")
    if pool_type not in POOLS:
        raise ValueError(f"cnn: pool_type must be one of {sorted(POOLS)}, got {pool_type!r}")
    _check_rate(dropout_rate, "cnn")
    if image_shape is not None:
        image_shape = tuple(_positive_ints(image_shape, "cnn: image_shape (H, W, C)"))
        if len(image_shape) != 3:
            raise ValueError(f"cnn: image_shape must be (H, W, C), got {image_shape}")
    init = kernel_init if kernel_init is not None else default_kernel_init(activation)
    stack = [] if image_shape is None else [reshape(image_shape)]
    for features in conv_features:
        stack += [conv2d(features, kernel_size, padding=padding, kernel_init=init), activation_layer(activation)]
        if pool is not None:
            stack.append(POOLS[pool_type](pool))
    stack.append(flatten())
    stack += _dense_stack(dense_sizes, activation, dropout_rate, init)
    model = serial(*stack, *_output_layers(n_outputs, output_activation, init))
    if image_shape is not None:
        return _expecting(model, image_shape, "cnn", "(N, H, W, C) or flattened (N, H*W*C)",
                          also=[(math.prod(image_shape),)])

    @describe(model.name, model.children)
    def init_fn(key, in_shape):
        if _looks_channels_first(in_shape):
            raise ValueError(f"cnn expects images (N, H, W, C){_channels_last_hint(in_shape)}")
        return model.init(key, in_shape)

    return model._replace(init=init_fn)  # keeps the optional forward/backward_from_cache pair


# ----------------------------------------------------------------------------- RNN

def _recurrent_model(what: str, hidden, n_outputs: int, cell: str, dense_sizes, activation: str,
                     output_activation: str, dropout_rate: float, bidirectional: bool,
                     clip_grad_norm: float | None) -> Layer:
    """Stacked ``rnn`` layers (all but the last return sequences), then a dense head."""
    widths = _positive_ints(hidden, f"{what}: hidden")
    dense_sizes = _positive_ints(dense_sizes, f"{what}: dense_sizes", allow_empty=True)
    (n_outputs,) = _positive_ints(n_outputs, f"{what}: n_outputs")
    _check_rate(dropout_rate, what)
    stack = []
    for i, width in enumerate(widths):
        layer = rnn(width, cell=cell, return_sequences=i < len(widths) - 1, clip_grad_norm=clip_grad_norm)
        stack.append(bidirectional_layer(layer) if bidirectional else layer)
        if dropout_rate:
            stack.append(dropout(dropout_rate))
    init = default_kernel_init(activation)
    stack += _dense_stack(dense_sizes, activation, dropout_rate, init)
    return serial(*stack, *_output_layers(n_outputs, output_activation, init))


@configured
def rnn_classifier(hidden: int | Sequence[int], n_classes: int, cell: str = "lstm", *,
                   dense_sizes: Sequence[int] = (), activation: str = "relu", dropout_rate: float = 0.0,
                   bidirectional: bool = False, clip_grad_norm: float | None = None) -> Layer:
    """Sequence classifier: x: (N, T, D) -> logits (N, n_classes).

    ``hidden``: the width ``H`` of one ``rnn`` layer, or a list of widths for a stack in
    which every layer but the last returns its whole sequence ``(N, T, H)`` to the next one;
    the last returns ``h_T``.  ``cell``: ``"tanh"``, ``"lstm"`` or ``"gru"`` (see
    `jaxnn.layers.recurrent.rnn`).  ``bidirectional`` reads each layer both ways and
    concatenates (width ``2H``).  Then ``dense(w), act, [dropout]`` per ``dense_sizes`` and
    ``dense(n_classes)``: logits, to train with ``softmax_cross_entropy``.  ``dropout_rate``
    also drops after each recurrent layer.  ``clip_grad_norm`` is passed to every ``rnn``
    (it changes only the hand-derived backward).
    """
    return _recurrent_model("rnn_classifier", hidden, n_classes, cell, dense_sizes, activation,
                            "identity", dropout_rate, bidirectional, clip_grad_norm)


@configured
def rnn_regressor(hidden: int | Sequence[int], n_outputs: int = 1, cell: str = "lstm", *,
                  dense_sizes: Sequence[int] = (), activation: str = "relu",
                  output_activation: str = "identity", dropout_rate: float = 0.0,
                  bidirectional: bool = False, clip_grad_norm: float | None = None) -> Layer:
    """Sequence regressor: x: (N, T, D) -> y: (N, n_outputs); train with ``mse``.

    The same stack as `rnn_classifier`, ending in ``dense(n_outputs)`` and an
    ``output_activation`` (identity: the lectures' regression head).
    """
    return _recurrent_model("rnn_regressor", hidden, n_outputs, cell, dense_sizes, activation,
                            output_activation, dropout_rate, bidirectional, clip_grad_norm)


# ----------------------------------------------------------------------------- autoencoders

@configured
def autoencoder(encoder_sizes: Sequence[int], activation: str = "relu", *,
                code_activation: str = "identity", output_activation: str = "identity",
                noise_std: float = 0.0, kernel_init=None) -> Layer:  # decoder mirrors the encoder
    """Dense autoencoder (KAUST Academy, "Autoencoders"): ``serial(encoder, decoder)``;
    x: (N, D) -> x_hat: (N, D).

    ``encoder_sizes = (h_1, ..., h_L, code)``, as `mlp`'s sizes: the input width ``D``
    comes from ``init``'s ``in_shape``, and the decoder mirrors the encoder back to it.
    ``autoencoder([32, 2]).init(key, (64,))`` is the encoder 64 -> 32 -> 2 and the decoder
    2 -> 32 -> 64::

        encoder: [gaussian_noise(noise_std)], dense(h_1), act, ..., dense(code), [code_act]
        decoder: dense(h_L), act, ..., dense(h_1), act, dense(D), [output_act]

    The code layer is linear by default (``code_activation="identity"``) and so is the
    output (``output_activation="identity"``, for standardized data; ``"sigmoid"`` for data
    in [0, 1]).  ``autoencoder([k])`` is a linear autoencoder, whose optimum spans the
    top-``k`` principal subspace (Baldi & Hornik 1989).

    Denoising (Vincent et al. 2008): ``noise_std > 0`` adds Gaussian noise to the input in
    training only (a key is needed, as for dropout); train with the clean input as target,
    ``fit(model, params, "mse", opt, x, x, ...)``.

    Params are ``(encoder_params, decoder_params)``; `encode` and `decode` run the halves.
    """
    sizes = _positive_ints(encoder_sizes, "autoencoder: encoder_sizes (hidden widths..., code width)")
    noise_std = check_number("autoencoder: noise_std", noise_std, 0)
    init = kernel_init if kernel_init is not None else default_kernel_init(activation)
    *hidden, code = sizes
    noise = [gaussian_noise(noise_std)] if noise_std else []
    encoder = serial(*noise, *_dense_stack(hidden, activation, 0.0, init),
                     *_output_layers(code, code_activation, init))

    def decoder(width: int) -> Layer:
        return serial(*_dense_stack(hidden[::-1], activation, 0.0, init),
                      *_output_layers(width, output_activation, init))

    def model_for(x_shape) -> Layer:
        if len(x_shape) < 1:
            raise ValueError(f"autoencoder expects inputs (N, D), got in_shape {tuple(x_shape)}")
        return serial(encoder, decoder(x_shape[-1]))

    @describe("serial", (encoder, decoder(1)))  # children: the halves (decode rebuilds the decoder's width)
    def init_fn(key, in_shape):
        return model_for(in_shape).init(key, in_shape)

    init_fn.decoder = decoder
    return Layer(init_fn,
                 lambda params, x, **kwargs: model_for(x.shape[1:]).apply(params, x, **kwargs),
                 lambda params, x, dy, **kwargs: model_for(x.shape[1:]).backward(params, x, dy, **kwargs))


@configured
def conv_autoencoder(image_shape: Sequence[int], features: Sequence[int] = (16, 8), *,
                     kernel_size: int | Sequence[int] = 3, pool: int = 2, activation: str = "relu",
                     output_activation: str = "identity", noise_std: float = 0.0, flat: bool = False,
                     kernel_init=None) -> Layer:
    """Convolutional autoencoder: conv + pool down, upsample + conv up (Masci et al. 2011).

    ``image_shape = (H, W, C)``; ``features = (f_1, ..., f_L)``::

        encoder: [reshape], [gaussian_noise], (conv2d(f_l), act, max_pool(pool)) for l = 1..L
                 (N, H, W, C) -> code (N, H / pool^L, W / pool^L, f_L)
        decoder: (upsample(pool), conv2d(f_l), act) for l = L-1..1,
                 upsample(pool), conv2d(C), [output_act], [reshape]   -> (N, H, W, C)

    Convolutions are ``kernel_size`` with "SAME" padding; upsampling is nearest-neighbour
    followed by a convolution (Odena et al. 2016), see `jaxnn.layers.upsample`.  H and W must
    be divisible by ``pool ** L`` so the decoder restores the exact size.  ``flat=True``:
    inputs and reconstructions are flattened images ``(N, H*W*C)`` (`jaxnn.datasets`'
    layout).  ``noise_std``, params layout and `encode` / `decode`: as `autoencoder`.
    """
    image_shape = tuple(_positive_ints(image_shape, "conv_autoencoder: image_shape (H, W, C)"))
    if len(image_shape) != 3:
        raise ValueError(f"conv_autoencoder: image_shape must be (H, W, C), got {image_shape}")
    features = _positive_ints(features, "conv_autoencoder: features")
    (pool,) = _positive_ints(pool, "conv_autoencoder: pool")
    height, width, channels = image_shape
    shrink = pool ** len(features)
    if height % shrink or width % shrink:
        raise ValueError(f"conv_autoencoder: H={height} and W={width} must be divisible by "
                         f"pool ** len(features) = {shrink} for the decoder to restore the size")
    init = kernel_init if kernel_init is not None else default_kernel_init(activation)
    encoder = [reshape(image_shape)] if flat else []
    encoder += [gaussian_noise(noise_std)] if noise_std else []
    for f in features:
        encoder += [conv2d(f, kernel_size, kernel_init=init), activation_layer(activation), max_pool(pool)]
    decoder = []
    for f in features[-2::-1]:
        decoder += [upsample(pool), conv2d(f, kernel_size, kernel_init=init), activation_layer(activation)]
    decoder += [upsample(pool), conv2d(channels, kernel_size, kernel_init=init if output_activation
                                       not in _IDENTITY else initializers.glorot_uniform)]
    decoder += [] if output_activation in _IDENTITY else [activation_layer(output_activation)]
    decoder += [flatten()] if flat else []
    expected = (height * width * channels,) if flat else image_shape
    return _expecting(serial(serial(*encoder), serial(*decoder)), expected, "conv_autoencoder",
                      "(N, H*W*C)" if flat else "(N, H, W, C)")


def _halves(model: Layer, params, what: str) -> tuple[tuple[Layer, Layer], tuple]:
    """``((encoder, decoder), (encoder_params, decoder_params))`` of an autoencoder."""
    if (model.name != "serial" or len(model.children) != 2 or not isinstance(params, (tuple, list))
            or len(params) != 2):
        raise ValueError(f"{what} expects an autoencoder serial(encoder, decoder) with params "
                         "(encoder_params, decoder_params), as models.autoencoder and "
                         "models.conv_autoencoder build")
    return model.children, tuple(params)


def encode(model: Layer, params, x) -> jax.Array:
    """The code ``z = encoder(x)`` in inference mode (no noise): x: (N, D) -> z: (N, code)."""
    (encoder, _), (encoder_params, _) = _halves(model, params, "encode")
    return encoder.apply(encoder_params, x)


def decode(model: Layer, params, code) -> jax.Array:
    """The reconstruction ``x_hat = decoder(z)``: z: (N, code) -> x_hat: (N, D).

    ``decode(model, params, encode(model, params, x)) == model.apply(params, x)``.
    """
    (_, decoder), (_, decoder_params) = _halves(model, params, "decode")
    if hasattr(model.init, "decoder"):  # a dense autoencoder: its output width is the last bias's/kernel's
        decoder = model.init.decoder(jax.tree_util.tree_leaves(decoder_params)[-1].shape[-1])
    return decoder.apply(decoder_params, code)


def anomaly_scores(model: Layer, params, x) -> jax.Array:
    """Per-example reconstruction error ``s_n = mean_j (x_hat_nj - x_nj)^2``: (N, ...) -> (N,).

    An autoencoder trained on normal data reconstructs normal inputs well and unusual ones
    badly, so a high score flags an anomaly (KAUST Academy, "Autoencoders": anomaly detection; Sakurada & Yairi 2014).  The
    mean runs over all non-batch axes (the features, or H, W, C of images).
    """
    reconstruction = model.apply(params, x)
    if reconstruction.shape != jnp.shape(x):
        raise ValueError(f"anomaly_scores: the model's output {reconstruction.shape} must have the input's "
                         f"shape {jnp.shape(x)} (an autoencoder)")
    squared = (reconstruction - x) ** 2
    return squared.reshape(squared.shape[0], -1).mean(axis=1)


def anomaly_threshold(scores_on_clean, quantile: float = 0.95) -> jax.Array:
    """The ``quantile`` of scores on clean (normal) data: scores above it are flagged.

    By construction about ``1 - quantile`` of clean examples are flagged (the false
    positive rate on data like ``scores_on_clean``).  ``quantile`` in [0, 1].
    """
    if isinstance(quantile, (int, float)) and 1 < quantile <= 100:
        raise ValueError(f"anomaly_threshold: quantile must be in [0, 1], got {quantile}: a fraction, "
                         f"e.g. {quantile / 100:g} for the {quantile:g}th percentile")
    check_number("anomaly_threshold: quantile", quantile, 0, 1)
    scores = jnp.asarray(scores_on_clean)
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise ValueError(f"anomaly_threshold: expected a non-empty vector of scores (N,), got shape {scores.shape}")
    return jnp.quantile(scores, quantile)
