"""Layers: each a `Layer(init, apply, backward)` of pure functions (see `base`)."""
from jaxnn.layers.activation import activation, maxout, prelu
from jaxnn.layers.base import Layer, describe, residual, serial, split_key
from jaxnn.layers.conv import conv1d, conv2d
from jaxnn.layers.dense import dense
from jaxnn.layers.dropout import dropout
from jaxnn.layers.embedding import embedding, validate_ids
from jaxnn.layers.noise import gaussian_noise
from jaxnn.layers.normalization import layer_norm
from jaxnn.layers.pool import avg_pool, global_avg_pool, max_pool
from jaxnn.layers.recurrent import bidirectional, rnn, time_distributed
from jaxnn.layers.reshape import flatten, reshape
from jaxnn.layers.upsample import upsample

__all__ = [
    "Layer", "describe", "serial", "residual", "split_key",
    "dense", "activation", "prelu", "maxout", "dropout", "flatten", "reshape", "layer_norm",
    "embedding", "validate_ids", "gaussian_noise",
    "conv1d", "conv2d", "max_pool", "avg_pool", "global_avg_pool", "upsample",
    "rnn", "bidirectional", "time_distributed",
]
