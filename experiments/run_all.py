"""Run every experiment (one script per course claim) and write the report.

    python experiments/run_all.py [--only cnn_digits lstm_vs_rnn ...] [--quick]

Each script runs in its own process, from the repository root, so one experiment's
compiled functions or failure cannot touch another.  Each writes ``results.json`` and its
figures under ``runs/<name>/`` (``--out``); its whole output goes to
``runs/<name>/stdout.txt``, and the report ``runs/report.md`` has one row per experiment:
the claim (the first line of the script's docstring), whether it was reproduced (the
script exits non-zero when its claim fails), the script's summary line (the last line
that starts with ``<name>:``) and the wall time.  Exit status 1 when any claim failed.
``--quick`` passes ``--quick`` on: every script runs small, end to end, and no claim is
judged (a check that the scripts work, not of the claims).
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
EXPERIMENTS = ("computational_graph", "gradient_check", "cnn_digits", "lstm_vs_rnn", "autoencoder_digits")


class Outcome(NamedTuple):
    name: str
    claim: str
    reproduced: bool
    summary: str
    seconds: float


def claim_of(script: Path) -> str:
    """The first line of the script's module docstring, read without importing it."""
    docstring = ast.get_docstring(ast.parse(script.read_text()))
    return docstring.splitlines()[0] if docstring else "(no docstring)"


def summary_line(name: str, output: str) -> str:
    """The last line starting with ``<name>:``, else the last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    tagged = [line for line in lines if line.startswith(f"{name}:")]
    return (tagged or lines or ["(no output)"])[-1]


def run_one(script: Path, out: Path, cwd: Path, quick: bool = False) -> Outcome:
    name = script.stem
    command = [sys.executable, str(script), "--out", str((out / name).resolve())] + (["--quick"] if quick else [])
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = proc.stdout + (f"\n--- stderr ---\n{proc.stderr}" if proc.stderr.strip() else "")
    (out / name).mkdir(parents=True, exist_ok=True)
    (out / name / "stdout.txt").write_text(output)
    return Outcome(name, claim_of(script), proc.returncode == 0, summary_line(name, output), seconds)


def report(outcomes: list[Outcome], quick: bool = False) -> str:
    column = "ran" if quick else "reproduced"
    rows = [f"| `{o.name}` | {o.claim} | {'yes' if o.reproduced else '**NO**'} | {o.summary} | {o.seconds:.0f} |"
            for o in outcomes]
    n_ok = sum(o.reproduced for o in outcomes)
    headline = (f"{n_ok} of {len(outcomes)} scripts ran end to end; no claim judged "
                "(`python experiments/run_all.py --quick`). " if quick else
                f"{n_ok} of {len(outcomes)} claims reproduced (`python experiments/run_all.py`). ")
    return "\n".join([
        "# Experiments report", "",
        headline + "Full output: `<name>/stdout.txt`; results: `<name>/results.json` and the figures next to it.",
        "", f"| experiment | claim | {column} | result | seconds |", "|---|---|---|---|---|", *rows, "",
    ])


def main(names=EXPERIMENTS, out: str | Path = "runs", scripts_dir: Path = HERE, cwd: Path | None = None,
         quick: bool = False) -> int:
    """Run the experiments ``names`` (scripts ``<scripts_dir>/<name>.py``, each given ``--out
    <out>/<name>`` and, with ``quick``, ``--quick``); write the report."""
    out, cwd = Path(out), Path(cwd) if cwd is not None else scripts_dir.parent
    unknown = [n for n in names if not (scripts_dir / f"{n}.py").is_file()]
    if unknown:
        raise SystemExit(f"run_all: no experiment {unknown}; known: {', '.join(EXPERIMENTS)}")
    outcomes = []
    for name in names:
        print(f"running {name} ...", flush=True)
        outcomes.append(run_one(scripts_dir / f"{name}.py", out, cwd, quick))
        print(f"  {'ok' if outcomes[-1].reproduced else 'FAILED'}: {outcomes[-1].summary}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report(outcomes, quick))
    print(f"report: {out / 'report.md'}")
    return 0 if all(o.reproduced for o in outcomes) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=list(EXPERIMENTS), metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="small runs that check the scripts; no claim judged")
    args = parser.parse_args()
    sys.exit(main(args.only, quick=args.quick))
