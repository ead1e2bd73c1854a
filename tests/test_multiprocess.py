"""Multi-process training: the local launcher (`jaxnn.launch`) and `fit` over a JAX cluster
of processes on localhost.

The launcher tests start plain Python children and need no JAX cluster.
"""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from jaxnn import launch, train


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


# ----------------------------------------------------------------------------- the launcher

def test_cluster_from_env_reads_the_three_variables_and_refuses_a_partial_set():
    assert launch.cluster_from_env({}) is None
    env = {"JAXNN_COORDINATOR": "127.0.0.1:1234", "JAXNN_NUM_PROCESSES": "2", "JAXNN_PROCESS_ID": "1"}
    assert launch.cluster_from_env(env) == ("127.0.0.1:1234", 2, 1)
    with pytest.raises(ValueError, match="JAXNN_PROCESS_ID not"):
        launch.cluster_from_env({k: v for k, v in env.items() if k != "JAXNN_PROCESS_ID"})
    with pytest.raises(ValueError, match="must be in 0..JAXNN_NUM_PROCESSES-1"):
        launch.cluster_from_env(dict(env, JAXNN_PROCESS_ID="2"))
    with pytest.raises(ValueError, match="host:port"):
        launch.cluster_from_env(dict(env, JAXNN_COORDINATOR="localhost"))


def test_maybe_initialize_is_a_no_op_without_the_variables(monkeypatch):
    for name in launch.CLUSTER_VARS:
        monkeypatch.delenv(name, raising=False)
    assert launch.maybe_initialize() is False


def test_process_env_sets_the_cluster_and_replaces_the_device_count_flag():
    env = launch.process_env({"XLA_FLAGS": "--xla_foo=1 --xla_force_host_platform_device_count=8"},
                             "127.0.0.1:99", 4, 3, devices_per_process=2)
    assert env["JAXNN_COORDINATOR"] == "127.0.0.1:99"
    assert (env["JAXNN_NUM_PROCESSES"], env["JAXNN_PROCESS_ID"]) == ("4", "3")
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=2"


def test_launch_gives_each_process_its_rank_and_prefixes_its_lines():
    out, err = io.StringIO(), io.StringIO()
    status = launch.launch(_python("""
        import os, sys
        print(os.environ["JAXNN_PROCESS_ID"], os.environ["JAXNN_NUM_PROCESSES"], os.environ["JAXNN_COORDINATOR"])
        print("to stderr", file=sys.stderr)
        """), 3, port=4321, stdout=out, stderr=err)
    assert status == 0
    assert sorted(out.getvalue().splitlines()) == [f"[{r}] {r} 3 127.0.0.1:4321" for r in range(3)]
    assert sorted(err.getvalue().splitlines()) == [f"[{r}] to stderr" for r in range(3)]


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_launch_terminates_the_others_when_one_fails(tmp_path):
    # Rank 1 waits until every rank has written its pid, then exits 1; the others would
    # sleep for a minute (in a grandchild too, which the process-group kill must reach).
    code = f"""
        import os, subprocess, sys, time
        rank = int(os.environ["JAXNN_PROCESS_ID"])
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(os.path.join({str(tmp_path)!r}, f"{{rank}}.pid"), "w").write(f"{{os.getpid()}} {{child.pid}}")
        if rank == 1:
            while len(os.listdir({str(tmp_path)!r})) < 3:
                time.sleep(0.05)
            sys.exit(1)
        time.sleep(60)
        """
    err = io.StringIO()
    start = time.monotonic()
    status = launch.launch(_python(code), 3, grace=2.0, stdout=io.StringIO(), stderr=err)
    elapsed = time.monotonic() - start
    assert status == 1
    assert elapsed < 30, f"the launcher took {elapsed:.1f} s: the others were not terminated"
    assert "process 1 exited with status 1" in err.getvalue()
    pids = [int(p) for f in tmp_path.iterdir() for p in f.read_text().split()]
    assert len(pids) == 6
    deadline = time.monotonic() + 5
    while not all(map(_pid_gone, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(_pid_gone, pids)), "a launched process or its child survived the launcher"


def test_launch_reports_a_process_killed_by_a_signal_as_128_plus_the_signal():
    status = launch.launch(_python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), 2,
                           stdout=io.StringIO(), stderr=io.StringIO())
    assert status == 128 + signal.SIGKILL


def test_ctrl_c_terminates_every_process_and_exits_130(tmp_path):
    code = f"""
        import os, time
        open(os.path.join({str(tmp_path)!r}, os.environ["JAXNN_PROCESS_ID"]), "w").write(str(os.getpid()))
        time.sleep(60)
        """
    launcher = subprocess.Popen([sys.executable, "-m", "jaxnn.launch", "--processes", "2", "--grace", "2", "--",
                                 *_python(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    launcher.send_signal(signal.SIGINT)
    _, err = launcher.communicate(timeout=30)
    assert launcher.returncode == launch.INTERRUPTED_EXIT
    assert b"interrupted" in err
    assert all(_pid_gone(int(f.read_text())) for f in tmp_path.iterdir())


def test_the_launcher_command_line_refuses_a_missing_command():
    result = subprocess.run([sys.executable, "-m", "jaxnn.launch", "--processes", "2"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "no command" in result.stderr


# ----------------------------------------------------------------------------- fit over 2 processes

# One program for the 2-process cluster and the 1-process reference: the same data, model,
# optimizer and key; in a cluster each process passes its half of the training and
# validation data (the global dataset is the halves in rank order) and first checks that
# fit refuses mismatched shards, keys and dtypes.  float32 (no x64), as users run it.
WORKER = """
import sys
from pathlib import Path

from jaxnn import launch

launch.maybe_initialize()

import jax
import numpy as np

from jaxnn import models, optim, train

out = Path(sys.argv[1])
rng = np.random.default_rng(0)
x, y = rng.normal(size=(128, 16)).astype(np.float32), rng.integers(0, 10, size=128)
x_val, y_val = rng.normal(size=(40, 16)).astype(np.float32), rng.integers(0, 10, size=40)
model = models.mlp([32, 10], activation="relu", dropout_rate=0.1)
_, params = model.init(jax.random.key(0), (16,))


def fit(x, y, validation, key=1, checkpoint_dir=None):
    return train.fit(model, params, "softmax_cross_entropy", optim.adam(1e-2), x, y, epochs=3, batch_size=32,
                     key=key, validation=validation, checkpoint_dir=checkpoint_dir,
                     checkpoint_every=3 if checkpoint_dir else None, progress=False)


rank, processes = jax.process_index(), jax.process_count()
if processes == 1:
    name, (trained, history) = "single", fit(x, y, (x_val, y_val))
else:
    m, m_val = len(x) // processes, len(x_val) // processes
    mine, mine_val = slice(rank * m, (rank + 1) * m), slice(rank * m_val, (rank + 1) * m_val)
    for label, call in [("shards", lambda: fit(x[:m - rank], y[:m - rank], None)),
                        ("key", lambda: fit(x[mine], y[mine], None, key=rank)),
                        ("dtype", lambda: fit(x[mine], y[mine].astype("float32" if rank else "int32"), None))]:
        try:
            call()
            print(f"{label}: no error")
        except ValueError as error:
            (out / f"{label}_error_{rank}.txt").write_text(str(error))
    name = f"process_{rank}"
    trained, history = fit(x[mine], y[mine], (x_val[mine_val], y_val[mine_val]),
                           checkpoint_dir=out / f"checkpoints_{rank}")
np.savez(out / f"{name}.npz", *[np.asarray(leaf) for leaf in jax.tree.leaves(trained)],
         loss=np.asarray(history["loss"]), val_loss=np.asarray(history["val_loss"]))
"""


def _float32_round_off(got, want, scale: float = 2e-6) -> bool:
    """Equal up to a few float32 ulps of the array's largest entry (the order of the
    gradients' partial sums differs across devices)."""
    return float(np.max(np.abs(got - want))) <= scale * float(np.max(np.abs(want)))


def test_fit_over_two_processes_equals_one_process(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    env = {k: v for k, v in os.environ.items() if k not in launch.CLUSTER_VARS}
    cluster = subprocess.Popen([sys.executable, "-m", "jaxnn.launch", "--processes", "2", "--devices-per-process",
                                "2", "--", sys.executable, str(worker), str(tmp_path)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    single = subprocess.Popen([sys.executable, str(worker), str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cluster_out, _ = cluster.communicate(timeout=300)
    single_out, _ = single.communicate(timeout=300)
    assert cluster.returncode == 0, cluster_out[-4000:]
    assert single.returncode == 0, single_out[-4000:]

    for rank in range(2):
        shards = (tmp_path / f"shards_error_{rank}.txt").read_text()
        assert "process 0: (64, 16), process 1: (63, 16)" in shards and "m = n // P" in shards, shards
        assert "processes [1] passed another key" in (tmp_path / f"key_error_{rank}.txt").read_text()
        dtypes = (tmp_path / f"dtype_error_{rank}.txt").read_text()
        assert "y must be a numeric array of one dtype on every process, got process 0: int32, process 1: float32" \
            in dtypes, dtypes
    assert (tmp_path / "checkpoints_0" / train.TRAIN_STATE_FILE).exists()
    assert not (tmp_path / "checkpoints_1").exists(), "process 1 wrote a checkpoint: only process 0 may"

    reference = np.load(tmp_path / "single.npz")
    processes = [np.load(tmp_path / f"process_{rank}.npz") for rank in range(2)]
    for name in reference.files:
        want = reference[name]
        assert want.dtype == (np.float32 if name.startswith("arr_") else np.float64)  # params; histories
        assert np.array_equal(processes[0][name], processes[1][name]), f"{name}: the processes' replicas differ"
        assert _float32_round_off(processes[0][name], want), \
            f"{name}: 2 processes vs 1, largest difference {np.max(np.abs(processes[0][name] - want)):.3g}"


@pytest.mark.slow
def test_jaxnn_train_under_the_launcher_trains_on_each_process_rows_and_writes_once(tmp_path):
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in launch.CLUSTER_VARS}
    result = subprocess.run([sys.executable, "-m", "jaxnn.launch", "--processes", "2", "--", sys.executable, "-m",
                             "jaxnn.cli", "train", "--data", "digits", "--hidden", "16", "--epochs", "2",
                             "--batch-size", "64", "--quiet", "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # digits has 1077 training examples: 538 per process, the last one unused
    assert "[0] jaxnn: training relu MLP 64-16-10 on digits (1076 train examples)" in result.stdout
    assert "in 2 processes" in result.stdout
    process_1 = [line for line in result.stdout.splitlines() if line.startswith("[1] ") and "[Gloo]" not in line]
    assert not process_1, f"process 1 printed (only process 0 reports): {process_1}"
    assert (out / "model.npz").exists() and (out / "curves.png").exists()
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == [1, 2] and all(np.isfinite(history["loss"]))
