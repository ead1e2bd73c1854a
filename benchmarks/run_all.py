"""Run every benchmark one after another (``make bench``); each prints a markdown table.

Speed figures are ratios against a reference measured in the same process, so they are
comparable across machines; run on a quiet machine (other load skews the wall times).

    python benchmarks/run_all.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "fit": ["bench_fit.py"],
    "digits": ["digits_accuracy.py"],
    "optim": ["bench_optim.py"],
    "architectures": ["bench_architectures.py"],
    "rebuilt": ["bench_rebuilt.py"],
    "data_parallel": ["bench_data_parallel.py"],  # 8 forced host devices vs 1 on a CPU
    "peers": ["bench_peers.py"],   # PyTorch, Keras, Flax, Equinox: those of the bench extra installed
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=sorted(BENCHMARKS))
    failed = []
    for name in parser.parse_args().only:
        script, *args = BENCHMARKS[name]
        print(f"\n## {name}: python benchmarks/{script} {' '.join(args)}\n", flush=True)
        start = time.perf_counter()
        if subprocess.call([sys.executable, str(HERE / script), *args]) != 0:
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
