"""The experiments: every script in experiments/ runs end to end (``--quick``, its own process)
and writes the results.json the report needs; experiments/run_all.py runs them and writes the
report; experiments/common.py gives every script the same arguments, checks and verdict.

New scripts are covered without editing this file: the list of experiments is
``run_all.experiment_names()``, every ``experiments/*.py`` but the shared plumbing.

The quick runs start together, as many at a time as there are CPU cores (most of a quick
run's time is XLA compiling, one core each), and share a persistent JAX compilation cache
under pytest's cache folder (``.pytest_cache/d/jax-compilation-cache``): a first run
compiles everything, later runs load the compiled programs from disk.
"""
import ast
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS_DIR = ROOT / "experiments"
sys.path.insert(0, str(EXPERIMENTS_DIR))
import common  # noqa: E402
import run_all  # noqa: E402

COURSES = ("KAUST Academy, Neural Networks", "IIT Mandi, Introduction to Neural Networks",
           "UMT Lahore, NN Training and Optimization", "HSE, Neural Networks",
           "Liverpool, Introduction to Neural Networks I")
EXPERIMENTS = run_all.experiment_names()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUICK_TIMEOUT_S = 600   # one --quick run; generous: the machine may be shared


# --- every experiment script, --quick, in its own process -------------------------------------

@pytest.fixture(scope="session")
def quick_env(pytestconfig, tmp_path_factory):
    """The environment of the quick runs: a persistent JAX compilation cache shared by all."""
    cache = pytestconfig.cache
    folder = cache.mkdir("jax-compilation-cache") if cache is not None else tmp_path_factory.mktemp("jax-cache")
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(folder),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "MPLBACKEND": "Agg"}


@pytest.fixture(scope="session")
def quick_runs(request, quick_env, tmp_path_factory):
    """``name -> (out folder, future of the finished process)`` for every experiment whose quick
    test this session runs, all started at once on a pool of one worker per CPU core."""
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "originalname", "") == "test_quick_run_writes_what_the_report_needs"]
    root = tmp_path_factory.mktemp("quick")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(cores, 1)) as pool:
        yield {name: (root / name, pool.submit(run_quick, name, root / name, quick_env)) for name in names}


def run_quick(name: str, out: Path, env: dict, prelude: str = "") -> subprocess.CompletedProcess:
    """``python experiments/<name>.py --quick --out <out>`` from ``out``'s parent; with ``prelude``,
    that Python code runs first in the same interpreter (e.g. to hide a module)."""
    script = EXPERIMENTS_DIR / f"{name}.py"
    arguments = [str(script), "--quick", "--out", str(out)]
    if prelude:
        command = [sys.executable, "-c", f"{prelude}\nimport runpy, sys\nsys.path.insert(0, {str(EXPERIMENTS_DIR)!r})\n"
                   f"sys.argv = {arguments!r}\nrunpy.run_path({str(script)!r}, run_name='__main__')"]
    else:
        command = [sys.executable, *arguments]
    return subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True, timeout=QUICK_TIMEOUT_S)


def assert_ran(proc: subprocess.CompletedProcess, name: str) -> None:
    assert proc.returncode == 0, (f"{name} --quick exited {proc.returncode}\n--- stdout (end) ---\n"
                                  f"{proc.stdout[-3000:]}\n--- stderr (end) ---\n{proc.stderr[-3000:]}")


def assert_report_fields(results: dict, name: str, out: Path) -> None:
    """What run_all's report shows of an experiment, present and well-formed."""
    claim, setup = results.get("claim"), results.get("setup")
    assert isinstance(claim, str) and any(course in claim for course in COURSES), f"{name}: claim {claim!r}"
    assert isinstance(setup, str) and setup.strip(), f"{name}: no setup (the docstring's second paragraph)"
    checks = results.get("checks")
    assert isinstance(checks, list) and checks, f"{name}: no checks"
    for c in checks:
        assert set(c) >= {"name", "value", "target", "passed"}, f"{name}: check {c}"
        assert isinstance(c["name"], str) and c["name"], f"{name}: check {c}"
        assert isinstance(c["target"], str) and c["target"].split()[0] in ("<", "<=", ">", ">=", "=="), \
            f"{name}: check {c}"
        if c["value"] is None:   # not measured
            assert c["passed"] is None, f"{name}: a check without a value cannot pass or fail: {c}"
        else:
            assert isinstance(c["value"], (int, float)) and math.isfinite(c["value"]), f"{name}: check {c}"
            assert isinstance(c["passed"], bool), f"{name}: check {c}"
    figures = results.get("figures")
    assert isinstance(figures, list) and figures, f"{name}: no figures"
    for figure in figures:
        path = out / figure
        assert path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE, f"{name}: {figure} is not a PNG in {out}"
    assert isinstance(results.get("summary"), str) and results["summary"].strip(), f"{name}: no summary"
    assert isinstance(results.get("reproduced"), bool), f"{name}: reproduced {results.get('reproduced')!r}"
    assert isinstance(results.get("seconds"), (int, float)) and results["seconds"] > 0, f"{name}: seconds"
    assert results.get("command") == f"python experiments/{name}.py", f"{name}: command {results.get('command')!r}"
    assert results.get("quick") is True, f"{name}: --quick not recorded"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_quick_run_writes_what_the_report_needs(name, quick_runs):
    out, finished = quick_runs[name]
    proc = finished.result()
    assert_ran(proc, name)
    results = json.loads((out / "results.json").read_text())
    assert_report_fields(results, name, out)
    assert f"{name}: {results['summary']}" in proc.stdout  # the summary line run_all picks up


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_script_form_claim_setup_cells_and_exit(name):
    """Read without running: the claim names a course, the setup paragraph exists, the script
    is in jupytext's percent format and ends by handing main's status to exit_with."""
    source = (EXPERIMENTS_DIR / f"{name}.py").read_text()
    claim, setup = common.claim_and_setup(ast.get_docstring(ast.parse(source)) or "")
    assert claim.startswith(COURSES), claim
    assert setup, f"{name}: the docstring has no second paragraph (the setup)"
    assert "\n# %% [markdown]\n" in source and "\n# %%\n" in source, f"{name}: not in jupytext's percent format"
    assert source.rstrip().endswith('if __name__ == "__main__":\n    exit_with(main())'), name


def test_gradient_check_without_torch_says_not_measured(tmp_path, quick_env):
    """With ``import torch`` failing, the PyTorch comparison is "not measured" everywhere: in
    the checks (no value, neither passed nor failed), the summary, the table and the rows."""
    out = tmp_path / "gradient_check"
    proc = run_quick("gradient_check", out, quick_env, prelude="import sys; sys.modules['torch'] = None")
    assert_ran(proc, "gradient_check")
    results = json.loads((out / "results.json").read_text())
    assert_report_fields(results, "gradient_check", out)
    assert results["torch_installed"] is False
    torch_checks = [c for c in results["checks"] if "PyTorch" in c["name"]]
    assert len(torch_checks) == 1 and torch_checks[0]["value"] is None and torch_checks[0]["passed"] is None
    assert "not measured: torch not installed" in torch_checks[0]["name"]
    assert "vs PyTorch not measured: torch not installed" in results["summary"]
    assert "<= 0.0e+00" not in results["summary"]
    assert all(row["vs PyTorch"] is None for row in results["rows"].values())
    assert "| not measured |" in proc.stdout
    others = [c for c in results["checks"] if c is not torch_checks[0]]
    assert others and all(c["passed"] for c in others)


# --- run_all: the runner and its report ----------------------------------------------------------

def write_script(directory: Path, name: str, body: str) -> None:
    (directory / f"{name}.py").write_text(f'"""Claim of {name}.\n\nMore text."""\n{body}\n')


def test_report_has_each_claim_its_verdict_and_summary(tmp_path):
    write_script(tmp_path, "holds", 'print("warming up")\nprint("holds: 3 > 2 as claimed")\nprint("bye")')
    write_script(tmp_path, "fails", 'print("fails: 1 > 2")\nraise SystemExit("fails: claim not reproduced")')
    write_script(tmp_path, "untagged", 'print("just a line")')
    status = run_all.main(["holds", "fails", "untagged"], out=tmp_path / "runs", scripts_dir=tmp_path)
    assert status == 1
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "2 of 3 claims reproduced" in report
    assert "| `holds` | Claim of holds. | yes | holds: 3 > 2 as claimed |" in report
    assert "| `fails` | Claim of fails. | **NO** | fails: claim not reproduced |" in report  # stderr's line
    assert "| `untagged` | Claim of untagged. | yes | just a line |" in report
    assert "warming up" in (tmp_path / "runs" / "holds" / "stdout.txt").read_text()


def test_all_reproduced_exits_0_and_unknown_names_are_refused(tmp_path, capsys):
    write_script(tmp_path, "holds", 'print("holds: fine")')
    assert run_all.main(["holds"], out=tmp_path / "runs", scripts_dir=tmp_path) == 0
    assert run_all.main(["nope"], out=tmp_path / "runs", scripts_dir=tmp_path) == 2
    assert "unknown experiment(s) nope" in capsys.readouterr().err


def test_computational_graph_experiment_through_the_runner(tmp_path):
    """A real (fast) experiment end to end; it writes nothing outside ``out``."""
    assert run_all.main(["computational_graph"], out=tmp_path / "runs", cwd=tmp_path) == 0
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "computational_graph: f = -8, df/dx = 4, df/dy = 4, df/dz = -2" in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_quick_reaches_the_scripts_and_the_report_says_no_claim_was_judged(tmp_path):
    write_script(tmp_path, "args", 'import sys\nprint("args:", " ".join(sys.argv[1:]))')
    assert run_all.main(["args"], out=tmp_path / "runs", scripts_dir=tmp_path, quick=True) == 0
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "no claim judged" in report and "| experiment | claim | ran |" in report
    assert f"args: --out {(tmp_path / 'runs' / 'args').resolve()} --quick" in report


# --- common: arguments, checks, results.json, verdict, figures ----------------------------------

def test_common_arguments_results_and_verdict(tmp_path, capsys):
    run = common.start("experiments/demo.py", "Claim.\n\nMore.", ["--out", str(tmp_path / "o"), "--seed", "3"])
    assert (run.name, run.seed, run.quick) == ("demo", 3, False) and run.out.is_dir()
    assert common.finish(run, {"x": common.timed(sum, [1, 2])[0]}, "x = 3", reproduced=False) == 1
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["x"] == 3 and results["reproduced"] is False and results["seed"] == 3
    assert (results["claim"], results["setup"]) == ("Claim.", "More.")
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("demo: x = 3;")
    assert common.finish(run, {}, "fine", reproduced=True) == 0
    quick = common.start("demo.py", "Claim.", ["--quick", "--out", str(tmp_path / "q")])
    assert common.finish(quick, {}, "small", reproduced=False) == 0  # --quick: not judged


def test_checks_decide_the_verdict_and_an_unmeasured_one_does_not_count(tmp_path):
    run = common.start("demo.py", "Claim.\n\nSetup.", ["--out", str(tmp_path)])
    passed, failed = common.check("a (unit)", 0.99, ">=", 0.97), common.check("b", 2.0, "<", 1.0)
    unmeasured = common.check("c (not measured: no torch)", None, "<=", 1e-10)
    assert (passed.passed, passed.target, failed.passed) == (True, ">= 0.97", False)
    assert (unmeasured.value, unmeasured.passed, unmeasured.target) == (None, None, "<= 1e-10")
    assert common.finish(run, {}, "s", checks=[passed, unmeasured]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["reproduced"] is True
    assert results["checks"][1] == {"name": "c (not measured: no torch)", "value": None, "target": "<= 1e-10",
                                    "passed": None}
    assert common.finish(run, {}, "s", checks=[passed, failed, unmeasured]) == 1
    assert common.finish(run, {}, "s", checks=[unmeasured]) == 1  # nothing measured: not reproduced


def test_figures_keep_title_labels_and_legend(tmp_path):
    fig, ax = common.figure("Title", "epoch", "loss (nats)", yscale="log")
    ax.plot([1, 2], [1.0, 0.1], label="curve")
    common.save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Title", "epoch", "loss (nats)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["curve"]


def test_a_seed_that_is_not_an_int_or_an_out_that_is_a_file_gets_a_clear_message(tmp_path, capsys):
    a_file = tmp_path / "results"
    a_file.write_text("")
    for argv, message in ((["--seed", "one"], "argument --seed: invalid int value: 'one'"),
                          (["--out", str(a_file)], "is an existing file; give a folder")):
        with pytest.raises(SystemExit) as stop:
            common.start("experiments/example.py", "Claim.\n\nSetup.", argv)
        assert stop.value.code == 2 and message in capsys.readouterr().err
