"""jaxnn: neural networks as pure functions over parameter pytrees.

Submodules are imported lazily, so ``import jaxnn`` is cheap and ``jaxnn.optim``
works without importing matplotlib or scikit-learn::

    from jaxnn import layers, models, losses, backprop, optim, train, datasets, checkpoint, graph
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "initializers", "layers", "models", "inspection", "losses", "backprop", "graph",
    "optim", "linear", "train", "evaluation", "callbacks", "ensemble", "shuffle", "heads", "datasets", "metrics",
    "checkpoint", "util", "spec", "launch", "cli",
)
__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"jaxnn.{name}")
    raise AttributeError(f"module 'jaxnn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
