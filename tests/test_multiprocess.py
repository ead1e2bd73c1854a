"""Multi-process training: the local launcher (`jaxnn.launch`) and `fit` over a JAX cluster
of processes on localhost.

The launcher tests start plain Python children and need no JAX cluster.
"""
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from jaxnn import launch


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
