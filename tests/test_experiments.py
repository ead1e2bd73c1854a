"""experiments/run_all.py runs each experiment in its own process and writes the report;
experiments/common.py gives every script the same arguments, results.json and verdict."""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import common  # noqa: E402
import run_all  # noqa: E402

COURSES = ("KAUST Academy, Neural Networks", "IIT Mandi, Introduction to Neural Networks",
           "UMT Lahore, NN Training and Optimization", "HSE, Neural Networks",
           "Liverpool, Introduction to Neural Networks I")


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


def test_the_real_registry_names_scripts_that_exist_each_claim_citing_a_course_and_a_paper():
    for name in run_all.EXPERIMENTS:
        assert (ROOT / "experiments" / f"{name}.py").is_file()
        claim = run_all.claim_of(ROOT / "experiments" / f"{name}.py")
        assert claim.startswith(COURSES), claim
        assert re.search(r"et al\. (19|20)\d\d|& \w+ (19|20)\d\d", claim), claim


def test_computational_graph_experiment_through_the_runner(tmp_path):
    """A real (fast) experiment end to end; it writes nothing outside ``out``."""
    assert run_all.main(["computational_graph"], out=tmp_path / "runs", cwd=tmp_path) == 0
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "computational_graph: f = -8, df/dx = 4, df/dy = 4, df/dz = -2" in report


def test_quick_reaches_the_scripts_and_the_report_says_no_claim_was_judged(tmp_path):
    write_script(tmp_path, "args", 'import sys\nprint("args:", " ".join(sys.argv[1:]))')
    assert run_all.main(["args"], out=tmp_path / "runs", scripts_dir=tmp_path, quick=True) == 0
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "no claim judged" in report and "| experiment | claim | ran |" in report
    assert f"args: --out {(tmp_path / 'runs' / 'args').resolve()} --quick" in report


def test_common_arguments_results_and_verdict(tmp_path, capsys):
    run = common.start("experiments/demo.py", "Claim.\n\nMore.", ["--out", str(tmp_path / "o"), "--seed", "3"])
    assert (run.name, run.seed, run.quick) == ("demo", 3, False) and run.out.is_dir()
    assert common.finish(run, {"x": common.timed(sum, [1, 2])[0]}, "x = 3", reproduced=False) == 1
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["x"] == 3 and results["reproduced"] is False and results["seed"] == 3
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("demo: x = 3;")
    assert common.finish(run, {}, "fine", reproduced=True) == 0
    quick = common.start("demo.py", "Claim.", ["--quick", "--out", str(tmp_path / "q")])
    assert common.finish(quick, {}, "small", reproduced=False) == 0  # --quick: not judged


def test_figures_keep_title_labels_and_legend(tmp_path):
    fig, ax = common.figure("Title", "epoch", "loss (nats)", yscale="log")
    ax.plot([1, 2], [1.0, 0.1], label="curve")
    common.save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Title", "epoch", "loss (nats)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["curve"]
