"""benchmarks/device_check.sh cannot rot unnoticed: its syntax, its arguments, and every
script it runs accepting the arguments it passes.

Running the whole check (`benchmarks/device_check.sh --quick`, a few minutes on the CPU)
is left to the machine with the accelerator; here each benchmark is only asked to parse
``--rounds N --quick`` (``--help`` after them: argparse stops there), which catches a
renamed script or option without timing anything.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_check.sh"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True, cwd=ROOT)


def test_help_and_bad_arguments():
    assert "--quick" in run_script("--help").stdout
    bad = run_script("--fast")
    assert bad.returncode == 2 and "unknown argument '--fast'" in bad.stderr


def steps() -> list[str]:
    """The benchmark scripts and test files the check runs, as written in it."""
    text = SCRIPT.read_text()
    return sorted(set(re.findall(r"(benchmarks/\w+\.py|tests/\w+\.py)", text)))


def test_every_step_exists():
    assert "tests/test_float32_agreement.py" in steps()
    for path in steps():
        assert (ROOT / path).is_file(), f"device_check.sh runs {path}, which does not exist"


@pytest.mark.parametrize("path", [p for p in steps() if p.startswith("benchmarks/")])
def test_each_benchmark_takes_the_arguments_the_check_passes(path):
    result = subprocess.run([sys.executable, str(ROOT / path), "--rounds", "1", "--quick", "--help"],
                            capture_output=True, text=True, cwd=ROOT / "benchmarks", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--rounds" in result.stdout and "--quick" in result.stdout
