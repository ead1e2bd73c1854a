"""Turn each experiment script into an executed Jupyter notebook with its figures.

    python experiments/make_notebooks.py [NAME ...] [--quick] [--out runs/notebooks]

The scripts are in jupytext's percent format (``# %%`` code cells, ``# %% [markdown]``
cells), so jupytext reads each one as a notebook; a first cell added here gives the
kernel what a script has and a notebook lacks (``__file__``, ``__doc__``, the folder of
``common.py`` on the path, and the script's arguments); nbconvert then runs every cell and
stores the outputs, figures included, in ``<out>/<name>.ipynb``.  Needs the optional
``notebooks`` extra (``pip install -e ".[notebooks]"``; ``make notebooks`` does it all).
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_all import experiment_names, write_atomically  # noqa: E402


def notebook_of(script: Path, arguments: list[str]):
    """The script as a notebook, with a first cell that sets up what a script has."""
    import jupytext
    import nbformat

    notebook = jupytext.read(script)
    docstring = ast.get_docstring(ast.parse(script.read_text()))
    setup = (f"import sys\nsys.path.insert(0, {str(script.parent)!r})\n__file__ = {str(script)!r}\n"
             f"__doc__ = {docstring!r}\nimport common\ncommon.NOTEBOOK_ARGUMENTS = {arguments!r}")
    notebook.cells.insert(0, nbformat.v4.new_code_cell(setup))
    return notebook


def execute(notebook, cwd: Path, timeout: int = 600):
    """Run every cell in a fresh kernel; the outputs (figures included) stay in the notebook."""
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(cwd)}})
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make_notebooks.py", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="experiments (default: all)")
    parser.add_argument("--quick", action="store_true", help="run each notebook's --quick version")
    parser.add_argument("--out", type=Path, default=Path("runs") / "notebooks")
    args = parser.parse_args(argv)
    known = experiment_names()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"make_notebooks: unknown experiment(s) {', '.join(unknown)}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    import nbformat

    for name in args.names or known:
        arguments = ["--out", str((args.out / name).resolve())] + (["--quick"] if args.quick else [])
        print(f"executing {name} ...", flush=True)
        notebook = execute(notebook_of(HERE / f"{name}.py", arguments), cwd=HERE.parent)
        path = write_atomically(args.out / f"{name}.ipynb", nbformat.writes(notebook))
        print(f"  -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
