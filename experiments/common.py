"""What every experiment script shares: arguments, timing, results.json, figures, verdict.

An experiment reads top to bottom: its claim (the docstring's first line), setup, run,
measurement, figure, verdict.  This module holds the plumbing around that::

    run = common.start(__file__, __doc__)        # --quick, --out, --seed; makes run.out
    params, seconds = common.timed(train.fit, ...)
    fig, ax = common.figure("title", "x (unit)", "y (unit)")
    ...
    common.save_figure(fig, run.out / "curve.png")
    return common.finish(run, results, "the summary", reproduced=...)  # the exit status

``finish`` writes ``<out>/results.json`` and prints the summary line ``<name>: ...`` that
``run_all.py`` puts in the report; the status is 1 when the claim is not reproduced in a
full run.  ``--quick`` runs a smaller version that checks the script end to end: its
numbers are not judged against the claim's thresholds (status 0 unless it crashes).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax


class Run(NamedTuple):
    name: str           # the script's stem, e.g. "cnn_digits"
    out: Path           # where results.json and the figures go
    quick: bool         # the small end-to-end check; the claim is not judged
    seed: int           # every key and generator of the script derives from it
    started: float      # time.perf_counter() at start


def start(script: str, doc: str, argv: list[str] | None = None) -> Run:
    """Parse ``--quick``, ``--out`` (default ``runs/<name>``) and ``--seed`` (default 0), make the
    output folder and print the versions; ``script`` is the caller's ``__file__``."""
    name = Path(script).stem
    parser = argparse.ArgumentParser(prog=f"python experiments/{name}.py", description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a small, fast run that checks the script end to end (the claim is not judged)")
    parser.add_argument("--out", type=Path, default=Path("runs") / name,
                        help=f"folder for results.json and the figures (default: runs/{name})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every key and generator (default 0)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; seed {args.seed}"
          f"{'; --quick: a smaller run, the claim is not judged' if args.quick else ''}\n")
    return Run(name, args.out, args.quick, args.seed, time.perf_counter())


def timed(fn: Callable, *args, **kwargs) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), wall seconds)``."""
    begin = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - begin


def _plain(value):
    """JSON for numpy and JAX numbers and arrays."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def write_results(path: Path, results: dict) -> Path:
    path.write_text(json.dumps(results, indent=2, default=_plain))
    return path


# --- figures: one style for all -------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def figure(title: str, xlabel: str, ylabel: str, *, xscale: str = "linear", yscale: str = "linear",
           size: tuple[float, float] = (6.0, 4.0)):
    """A figure with one axes titled and labelled: give the units in the labels, e.g.
    ``"test MSE (log scale)"``, ``"epoch"``.  A log axis labels its decades only.
    Returns ``(fig, ax)``."""
    plt = _pyplot()
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=size)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xscale=xscale, yscale=yscale)
    for axis, scale in ((ax.xaxis, xscale), (ax.yaxis, yscale)):
        if scale == "log":
            axis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)
    return fig, ax


def image_grid(rows: dict[str, Any], title: str, image_shape: tuple[int, int]):
    """A figure of grey images, one row per ``rows`` entry (row label -> images, equally many
    per row, pixel values in [0, 1]).  Returns ``fig``."""
    plt = _pyplot()
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.8, len(rows) * 0.9 + 0.4), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(images[c].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def save_figure(fig, path: Path) -> Path:
    """Add a legend to every axes with labelled artists and none yet, lay out, write a 120 dpi
    PNG, close."""
    for ax in fig.axes:
        if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    print(f"   -> {path}")
    return path


# --- verdict ---------------------------------------------------------------------------------

def finish(run: Run, results: dict, summary: str, reproduced: bool) -> int:
    """Write ``results.json`` (with the verdict), print the summary line ``<name>: <summary>``
    and return the exit status: 1 when a full run does not reproduce the claim, else 0."""
    seconds = time.perf_counter() - run.started
    if run.quick:
        verdict = "--quick run: claim not judged"
    else:
        verdict = "claim reproduced" if reproduced else "claim NOT reproduced"
    write_results(run.out / "results.json", {**results, "reproduced": reproduced, "quick": run.quick,
                                             "seed": run.seed, "seconds": seconds})
    print(f"\n{run.name}: {summary}; {seconds:.1f} s in all ({verdict})")
    return 0 if run.quick or reproduced else 1
