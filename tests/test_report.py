"""The experiments report: runs/report.html is one self-contained page (every figure
embedded, every claim present, failures marked NO with their error) and nothing under
runs/ is half-written; checked in a real headless browser where Chromium is installed."""
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import run_all  # noqa: E402

# A 1x1 PNG: the report must embed the bytes, not link the file.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def fake_experiment(directory: Path, name: str, *, reproduced=True, crash=False) -> None:
    """A script that writes a results.json and a figure the way experiments/common.py does."""
    results = {"claim": f"Course, section: {name} holds.", "setup": f"Two sentences of the setup of {name}.",
               "checks": [{"name": "accuracy (fraction)", "value": 0.98, "target": ">= 0.97", "passed": True},
                          {"name": "vs PyTorch (relative error)", "value": None, "target": "<= 1e-12",
                           "passed": None}],
               "figures": ["curve.png"], "summary": f"{name}: accuracy 0.98", "reproduced": reproduced,
               "seconds": 1.0, "command": f"python experiments/{name}.py"}
    body = (f"import json, sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
            f"out.mkdir(parents=True, exist_ok=True)\n(out / 'curve.png').write_bytes({PNG!r})\n"
            f"(out / 'results.json').write_text(json.dumps({results!r}))\nprint({results['summary']!r})\n")
    if crash:
        body = "raise RuntimeError('the model diverged: loss is NaN')\n"
    elif not reproduced:
        body += "sys.exit(1)\n"
    (directory / f"{name}.py").write_text(f'"""Course, section: {name} holds.\n\nSetup."""\n{body}')


@pytest.fixture
def report(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    fake_experiment(scripts, "first")
    fake_experiment(scripts, "second", reproduced=False)
    fake_experiment(scripts, "third", crash=True)
    status = run_all.main(out=tmp_path / "runs", scripts_dir=scripts, cwd=tmp_path)
    return status, tmp_path / "runs"


def test_html_report_embeds_every_figure_and_states_every_claim(report):
    status, runs = report
    assert status == 1  # one claim failed and one script crashed
    page = (runs / "report.html").read_text()
    assert page.count("data:image/png;base64," + base64.b64encode(PNG).decode()) == 2  # first and second
    assert "src=\"curve.png\"" not in page and "http" not in page  # self-contained, no network
    for name in ("first", "second", "third"):
        assert f"Course, section: {name} holds." in page
        assert f"python experiments/{name}.py" in page
    assert "Two sentences of the setup of first." in page
    assert "&gt;= 0.97" in page and "not measured" in page  # thresholds, and what was not measured says so


def test_failures_are_marked_no_with_their_error_and_the_others_still_run(report):
    _, runs = report
    page = (runs / "report.html").read_text()
    first, second, third = (page.index(f'<section id="{name}">') for name in ("first", "second", "third"))
    assert '<span class="yes">yes</span>' in page[first:second]
    assert '<span class="no">NO</span>' in page[second:third]
    assert "the model diverged: loss is NaN" in page[third:]
    markdown = (runs / "report.md").read_text()
    assert "1 of 3 claims reproduced" in markdown and markdown.count("**NO**") == 2


def test_nothing_under_runs_is_left_half_written(report):
    _, runs = report
    assert not [p for p in runs.rglob("*") if p.name.endswith(".tmp")]
    assert json.loads((runs / "first" / "results.json").read_text())["reproduced"] is True


def test_unknown_names_are_refused_naming_the_known_ones(tmp_path, capsys):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    fake_experiment(scripts, "first")
    assert run_all.main(["nosuch"], out=tmp_path / "runs", scripts_dir=scripts) == 2
    assert "unknown experiment(s) nosuch; known: first" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_every_experiment_is_discovered_and_listed():
    names = run_all.experiment_names()
    assert "common" not in names and "run_all" not in names and "cnn_digits" in names
    listing = run_all.list_experiments()
    assert all(name in listing for name in names)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium)")
def test_the_page_renders_in_a_headless_browser(report, tmp_path):
    """Chromium opens the page from disk with the network off and paints the figures."""
    _, runs = report
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          (runs / "report.html").resolve().as_uri()],
                         capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<img") == 2 and "Course, section: third holds." in dom.stdout
