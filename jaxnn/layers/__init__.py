"""Layers: each a `Layer(init, apply, backward)` of pure functions (see `base`)."""
from jaxnn.layers.activation import activation, maxout, prelu
from jaxnn.layers.base import Layer, describe, residual, serial, split_key
from jaxnn.layers.dense import dense
from jaxnn.layers.dropout import dropout
from jaxnn.layers.embedding import embedding, validate_ids
from jaxnn.layers.normalization import layer_norm
from jaxnn.layers.reshape import flatten, reshape

__all__ = ["Layer", "activation", "dense", "describe", "dropout", "embedding", "flatten", "layer_norm",
           "maxout", "prelu", "reshape", "residual", "serial", "split_key", "validate_ids"]
