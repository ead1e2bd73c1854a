"""What every experiment script shares: arguments, timing, results.json, figures, verdict.

An experiment reads top to bottom: its claim (the docstring's first line), setup, run,
measurement, figure, verdict.  This module holds the plumbing around that::

    run = common.start(__file__, __doc__)        # --quick, --out, --seed; makes run.out
    params, seconds = common.timed(train.fit, ...)
    fig, ax = common.figure("title", "x (unit)", "y (unit)")
    ...
    common.save_figure(fig, run.out / "curve.png")
    checks = [common.check("test accuracy", accuracy, ">=", TARGET_ACCURACY)]
    return common.finish(run, results, "the summary", checks=checks)  # the exit status

The script's docstring: its first line is the claim (course, section, paper), its second
paragraph the setup in two sentences; the report shows both.  ``finish`` writes
``<out>/results.json`` (the claim, the setup, the checks with their thresholds, the
figures, the verdict, the time, the command) and prints the summary line ``<name>: ...``;
the status is 1 when the claim is not reproduced in a full run: every measured check
must pass (a check whose value was not measured, such as a PyTorch comparison without
PyTorch, says so and does not count).  ``--quick`` runs a smaller version that checks the
script end to end: its numbers are not judged (status 0 unless it crashes).

Scripts are in jupytext's percent format (``# %%`` cells): they open as notebooks and run
as plain scripts; `exit_with` ends a script with its status but leaves a notebook kernel
alive.  Every file is written to a temporary name and renamed, so nothing is half-written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax

from jaxnn.util import finite_or_none


# The arguments a script gets when it runs as a notebook (make_notebooks.py sets them).
NOTEBOOK_ARGUMENTS: list[str] = []


class Run(NamedTuple):
    name: str           # the script's stem, e.g. "cnn_digits"
    out: Path           # where results.json and the figures go
    quick: bool         # the small end-to-end check; the claim is not judged
    seed: int           # every key and generator of the script derives from it
    started: float      # time.perf_counter() at start
    doc: str = ""       # the script's docstring: claim (first line), setup (second paragraph)


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
    if argv is None and in_notebook():
        argv = list(NOTEBOOK_ARGUMENTS)  # a kernel's own arguments are not the script's
    args = parser.parse_args(argv)  # a --seed that is not an int: argparse names it and exits with 2
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {str(args.out)!r} is an existing file; give a folder for results.json and the figures")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; seed {args.seed}"
          f"{'; --quick: a smaller run, the claim is not judged' if args.quick else ''}\n")
    return Run(name, args.out, args.quick, args.seed, time.perf_counter(), doc)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (the script opened as a notebook)."""
    return "ipykernel" in sys.modules


def exit_with(status: int) -> None:
    """End a script with ``status`` (``run_all`` reads it); in a notebook, only report it."""
    if in_notebook():
        print(f"exit status {status}")
    else:
        raise SystemExit(status)


def timed(fn: Callable, *args, **kwargs) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), wall seconds)``."""
    begin = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - begin


def _plain(value):
    """JSON for numpy and JAX numbers and arrays."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_results(path: Path, results: dict) -> Path:
    """Strict JSON (NaN and inf become null), written to a temporary file and renamed."""
    text = json.dumps(finite_or_none(results), indent=2, default=_plain, allow_nan=False)
    temporary = _temporary(path)
    temporary.write_text(text)
    os.replace(temporary, path)
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
    if in_notebook():  # executed as a notebook: show the figure in the cell's output too
        from IPython.display import display

        display(fig)
    temporary = _temporary(path)
    fig.savefig(temporary, dpi=120, format=path.suffix.lstrip(".") or "png")
    os.replace(temporary, path)
    _pyplot().close(fig)
    print(f"   -> {path}")
    return path


# --- verdict ---------------------------------------------------------------------------------

class Check(NamedTuple):
    """One measured number against the claim's threshold, as the report shows it."""
    name: str                 # what was measured, with its unit
    value: float | None       # None: not measured here (e.g. PyTorch not installed)
    target: str               # e.g. ">= 0.97"
    passed: bool | None       # None when not measured


_COMPARE = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
            "<": lambda a, b: a < b, "==": lambda a, b: a == b}


def check(name: str, value, op: str, threshold) -> Check:
    """``Check(name, value, "op threshold", value op threshold)``; ``value=None`` is not measured."""
    if value is None:
        return Check(name, None, f"{op} {threshold:g}", None)
    value = float(value)
    return Check(name, value, f"{op} {threshold:g}", bool(_COMPARE[op](value, threshold)))


def claim_and_setup(doc: str) -> tuple[str, str]:
    """The docstring's first line (the claim) and second paragraph (the setup), unwrapped."""
    paragraphs = [" ".join(p.replace("``", "").split()) for p in (doc or "").strip().split("\n\n")]
    claim, setup = (paragraphs + ["", ""])[:2]
    return claim, setup.removeprefix("Setup:").strip()


def finish(run: Run, results: dict, summary: str, reproduced: bool | None = None,
           checks: list[Check] = ()) -> int:
    """Write ``results.json`` (claim, setup, checks, figures, verdict, time, command), print the
    summary line ``<name>: <summary>`` and return the exit status: 1 when a full run does not
    reproduce the claim, else 0.  ``reproduced`` defaults to: every measured check passed."""
    seconds = time.perf_counter() - run.started
    measured = [c for c in checks if c.passed is not None]
    if reproduced is None:
        reproduced = bool(measured) and all(c.passed for c in measured)
    if run.quick:
        verdict = "--quick run: claim not judged"
    else:
        verdict = "claim reproduced" if reproduced else "claim NOT reproduced"
    claim, setup = claim_and_setup(run.doc)
    figures = sorted(p.name for p in run.out.glob("*.png"))
    write_results(run.out / "results.json", {
        **results, "claim": claim, "setup": setup, "checks": [c._asdict() for c in checks],
        "figures": figures, "summary": summary, "reproduced": reproduced, "quick": run.quick,
        "seed": run.seed, "seconds": seconds, "command": f"python experiments/{run.name}.py"})
    print(f"\n{run.name}: {summary}; {seconds:.1f} s in all ({verdict})")
    return 0 if run.quick or reproduced else 1
