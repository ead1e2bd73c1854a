"""benchmarks/timing.py: interleaved rounds in alternating order, paired ratios, quartiles."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import timing  # noqa: E402


def test_rounds_alternate_the_order_and_keep_each_contenders_times():
    calls = []

    def timer(name, seconds):
        def run():
            calls.append(name)
            return seconds
        return run

    times = timing.interleaved_rounds({"a": timer("a", 1.0), "b": timer("b", 2.0), "c": timer("c", 4.0)}, 3)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert times == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [4.0] * 3}


def test_paired_ratios_cancel_a_drift_that_hits_both_alike():
    load = [1.0, 1.5, 0.8, 1.2]  # the machine's slowdown per round
    reference = [2.0 * s for s in load]
    contender = [2.5 * s for s in load]
    assert timing.paired_ratios(reference, contender) == pytest.approx([0.8] * 4)
    assert timing.median_ratio(reference, contender) == pytest.approx(0.8)


def test_quartiles():
    assert timing.quartiles([3.0]) == (3.0, 3.0)
    assert timing.quartiles([5.0, 1.0, 4.0, 2.0, 3.0]) == (1.5, 4.5)  # statistics' "exclusive" method
