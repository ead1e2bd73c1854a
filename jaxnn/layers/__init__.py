"""Layers: each a `Layer(init, apply, backward)` of pure functions (see `base`)."""
from jaxnn.layers.activation import activation, maxout, prelu
from jaxnn.layers.base import Layer, describe, residual, serial, split_key
from jaxnn.layers.dense import dense
from jaxnn.layers.dropout import dropout

__all__ = ["Layer", "activation", "dense", "describe", "dropout", "maxout", "prelu", "residual",
           "serial", "split_key"]
