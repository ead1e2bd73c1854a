"""Layers: each a `Layer(init, apply, backward)` of pure functions (see `base`)."""
from jaxnn.layers.base import Layer, describe, serial, split_key

__all__ = ["Layer", "describe", "serial", "split_key"]
