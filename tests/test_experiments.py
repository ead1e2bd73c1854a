"""experiments/run_all.py: runs each experiment in its own process and writes the report."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import run_all  # noqa: E402


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


def test_all_reproduced_exits_0_and_unknown_names_are_refused(tmp_path):
    write_script(tmp_path, "holds", 'print("holds: fine")')
    assert run_all.main(["holds"], out=tmp_path / "runs", scripts_dir=tmp_path) == 0
    with pytest.raises(SystemExit, match=r"no experiment \['nope'\]"):
        run_all.main(["nope"], out=tmp_path / "runs", scripts_dir=tmp_path)


def test_the_real_registry_names_scripts_that_exist():
    for name in run_all.EXPERIMENTS:
        assert (ROOT / "experiments" / f"{name}.py").is_file()
        assert run_all.claim_of(ROOT / "experiments" / f"{name}.py").startswith("Lecture")


def test_computational_graph_experiment_through_the_runner(tmp_path):
    """A real (fast) experiment end to end; it writes nothing outside ``out``."""
    assert run_all.main(["computational_graph"], out=tmp_path / "runs", cwd=tmp_path) == 0
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "computational_graph: f = -8, df/dx = 4, df/dy = 4, df/dz = -2" in report
