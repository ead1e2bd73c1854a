"""Layers: each a `Layer(init, apply, backward)` of pure functions (see `base`)."""
from jaxnn.layers.activation import activation, maxout, prelu
from jaxnn.layers.base import Layer, describe, residual, serial, split_key
from jaxnn.layers.conv import conv1d, conv2d
from jaxnn.layers.dense import dense
from jaxnn.layers.dropout import dropout
from jaxnn.layers.embedding import embedding, validate_ids
from jaxnn.layers.normalization import layer_norm
from jaxnn.layers.pool import avg_pool, global_avg_pool, max_pool
from jaxnn.layers.reshape import flatten, reshape

__all__ = ["Layer", "activation", "avg_pool", "conv1d", "conv2d", "dense", "describe", "dropout", "embedding", "flatten", "global_avg_pool", "layer_norm", "max_pool",
           "maxout", "prelu", "reshape", "residual", "serial", "split_key", "validate_ids"]
