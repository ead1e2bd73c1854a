#!/usr/bin/env bash
# The accelerator check, one short script (<= 8 minutes on a GPU machine):
#   1. finds a GPU build of JAX (the one installed, else `pip install "jax[cuda13]"`, else
#      `jax[cuda12]`), or runs on the CPU with the GPU-only parts skipped;
#   2. runs the float32 agreement tests (hand backward vs jax.vjp, backprop vs autodiff on
#      whole models, optimizers vs optax) on that device;
#   3. prints `fit` against the hand-written JAX reference (MLP 784-512-512-10, CNN, LSTM),
#      the deep-ensemble speed-up and, where benchmarks/bench_data_parallel.py exists, the
#      data-parallel figures.
#
#   benchmarks/device_check.sh            # the full check (5 rounds per benchmark)
#   benchmarks/device_check.sh --quick    # every step in its quick mode: CI runs this on
#                                         # the CPU so that the script cannot rot
#   PYTHON=/path/to/python benchmarks/device_check.sh
#
# jaxnn itself is taken from this checkout (PYTHONPATH), so the Python that runs it needs
# only jax, optax, chex, numpy (and pytest for step 2).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
ROUNDS=5
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1; ROUNDS=1 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "device_check: unknown argument '$arg' (expected --quick or --help)" >&2; exit 2 ;;
    esac
done

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
unset JAX_PLATFORMS  # let JAX pick its best device below

backend() { "$PY" -c 'import jax; print(jax.default_backend())' 2>/dev/null; }

section() { printf '\n## %s\n\n' "$*"; }

section "device"
PLATFORM="$(backend)"
if [ "$PLATFORM" != "gpu" ] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    echo "a GPU is present but JAX runs on '$PLATFORM': installing a CUDA build of JAX"
    for extra in cuda13 cuda12; do
        "$PY" -m pip install --quiet "jax[$extra]" && [ "$(backend)" = "gpu" ] && break
    done
    PLATFORM="$(backend)"
fi
if [ -z "$PLATFORM" ]; then
    echo "device_check: '$PY' cannot import jax" >&2
    exit 1
fi
"$PY" -c 'import jax; print("jax", jax.__version__, "on", jax.default_backend(), ":", jax.devices())'
if [ "$PLATFORM" = "gpu" ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    export JAX_PLATFORMS=cuda
else
    echo "no GPU: running every step on the CPU (GPU-only parts skipped)"
    export JAX_PLATFORMS=cpu
fi

FAILED=()
run_step() {  # run_step NAME COMMAND...: run it, time it, remember a failure, go on
    local name="$1"; shift
    section "$name: $*"
    local start=$SECONDS
    if ! "$@"; then FAILED+=("$name"); fi
    echo "($name: $((SECONDS - start)) s)"
}

run_step "float32 agreement on $PLATFORM" "$PY" -m pytest -q -p no:cacheprovider tests/test_float32_agreement.py

BENCH_ARGS=(--rounds "$ROUNDS")
[ "$QUICK" = 1 ] && BENCH_ARGS+=(--quick)
run_step "fit vs hand-written JAX, MLP" "$PY" benchmarks/bench_fit.py "${BENCH_ARGS[@]}"
run_step "fit vs hand-written JAX, CNN and LSTM" "$PY" benchmarks/bench_architectures.py "${BENCH_ARGS[@]}"
run_step "deep ensemble" "$PY" benchmarks/bench_ensemble.py "${BENCH_ARGS[@]}"
if [ -f benchmarks/bench_data_parallel.py ]; then
    run_step "data parallel" "$PY" benchmarks/bench_data_parallel.py "${BENCH_ARGS[@]}"
fi

section "summary"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "device_check on $PLATFORM: FAILED: ${FAILED[*]}"
    exit 1
fi
echo "device_check on $PLATFORM: every step passed (${SECONDS} s)"
