"""Configuration specs: what a layer, optimizer, schedule or initializer *is*, as a value.

A `Layer` is a tuple of closures and an optimizer optax's tuple of closures, so they
compare by identity: running ``models.mlp([64, 10])`` or ``optim.adam(1e-3)`` again in a
notebook builds an object that no compile cache has seen.  Each public jaxnn constructor
is therefore decorated with `configured`, which records on what it returns a `Spec`: the
constructor and its bound arguments (defaults filled in), each argument `normalized` to a
key that compares by value (numbers, strings, tuples, other configured objects) or, for a
function, by identity.  The compile caches (`cached`) key on `cache_key`: the spec where
there is one, else the object itself, so a rebuilt model or optimizer with the same
configuration reuses the compiled programs, and anything else (an optax transformation, a
user-written `Layer`) works as before, compiled once per object.

Soundness rests on one rule: equal specs mean identical behaviour, because a cache hit
runs the program traced with the *first* object.  So a spec holds every input the
constructor saw: all its arguments (an argument that cannot be keyed, such as an array or
a traced value, leaves the object without a spec) and whether 64-bit floats were on (the
dtype of any constant it made).  A spec belongs to the object it was recorded on: a
`Layer` rebuilt from another's functions (``Layer(a.init, my_apply, a.backward)``,
``a._replace(...)``) or a function wrapped with ``functools.wraps`` has none.

Equality and hashing of the objects themselves are unchanged (tuples of functions, as optax
and ``jax.jit`` expect); only the cache keys follow the spec.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import jax
import numpy as np

_RECORD = "_jaxnn_spec"  # attribute holding (spec, id of the object it was recorded on)


class Spec:
    """How an object was built: ``constructor(**arguments)`` with 64-bit floats on or off.

    Compares and hashes by value; ``arguments`` is a tuple of ``(name, normalized value)``.
    """

    __slots__ = ("constructor", "arguments", "x64", "_hash")

    def __init__(self, constructor: Callable, arguments: tuple, x64: bool):
        self.constructor, self.arguments, self.x64 = constructor, arguments, x64
        self._hash = hash((constructor, arguments, x64))

    def __eq__(self, other) -> bool:
        return self is other or (isinstance(other, Spec) and self._hash == other._hash
                                 and self.constructor is other.constructor and self.x64 == other.x64
                                 and self.arguments == other.arguments)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        name = f"{self.constructor.__module__}.{self.constructor.__qualname__}"
        return f"{name}({', '.join(f'{k}={_shown(v)}' for k, v in self.arguments)})"


class Unkeyable(TypeError):
    """An argument that cannot be part of a spec (an array, a traced value, an unhashable object)."""


def _number(value) -> tuple:
    # Tagged with the type: 1, 1.0 and True are equal in Python but may not behave alike.
    # Zeros and NaN by repr: -0.0 == 0.0 but may not behave alike, and nan != nan.
    if isinstance(value, complex) or value != value or value == 0:
        return (type(value), repr(value))
    return (type(value), value)


def _shown(key: Any) -> str:
    """A normalized value as the argument it stands for (``1e-3``, ``[64, 10]``), for reading."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], type):
        kind, value = key
        if kind is dict:
            return "{" + ", ".join(f"{_shown(k)}: {_shown(v)}" for k, v in value) + "}"
        if issubclass(kind, (tuple, list)) and isinstance(value, tuple):
            inner = ", ".join(map(_shown, value))
            return f"[{inner}]" if kind is list else f"({inner}{',' if len(value) == 1 else ''})"
        return str(value) if isinstance(value, str) else repr(value)
    return repr(key)


_PLAIN = {str, type(None)}  # fast paths of `normalized` for the commonest arguments
_NUMBERS = {int, float, bool}


def normalized(value: Any) -> Any:
    """``value`` as a hashable key that is equal for arguments that build the same thing.

    A configured object gives its `Spec`; a number ``(type, value)``; a string, None or a
    type itself; a list, tuple or dict its entries normalized; a ``functools.partial`` its
    function and arguments; any other hashable object itself (a function: by identity).
    Raises `Unkeyable` for the rest (arrays, traced values).
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind in _NUMBERS:
        return _number(value)
    spec = spec_of(value)
    if spec is not None:
        return spec
    if value is None or isinstance(value, (str, bytes, type)):
        return value
    if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return _number(value)
    if isinstance(value, (tuple, list)):
        return (_base_type(type(value)), tuple(normalized(v) for v in value))
    if isinstance(value, dict):
        items = value.items()
        if all(isinstance(k, str) for k in value):
            items = sorted(items)
        return (dict, tuple((normalized(k), normalized(v)) for k, v in items))
    if isinstance(value, functools.partial):
        return (functools.partial, normalized(value.func), normalized(value.args), normalized(value.keywords))
    try:
        hash(value)
    except TypeError as error:
        raise Unkeyable(f"{type(value).__name__} cannot be part of a spec") from error
    return value


def spec_of(obj: Any) -> Spec | None:
    """The `Spec` recorded on ``obj`` by a `configured` constructor, else None."""
    try:
        record = vars(obj).get(_RECORD)
    except (AttributeError, TypeError):  # no __dict__: a plain tuple, a number, an array
        return None
    if record is None or record[1] != id(obj):  # a copy or a functools.wraps wrapper: not the object built
        return None
    return record[0]


def cache_key(obj: Any) -> Any:
    """What a compile cache keys ``obj`` on: its `Spec`, else (a NamedTuple such as
    ``train.Objective``) its type and its fields' keys, else ``obj`` itself (identity for
    functions and for tuples of functions: an optax transformation, a user's `Layer`)."""
    spec = spec_of(obj)
    if spec is not None:
        return spec
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        return (_base_type(type(obj)), tuple(cache_key(field) for field in obj))
    return obj


# --- recording a spec -----------------------------------------------------------------------

def _base_type(cls: type) -> type:
    return cls.__dict__.get("_spec_base", cls)


@functools.lru_cache(maxsize=None)
def _carrier(cls: type) -> type:
    """A subclass of the NamedTuple class ``cls`` whose instances can hold a spec (a
    NamedTuple has no ``__dict__``); same name, fields and methods, so an instance is still
    a ``cls`` (a `Layer`, an ``optax.GradientTransformation``) in every respect."""
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, "__doc__": cls.__doc__, "_spec_base": cls})


def with_spec(obj: Any, spec: Spec) -> Any:
    """``obj`` carrying ``spec``: a NamedTuple is copied into its `_carrier` class; a function
    made inside the constructor gets the attribute; anything else is returned without one
    (a module-level function is left alone: it is already the same object every time)."""
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        obj = _carrier(_base_type(type(obj)))(*obj)
    elif "<locals>" not in getattr(obj, "__qualname__", ""):
        return obj
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):  # else no room for a record: the object keys by identity
        attributes[_RECORD] = (spec, id(obj))
    return obj


def configured(constructor: Callable) -> Callable:
    """Decorator for a constructor of layers, optimizers, schedules or initializers: what it
    returns carries ``Spec(constructor, bound arguments, x64)`` (see the module doc).

    The constructor's body is untouched.  If what it returns already carries a spec (it was
    built by another configured constructor, e.g. ``adam`` returns a ``chain``), that one is
    kept.  If an argument is `Unkeyable`, the object gets no spec and is keyed by identity.
    """
    bind = _binder(constructor)

    @functools.wraps(constructor)
    def build(*args, **kwargs):
        built = constructor(*args, **kwargs)
        if spec_of(built) is not None:
            return built
        try:
            arguments = tuple((name, normalized(value)) for name, value in bind(args, kwargs))
        except Unkeyable:
            return built
        return with_spec(built, Spec(constructor, arguments, bool(jax.config.jax_enable_x64)))

    return build


def _binder(constructor: Callable) -> Callable[[tuple, dict], list]:
    """``bind(args, kwargs) -> [(name, value), ...]`` for every parameter of ``constructor``,
    defaults filled in: ``inspect.Signature.bind`` and ``apply_defaults`` without their
    checks (the call has already succeeded), which cost more than the constructor itself."""
    parameters = [(p.name, p.kind, p.default) for p in inspect.signature(constructor).parameters.values()]
    named = {name for name, kind, _ in parameters if kind not in (_VAR_POSITIONAL, _VAR_KEYWORD)}

    def bind(args: tuple, kwargs: dict) -> list:
        bound, i = [], 0
        for name, kind, default in parameters:
            if kind is _VAR_POSITIONAL:
                value, i = args[i:], len(args)
            elif kind is _VAR_KEYWORD:
                value = {k: v for k, v in kwargs.items() if k not in named}
            elif kind is not _KEYWORD_ONLY and i < len(args):
                value, i = args[i], i + 1
            else:
                value = kwargs.get(name, default)
            bound.append((name, value))
        return bound

    return bind


_VAR_POSITIONAL, _VAR_KEYWORD = inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY


# --- caches keyed on specs ------------------------------------------------------------------

class _Keyed:
    """An argument of a `cached` function, hashed and compared by `cache_key`."""

    __slots__ = ("value", "key", "_hash")

    def __init__(self, value: Any):
        self.value, self.key = value, cache_key(value)
        self._hash = hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Keyed) and (self.value is other.value or self.key == other.key)

    def __hash__(self) -> int:
        return self._hash


def cached(maxsize: int | None = 128) -> Callable[[Callable], Callable]:
    """``functools.lru_cache`` keyed on each argument's `cache_key` instead of the argument:
    a call with a rebuilt object of the same spec returns what the first call returned
    (built from the first object).  Keeps ``cache_info`` and ``cache_clear``."""

    def decorate(fn: Callable) -> Callable:
        @functools.lru_cache(maxsize=maxsize)
        def by_key(*keyed: _Keyed, **keyed_by_name: _Keyed):
            return fn(*(k.value for k in keyed), **{name: k.value for name, k in keyed_by_name.items()})

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return by_key(*map(_Keyed, args), **{name: _Keyed(value) for name, value in kwargs.items()})

        call.cache_info, call.cache_clear = by_key.cache_info, by_key.cache_clear
        return call

    return decorate
