"""Data parallelism with JAX's own sharding: the mesh `fit`, `evaluate` and `predict` take,
where the data and the parameters live on it, and the collectives XLA compiled.

The model is single-program, multiple-data through ``jax.jit``'s SPMD partitioner (GSPMD):
the program is written for the global batch, and the shardings of its inputs and a few
``with_sharding_constraint`` s tell the partitioner how to split it.  Nothing here is a
Python loop over devices or a ``pmap``.

* **The mesh.** A ``jax.sharding.Mesh`` with an axis named ``"data"`` (`DATA_AXIS`); its
  other axes, if any, hold replicas.  ``mesh=N`` is a 1-D ``("data",)`` mesh over the first
  ``N`` of ``jax.devices()``, ``mesh=[d0, d1, ...]`` one over those devices (`data_mesh`).
* **Batches are sharded, parameters replicated.** Every mini-batch is split along its
  first axis over the ``"data"`` axis (`shard_rows`): each device computes the loss and the
  gradient of ``batch_size / N`` examples.  Parameters and optimizer state are replicated
  (`replicated`): every device applies the same update.  The loss is a *mean* over the
  global batch, so its gradient is a sum over devices of their partial sums: GSPMD inserts
  one all-reduce of the gradients (and the loss value) per step, inside the compiled
  ``lax.scan``.  ``batch_size`` is the global batch, a multiple of ``N`` (`check_global_batch`).
* **Same result as one device.** The order of an epoch is a pure function of
  ``(epoch key, n)`` computed identically on every device, and each device takes its rows
  of the same global batch, so the batches, and the updates up to float round-off (the
  partial sums are added in another order), are those of a one-device run.  Dropout masks
  are too: with ``jax_threefry_partitionable`` (JAX's default since 0.5) random bits drawn
  for a sharded shape are the bits of the unsharded draw, each device computing its slice.
* **Where the dataset lives** (`place_dataset`): replicated on every device; each device
  lays out its own rows of the epoch's batches (`per_device_rows`: the same permutation
  everywhere, a scatter of only this device's examples once per epoch) and each step
  reads them; no communication for the data, memory ``N x`` the dataset.  The
  alternative, the dataset sharded over the devices (memory ``1 x``), compiles to an
  all-gather of the whole dataset once an epoch (any device's rows may land in any
  device's batches), so the memory saving is lost while the epoch runs;
  benchmarks/bench_data_parallel.py measures both.  The compiled epoch takes either (its
  inputs' shardings decide); `fit` replicates.

* **Optional: the optimizer state split over the devices** (``shard_optimizer=True``,
  ZeRO stage 1, Rajbhandari et al. 2020; `optimizer_sharding`): each device keeps and
  updates the slice of the optimizer state and params along their first axis (the
  leaves whose first axis divides by ``N``; scalars and odd sizes stay whole), and the
  params are gathered at the start of every step.  The same updates; 1/N of the
  optimizer state per device; no device repeats the whole update (8 CPU devices sharing
  2 cores: 1.39x one device's epoch time instead of 1.8-1.95x,
  benchmarks/bench_data_parallel.py).

`collectives` counts the collective operations of a compiled program's HLO, inside and
outside its loops: how the tests and the benchmark check that the gradient all-reduce sits
in the loop and that nothing gathers the dataset.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
COLLECTIVES = ("all-reduce", "all-gather", "all-to-all", "collective-permute", "reduce-scatter")


# --- the mesh -----------------------------------------------------------------------------

def data_mesh(mesh, what: str = "fit") -> Mesh | None:
    """The mesh that ``mesh=`` names: ``None`` (one device, no sharding), a ``Mesh`` with a
    ``"data"`` axis, an int ``N`` (a ``("data",)`` mesh over the first ``N`` of
    ``jax.devices()``) or a sequence of distinct devices (a ``("data",)`` mesh over them).
    A ValueError names the sizes and the fix otherwise."""
    if mesh is None or isinstance(mesh, Mesh):
        if mesh is not None and DATA_AXIS not in mesh.axis_names:
            raise ValueError(f"{what}: the mesh's axes are {tuple(mesh.axis_names)} (sizes {dict(mesh.shape)}) but "
                             f"data parallelism shards the batch along an axis named {DATA_AXIS!r}; build it as "
                             f"Mesh(devices, ({DATA_AXIS!r},)) or pass mesh=N for the first N devices")
        return mesh
    if isinstance(mesh, (int, np.integer)) and not isinstance(mesh, bool):
        available = jax.devices()
        if not 1 <= mesh <= len(available):
            raise ValueError(f"{what}: {mesh} devices asked for, but JAX sees {len(available)} "
                             f"({available[0].platform}); ask for 1..{len(available)}, or, to try data "
                             f"parallelism on a CPU, set XLA_FLAGS=--xla_force_host_platform_device_count={max(mesh, 2)} "
                             f"before jax is imported")
        return Mesh(np.array(available[:mesh]), (DATA_AXIS,))
    if isinstance(mesh, Sequence) and not isinstance(mesh, str) and all(isinstance(d, jax.Device) for d in mesh):
        if not mesh or len(set(mesh)) != len(mesh):
            raise ValueError(f"{what}: mesh= needs one or more distinct devices, got {len(mesh)} devices "
                             f"({len(set(mesh))} distinct)")
        return Mesh(np.array(list(mesh)), (DATA_AXIS,))
    raise ValueError(f"{what}: mesh must be None, a jax.sharding.Mesh with a {DATA_AXIS!r} axis, a number of "
                     f"devices or a sequence of devices; got {type(mesh).__name__}")


def data_size(mesh: Mesh | None) -> int:
    """``N``, the number of devices along the ``"data"`` axis (1 without a mesh)."""
    return 1 if mesh is None else int(mesh.shape[DATA_AXIS])


def describe(mesh: Mesh | None) -> str:
    """``"8 devices (cpu)"``: for messages and reports."""
    if mesh is None:
        return "1 device (no mesh)"
    devices = mesh.devices.flat
    return f"{data_size(mesh)} device{'s' * (data_size(mesh) > 1)} ({next(iter(devices)).platform})"


def check_global_batch(batch_size: int, n: int, mesh: Mesh | None, what: str = "fit") -> None:
    """ValueError unless the global ``batch_size`` divides by the ``"data"`` axis' ``N`` and
    ``n`` examples make at least one global batch; both messages name the sizes and the fix."""
    size = data_size(mesh)
    if batch_size % size:
        lower, upper = batch_size - batch_size % size, batch_size - batch_size % size + size
        raise ValueError(f"{what}: batch_size={batch_size} is the global batch and must divide by the {size} devices "
                         f"of the mesh's {DATA_AXIS!r} axis ({batch_size} % {size} = {batch_size % size}); use a "
                         f"multiple of {size} such as {upper if lower == 0 else f'{lower} or {upper}'}")
    if n < batch_size:
        fits = n - n % size
        raise ValueError(f"{what}: the {n} training examples are fewer than one global batch of {batch_size} "
                         f"({size} devices x {batch_size // size} per device); "
                         + (f"lower batch_size to a multiple of {size} at most {n} (e.g. {fits}), or use fewer devices"
                            if fits else f"use at most {n} devices, or more data"))


# --- shardings and placement ------------------------------------------------------------------

def replicated(mesh: Mesh) -> NamedSharding:
    """The same full array on every device of ``mesh`` (params, optimizer state, scalars)."""
    return NamedSharding(mesh, PartitionSpec())


def rows_sharded(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """Axis ``axis`` (the examples) split over the ``"data"`` axis, the rest whole."""
    return NamedSharding(mesh, PartitionSpec(*(None,) * axis, DATA_AXIS))


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """``tree`` placed whole on every device of ``mesh`` (``tree`` itself without a mesh;
    leaves already placed so are returned as they are)."""
    return tree if mesh is None else jax.device_put(tree, replicated(mesh))


def place_dataset(tree: Any, mesh: Mesh | None) -> Any:
    """Where `fit` keeps the training (and validation) arrays: replicated, so that each
    device lays out its rows of every global batch of the epoch locally (see the module
    docstring).
    Across processes each holding a shard, ``jax.make_array_from_process_local_data``
    builds the global array instead; the compiled epoch accepts either sharding."""
    return replicate(tree, mesh)


def shard_rows(tree: Any, mesh: Mesh | None, axis: int = 0) -> Any:
    """Inside a jitted function: constrain every leaf's axis ``axis`` to be split over the
    ``"data"`` axis (identity without a mesh)."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, rows_sharded(mesh, axis))


def keep_replicated(tree: Any, mesh: Mesh | None) -> Any:
    """Inside a jitted function: constrain ``tree`` to be replicated (identity without a mesh)."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, replicated(mesh))


def optimizer_sharding(mesh: Mesh, leaf) -> NamedSharding:
    """Where ``shard_optimizer`` keeps one leaf of the optimizer state (and computes the
    update of the matching params): its first axis split over the ``"data"`` axis when that
    axis divides by the device count, else whole on every device (scalars, odd sizes)."""
    shape = jax.numpy.shape(leaf)
    if shape and shape[0] % data_size(mesh) == 0:
        return NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return replicated(mesh)


def _optimizer_shardings(tree: Any, mesh: Mesh) -> Any:
    return jax.tree_util.tree_map(lambda leaf: optimizer_sharding(mesh, leaf), tree)


def split_for_update(tree: Any, mesh: Mesh) -> Any:
    """Inside a jitted function: constrain every leaf to its `optimizer_sharding`."""
    return jax.lax.with_sharding_constraint(tree, _optimizer_shardings(tree, mesh))


def place_optimizer_state(tree: Any, mesh: Mesh) -> Any:
    """``tree`` placed leaf by leaf by `optimizer_sharding` (a leaf already so is unchanged)."""
    return jax.device_put(tree, _optimizer_shardings(tree, mesh))


def per_device_rows(fn, mesh: Mesh, *replicated: Any) -> Any:
    """``fn(part, parts, *replicated)`` on every device of the mesh's ``"data"`` axis (its
    index ``part`` of ``parts``), its results joined along their axis 1 into global arrays
    split over ``"data"``: each device computes only its own rows (``jax.shard_map``).  The
    inputs are replicated (an input split over the devices is gathered first)."""
    parts = data_size(mesh)

    def local(*args):
        return fn(jax.lax.axis_index(DATA_AXIS), parts, *args)

    return _shard_map(local, mesh=mesh, in_specs=PartitionSpec(), out_specs=PartitionSpec(None, DATA_AXIS))(
        *replicated)


def _shard_map(fn, **specs):
    """``jax.shard_map``, or in older JAX releases ``jax.experimental.shard_map.shard_map``."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(fn, **specs)
    from jax.experimental.shard_map import shard_map
    return shard_map(fn, **specs)


def data_parallel_step(step, mesh: Mesh | None, shard_optimizer: bool = False):
    """``step(params, opt_state, x, y, key) -> (params, opt_state, loss)`` with its batch
    ``x, y`` split over the mesh's ``"data"`` axis and the params it returns kept replicated
    (``step`` itself without a mesh).  The gradient of the mean loss over the split batch
    then needs the partial sums of every device: GSPMD adds the all-reduce.  The key is
    replicated: each device draws its slice of the dropout masks.  The optimizer state is
    kept replicated too.  With ``shard_optimizer`` (ZeRO stage 1, Rajbhandari et al. 2020)
    the optimizer state and, between steps, the params are split by `optimizer_sharding`:
    the ``step`` updates only its slices (`split_for_update`), and the params are gathered
    once, at the start of the next step (one all-gather per split leaf)."""
    if mesh is None:
        return step

    def sharded(params, opt_state, x, y, key):
        if shard_optimizer:  # the params come split from the last update: gathered once, here
            params = keep_replicated(params, mesh)
        params, opt_state, value = step(params, opt_state, *shard_rows((x, y), mesh), key)
        if shard_optimizer:
            return split_for_update(params, mesh), split_for_update(opt_state, mesh), value
        return keep_replicated(params, mesh), keep_replicated(opt_state, mesh), value

    return sharded


# --- across processes (jax.distributed) --------------------------------------------------------

PROCESS_SHARD_FIX = ("give every process the same number of examples: with n examples and P processes, "
                     "process r passes rows r*m .. (r+1)*m - 1 where m = n // P (the last n % P dropped)")


def process_mesh(mesh: Mesh | None, what: str = "fit") -> Mesh:
    """Under several processes: ``mesh``, or a ``("data",)`` mesh over all of
    ``jax.devices()`` (every process's) when it is None.  A ValueError if ``mesh`` leaves
    out a process: each process feeds its shard through its own devices."""
    if mesh is None:
        return Mesh(np.array(jax.devices()), (DATA_AXIS,))
    covered = {device.process_index for device in mesh.devices.flat}
    missing = sorted(set(range(jax.process_count())) - covered)
    if missing:
        raise ValueError(f"{what}: the mesh holds devices of processes {sorted(covered)} but not of {missing}; under "
                         f"{jax.process_count()} processes it must span every process (mesh=None: all of "
                         f"jax.devices())")
    return mesh


_MAX_RANK, _DTYPE_CHARS = 8, 8


def _layouts_by_process(named: dict[str, Any]) -> list[list[tuple[tuple[int, ...], np.dtype]]]:
    """``layouts[process][i]``: the shape and dtype of each process's ``i``-th array of
    ``named`` (as ``jnp.asarray`` would make it), gathered from every process."""
    local = np.full((len(named), 1 + _MAX_RANK + _DTYPE_CHARS), -1, np.int32)
    for row, value in enumerate(named.values()):
        shape, dtype = np.shape(value)[:_MAX_RANK], np.asarray(value).dtype
        code = (jax.dtypes.canonicalize_dtype(dtype) if dtype.kind in "biufc" else dtype).str.encode()[:_DTYPE_CHARS]
        local[row, 0], local[row, 1:1 + len(shape)] = len(np.shape(value)), shape
        local[row, 1 + _MAX_RANK:1 + _MAX_RANK + len(code)] = list(code)
    gathered = np.asarray(multihost_utils.process_allgather(local))
    return [[(tuple(int(d) for d in row[1:1 + row[0]]),
              np.dtype(bytes(int(c) for c in row[1 + _MAX_RANK:] if c >= 0).decode())) for row in process]
            for process in gathered]


def check_process_shards(named: dict[str, Any], what: str = "fit") -> None:
    """ValueError unless every process passes numeric arrays of one shape and dtype
    (``named``: name -> this process's shard); the message gives each process's and the fix.
    Every process raises the same error: one process stopping alone would leave the others
    waiting in a collective."""
    layouts = _layouts_by_process(named)
    for column, name in enumerate(named):
        shapes = [process[column][0] for process in layouts]
        dtypes = [process[column][1] for process in layouts]
        listed = ", ".join(f"process {rank}: {shape}" for rank, shape in enumerate(shapes))
        if len(set(shapes)) > 1:
            raise ValueError(f"{what}: under {len(shapes)} processes each passes its own shard of the data, of one "
                             f"shape on every process; {name}'s shapes differ ({listed}); {PROCESS_SHARD_FIX}")
        if any(dtype.kind not in "biufc" for dtype in dtypes) or len(set(dtypes)) > 1:
            listed = ", ".join(f"process {rank}: {dtype}" for rank, dtype in enumerate(dtypes))
            raise ValueError(f"{what}: {name} must be a numeric array of one dtype on every process, got {listed}; "
                             f"convert it to numbers of one dtype (class names to integer labels 0..C-1)")


def gather_process_shards(tree: Any, mesh: Mesh) -> Any:
    """The global dataset from each process's shard: every leaf becomes the concatenation of
    the processes' leaves in process order (rank 0's rows first), replicated over ``mesh``.

    ``jax.make_array_from_process_local_data`` builds the global array (each process's rows
    on its own devices), and one reshard, an all-gather, replicates it, once per `fit`; from
    there the epoch runs as in one process (see `place_dataset`)."""
    devices = np.array(sorted(jax.devices(), key=lambda d: (d.process_index, d.id)))
    by_process = NamedSharding(Mesh(devices.reshape(jax.process_count(), -1), ("processes", "local")),
                               PartitionSpec("processes"))

    def gather(local):
        local = np.asarray(local)
        local = local.astype(jax.dtypes.canonicalize_dtype(local.dtype), copy=False)  # float32 unless x64
        return jax.device_put(jax.make_array_from_process_local_data(by_process, local), replicated(mesh))

    return jax.tree.map(gather, tree)


def join_processes(mesh: Mesh | None, data: tuple, params: Any, key, what: str = "fit") -> tuple:
    """What `fit` does first under several processes: ``(mesh, data, params)`` with the mesh
    over all processes (`process_mesh`), ``data = (x, y, validation)``, each this process's
    shard, checked (`check_process_shards`) and gathered into global arrays
    (`gather_process_shards`), and process 0's ``params`` on every process (broadcast, as
    PyTorch's DistributedDataParallel does).  ``key`` must be the same on every process (it
    orders the global batches); a ValueError names the processes whose key differs."""
    mesh = process_mesh(mesh, what)
    x, y, validation = data
    pair = isinstance(validation, (tuple, list)) and len(validation) == 2
    named = {"x": x, "y": y, **({"validation x": validation[0], "validation y": validation[1]} if pair else {})}
    check_process_shards(named, what)
    keys = np.asarray(multihost_utils.process_allgather(jax.random.key_data(key)))
    differ = [rank for rank in range(len(keys)) if not np.array_equal(keys[rank], keys[0])]
    if differ:
        raise ValueError(f"{what}: processes {differ} passed another key than process 0; the key orders the global "
                         f"batches, so pass the same key (and seed) on every process")
    x, y = gather_process_shards((x, y), mesh)
    if pair:
        validation = tuple(gather_process_shards(tuple(validation), mesh))
    return mesh, (x, y, validation), multihost_utils.broadcast_one_to_all(params)


def process_local(tree: Any) -> Any:
    """Each leaf replicated over devices of several processes as this process's copy (an
    array on its first local device, no communication); other leaves as they are."""
    return jax.tree.map(lambda a: a.addressable_data(0) if isinstance(a, jax.Array) and not a.is_fully_addressable
                        else a, tree)


# --- what XLA compiled ------------------------------------------------------------------------

_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_CALLED = re.compile(r"\b(?:body|condition|to_apply|calls|branch_computations)=\{?%?([\w.\-]+(?:,\s*%?[\w.\-]+)*)\}?")
_COLLECTIVE = re.compile(r"\s(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")


def _computations(hlo_text: str) -> dict[str, list[str]]:
    """Each computation of an HLO module's text, by name, as its lines."""
    found, name = {}, None
    for line in hlo_text.splitlines():
        header = _COMPUTATION.match(line)
        if header and not line.startswith(" "):
            name = header.group(1)
            found[name] = []
        elif name is not None:
            found[name].append(line)
    return found


def collectives(hlo_text: str) -> dict[str, dict[str, int]]:
    """Collective operations in a compiled program's HLO text
    (``jax.jit(f).lower(...).compile().as_text()``): ``{"in_loop": {op: count},
    "outside_loop": {op: count}}``, where *in_loop* means in the body or condition of a
    ``while`` (a ``lax.scan``) or in anything those call.  Ops are `COLLECTIVES`
    (asynchronous ``-start``/``-done`` pairs count once)."""
    computations = _computations(hlo_text)
    callees = {name: [callee.strip().lstrip("%") for line in lines for match in _CALLED.finditer(line)
                      for callee in match.group(1).split(",")]
               for name, lines in computations.items()}
    in_loop, stack = set(), [callee.strip().lstrip("%") for lines in computations.values() for line in lines
                             if " while(" in line for callee in re.findall(r"(?:body|condition)=%?([\w.\-]+)", line)]
    while stack:
        name = stack.pop()
        if name in in_loop or name not in computations:
            continue
        in_loop.add(name)
        stack.extend(callees[name])
    counts = {"in_loop": Counter(), "outside_loop": Counter()}
    for name, lines in computations.items():
        where = "in_loop" if name in in_loop else "outside_loop"
        for line in lines:
            counts[where].update(_COLLECTIVE.findall(line))
    return {where: {op: counts[where][op] for op in COLLECTIVES} for where in counts}
