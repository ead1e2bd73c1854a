"""Shared timing for the benchmarks: interleaved rounds and paired ratios.

On a shared machine one run's wall time moves by +-10% with the machine's load.  Timing
every contender once per round, back to back, in alternating order (ABC CBA ABC ...), and
taking the ratio *within* each round cancels most of that drift; the median over rounds
and its quartiles then say how sure the figure is.
"""
from __future__ import annotations

import statistics
from typing import Callable


def interleaved_rounds(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every ``runs[name]() -> seconds`` once per round, in alternating order."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(runs[name]())
    return times


def paired_ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Per-round ratios: both runs of a round saw the same machine load."""
    return [a / b for a, b in zip(numerators, denominators)]


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    return statistics.median(paired_ratios(numerators, denominators))


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (both the value itself for a single round)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3
