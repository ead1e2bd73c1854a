"""Run every experiment (one script per course claim) and write the report.

    python experiments/run_all.py [NAME ...] [--quick] [--list] [--out runs]

Each script runs in its own process, from the repository root, so one experiment's
compiled functions or failure cannot touch another; a failing one is marked NO with its
error and the others still run.  Each writes ``results.json`` and its figures under
``runs/<name>/`` (``--out``), its whole output goes to ``runs/<name>/stdout.txt``, and two
reports sum them up: ``runs/report.html``, one self-contained page (figures embedded, no
network, opens from disk) with a summary table and, per experiment, the claim, the setup,
the figures, the measured numbers against the verdict's thresholds, reproduced yes/NO, the
wall time and the command to rerun it alone; and ``runs/report.md``, the summary as a table.
Every file is written under a temporary name and renamed.  Exit status 1 when any claim
failed.  ``--quick`` passes ``--quick`` on: every script runs small, end to end, and no
claim is judged (a check that the scripts work, not of the claims).
"""
from __future__ import annotations

import argparse
import ast
import base64
import html
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
NOT_EXPERIMENTS = {"common", "run_all", "make_notebooks"}


def experiment_names(scripts_dir: Path = HERE) -> list[str]:
    """Every ``<name>.py`` script next to this one, except the shared plumbing."""
    return sorted(p.stem for p in scripts_dir.glob("*.py") if p.stem not in NOT_EXPERIMENTS)


class Outcome(NamedTuple):
    name: str
    claim: str
    reproduced: bool
    summary: str
    seconds: float
    results: dict        # the script's results.json ({} when it wrote none)
    error: str = ""      # the end of stderr when the script crashed


def claim_of(script: Path) -> str:
    """The first line of the script's module docstring, read without importing it."""
    docstring = ast.get_docstring(ast.parse(script.read_text()))
    return docstring.splitlines()[0] if docstring else "(no docstring)"


def summary_line(name: str, output: str) -> str:
    """The last line starting with ``<name>:``, else the last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    tagged = [line for line in lines if line.startswith(f"{name}:")]
    return (tagged or lines or ["(no output)"])[-1]


def write_atomically(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path``, then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(temporary, path)
    return path


def _results(folder: Path) -> dict:
    try:
        return json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}


def run_one(script: Path, out: Path, cwd: Path, quick: bool = False) -> Outcome:
    name = script.stem
    folder = out / name
    (folder / "results.json").unlink(missing_ok=True)  # a stale result must not pass for this run's
    command = [sys.executable, str(script), "--out", str(folder.resolve())] + (["--quick"] if quick else [])
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = proc.stdout + (f"\n--- stderr ---\n{proc.stderr}" if proc.stderr.strip() else "")
    write_atomically(folder / "stdout.txt", output)
    error = "" if proc.returncode == 0 else "\n".join(proc.stderr.strip().splitlines()[-12:])
    return Outcome(name, claim_of(script), proc.returncode == 0, summary_line(name, output), seconds,
                   _results(folder), error)


# --- the reports ------------------------------------------------------------------------------

def _headline(outcomes: list[Outcome], quick: bool) -> str:
    n_ok = sum(o.reproduced for o in outcomes)
    if quick:
        return f"{n_ok} of {len(outcomes)} scripts ran end to end; no claim judged (--quick)."
    return f"{n_ok} of {len(outcomes)} claims reproduced."


def report_markdown(outcomes: list[Outcome], quick: bool = False) -> str:
    column = "ran" if quick else "reproduced"
    rows = [f"| `{o.name}` | {o.claim} | {'yes' if o.reproduced else '**NO**'} | {o.summary} | {o.seconds:.0f} |"
            for o in outcomes]
    return "\n".join([
        "# Experiments report", "",
        _headline(outcomes, quick) + " Full output: `<name>/stdout.txt`; results: `<name>/results.json` and the "
        "figures next to it; the same with the figures: `report.html`.",
        "", f"| experiment | claim | {column} | result | seconds |", "|---|---|---|---|---|", *rows, "",
    ])


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; } th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
th { background: #f3f3f3; } .yes { color: #176b2c; font-weight: bold; } .no { color: #b00020; font-weight: bold; }
.unmeasured { color: #777; font-style: italic; } section { border-top: 2px solid #ddd; margin-top: 2em; }
figure { display: inline-block; margin: 0.5em; max-width: 100%; vertical-align: top; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code, pre { background: #f6f6f6; padding: 2px 4px; } pre { padding: 8px; overflow-x: auto; }
"""


def _verdict(outcome: Outcome, quick: bool) -> str:
    if outcome.reproduced:
        return '<span class="yes">ran</span>' if quick else '<span class="yes">yes</span>'
    return '<span class="no">NO</span>'


def _value(check: dict) -> str:
    if check.get("value") is None:
        return '<span class="unmeasured">not measured</span>'
    return f"{check['value']:.4g}"


def _passed(check: dict) -> str:
    if check.get("passed") is None:
        return '<span class="unmeasured">n/a</span>'
    return '<span class="yes">pass</span>' if check["passed"] else '<span class="no">fail</span>'


def _checks_table(checks: list[dict]) -> str:
    if not checks:
        return "<p>No measured checks in results.json.</p>"
    rows = "".join(f"<tr><td>{html.escape(c['name'])}</td><td>{_value(c)}</td><td>{html.escape(c['target'])}</td>"
                   f"<td>{_passed(c)}</td></tr>" for c in checks)
    return f"<table><tr><th>measured</th><th>value</th><th>threshold</th><th></th></tr>{rows}</table>"


def _figures(folder: Path, names: list[str]) -> str:
    """Each figure as an embedded ``data:`` PNG, so the page needs no other file."""
    parts = []
    for name in names:
        path = folder / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(name)}</figcaption></figure>")
    return "".join(parts) or "<p>No figures.</p>"


def _section(outcome: Outcome, folder: Path, quick: bool) -> str:
    r = outcome.results
    error = (f"<p class='no'>The script failed:</p><pre>{html.escape(outcome.error)}</pre>"
             if outcome.error else "")
    return (f'<section id="{outcome.name}"><h2>{html.escape(outcome.name)}: {_verdict(outcome, quick)}</h2>'
            f"<p><b>Claim.</b> {html.escape(r.get('claim') or outcome.claim)}</p>"
            f"<p><b>Setup.</b> {html.escape(r.get('setup', '(not recorded)'))}</p>{error}"
            f"{_figures(folder, r.get('figures', []))}{_checks_table(r.get('checks', []))}"
            f"<p><b>Result.</b> {html.escape(outcome.summary)}</p>"
            f"<p><b>Wall time</b> {outcome.seconds:.1f} s. <b>Rerun alone:</b> "
            f"<code>{html.escape(r.get('command', f'python experiments/{outcome.name}.py'))}</code></p></section>")


def report_html(outcomes: list[Outcome], out: Path, quick: bool = False) -> str:
    """One self-contained page: the summary table, then one section per experiment."""
    rows = "".join(f'<tr><td><a href="#{o.name}">{html.escape(o.name)}</a></td><td>{html.escape(o.claim)}</td>'
                   f"<td>{_verdict(o, quick)}</td><td>{o.seconds:.0f}</td></tr>" for o in outcomes)
    column = "ran" if quick else "reproduced"
    sections = "".join(_section(o, out / o.name, quick) for o in outcomes)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>jaxnn experiments</title>"
            f"<style>{_STYLE}</style></head><body><h1>jaxnn experiments</h1><p>{_headline(outcomes, quick)} "
            f"Rerun all: <code>make experiments</code> or <code>jaxnn experiments</code>.</p>"
            f"<table><tr><th>experiment</th><th>claim</th><th>{column}</th><th>seconds</th></tr>{rows}</table>"
            f"{sections}</body></html>")


def main(names=None, out: str | Path = "runs", scripts_dir: Path = HERE, cwd: Path | None = None,
         quick: bool = False) -> int:
    """Run the experiments ``names`` (default: all; scripts ``<scripts_dir>/<name>.py``, each
    given ``--out <out>/<name>`` and, with ``quick``, ``--quick``); write both reports."""
    out, cwd = Path(out), Path(cwd) if cwd is not None else scripts_dir.parent
    known = experiment_names(scripts_dir)
    names = list(names) if names else known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"run_all: unknown experiment(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    outcomes = []
    for name in names:
        print(f"running {name} ...", flush=True)
        outcomes.append(run_one(scripts_dir / f"{name}.py", out, cwd, quick))
        print(f"  {'ok' if outcomes[-1].reproduced else 'FAILED'}: {outcomes[-1].summary}", flush=True)
    write_atomically(out / "report.md", report_markdown(outcomes, quick))
    write_atomically(out / "report.html", report_html(outcomes, out, quick))
    print(f"report: {out / 'report.html'} and {out / 'report.md'}")
    return 0 if all(o.reproduced for o in outcomes) else 1


def list_experiments(scripts_dir: Path = HERE) -> str:
    """One line per experiment: its name and its claim."""
    return "\n".join(f"{name:<28} {claim_of(scripts_dir / f'{name}.py')}" for name in experiment_names(scripts_dir))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_all.py", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="the same as NAME ...")
    parser.add_argument("--quick", action="store_true", help="small runs that check the scripts; no claim judged")
    parser.add_argument("--list", action="store_true", help="print each experiment's name and claim, run nothing")
    parser.add_argument("--out", default="runs", help="folder for the results and the reports (default: runs)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    if args.list:
        print(list_experiments())
        sys.exit(0)
    sys.exit(main(args.names or args.only, out=args.out, quick=args.quick))
