"""Run one program as N local processes of one JAX cluster, to try multi-process training
on one machine.

    python -m jaxnn.launch --processes 2 -- jaxnn train --data digits --epochs 5 --out runs/MP
    python -m jaxnn.launch --processes 2 --devices-per-process 2 -- python my_script.py

The launcher starts COMMAND N times, each with the environment variables

    JAXNN_COORDINATOR     host:port of process 0's coordinator service (``127.0.0.1:PORT``;
                          a free port unless ``--port`` names one)
    JAXNN_NUM_PROCESSES   N
    JAXNN_PROCESS_ID      0 .. N-1, this process's rank

and, with ``--devices-per-process K``, ``--xla_force_host_platform_device_count=K`` appended
to ``XLA_FLAGS`` (K CPU devices in each process, N*K in the cluster). Each line a process
prints is forwarded with the prefix ``[RANK] `` (stdout to stdout, stderr to stderr). The
launcher waits for all of them and exits 0 if all exit 0; as soon as one fails it
terminates the others (SIGTERM to each process group, SIGKILL after ``--grace`` seconds)
and exits with the first failure's status (128 + signal number for a process killed by a
signal). Ctrl-C (or SIGTERM to the launcher) terminates them all and exits 130.

A program joins the cluster by calling `maybe_initialize` before it computes anything
with JAX; ``jaxnn train`` does. Without the variables it does nothing, so the same program
runs alone too. On CPU the processes exchange gradients through gloo collectives
(``jax_cpu_collectives_implementation``); on GPUs or TPUs the launcher is only for
trying things out, since a real cluster starts one process per host with its own
scheduler and sets the same three variables (or calls ``jax.distributed.initialize``
itself).

How `jaxnn.train.fit` uses the cluster: every process passes its own shard of the data
(the same number of examples in each), and the global dataset is the shards in rank order;
see `fit`'s docstring.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Sequence

COORDINATOR_VAR, NUM_PROCESSES_VAR, PROCESS_ID_VAR = "JAXNN_COORDINATOR", "JAXNN_NUM_PROCESSES", "JAXNN_PROCESS_ID"
CLUSTER_VARS = (COORDINATOR_VAR, NUM_PROCESSES_VAR, PROCESS_ID_VAR)
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
INTERRUPTED_EXIT = 130  # the shell's status for Ctrl-C (128 + SIGINT)
POLL_SECONDS = 0.05


# ----------------------------------------------------------------------------- joining

def cluster_from_env(environ=None) -> tuple[str, int, int] | None:
    """``(coordinator_address, num_processes, process_id)`` from the launcher's variables,
    or None when none is set. A partial or malformed set raises ValueError naming it."""
    environ = os.environ if environ is None else environ
    present = [name for name in CLUSTER_VARS if environ.get(name)]
    if not present:
        return None
    if len(present) < len(CLUSTER_VARS):
        missing = [name for name in CLUSTER_VARS if name not in present]
        raise ValueError(f"{', '.join(present)} set but {', '.join(missing)} not: set all three "
                         f"({', '.join(CLUSTER_VARS)}) or none (python -m jaxnn.launch sets them)")
    address = environ[COORDINATOR_VAR]
    if ":" not in address:
        raise ValueError(f"{COORDINATOR_VAR}={address!r} must be host:port, e.g. 127.0.0.1:8476")
    try:
        num_processes, process_id = int(environ[NUM_PROCESSES_VAR]), int(environ[PROCESS_ID_VAR])
    except ValueError:
        raise ValueError(f"{NUM_PROCESSES_VAR}={environ[NUM_PROCESSES_VAR]!r} and {PROCESS_ID_VAR}="
                         f"{environ[PROCESS_ID_VAR]!r} must be integers") from None
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(f"{PROCESS_ID_VAR}={process_id} must be in 0..{NUM_PROCESSES_VAR}-1 "
                         f"(= {num_processes - 1}), and {NUM_PROCESSES_VAR} >= 1")
    return address, num_processes, process_id


def maybe_initialize() -> bool:
    """Join the JAX cluster the launcher's variables describe (``jax.distributed.initialize``
    with CPU collectives through gloo); a no-op returning False when they are unset.

    Returns True when this process is in a cluster (also when it had joined before). Call it
    before the first JAX computation: JAX refuses to initialize afterwards.
    """
    cluster = cluster_from_env()
    if cluster is None:
        return False
    import jax

    if jax.distributed.is_initialized():
        return True
    address, num_processes, process_id = cluster
    # gloo is this JAX version's default already; set it so a changed default cannot
    # leave the CPU processes without cross-process collectives.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=address, num_processes=num_processes, process_id=process_id)
    return True


# ----------------------------------------------------------------------------- launching

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def process_env(base: dict, address: str, num_processes: int, process_id: int,
                devices_per_process: int | None = None) -> dict:
    """The environment of process ``process_id``: ``base`` plus the cluster variables and,
    when ``devices_per_process`` is given, the XLA flag forcing that many CPU devices."""
    env = dict(base, **{COORDINATOR_VAR: address, NUM_PROCESSES_VAR: str(num_processes),
                        PROCESS_ID_VAR: str(process_id)})
    if devices_per_process is not None:
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(DEVICE_COUNT_FLAG)]
        env["XLA_FLAGS"] = " ".join([*flags, f"{DEVICE_COUNT_FLAG}={devices_per_process}"])
    return env


def _forward(pipe: IO[bytes], sink: IO[str], prefix: str, lock: threading.Lock) -> None:
    """Copy ``pipe`` to ``sink`` line by line, each line prefixed (one writer at a time)."""
    for raw in iter(pipe.readline, b""):
        with lock:
            sink.write(prefix + raw.decode(errors="replace").rstrip("\n") + "\n")
            sink.flush()
    pipe.close()


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """``sig`` to the process group ``proc`` leads (start_new_session): its children too,
    and those left behind by a leader that has exited already (the kernel keeps the group's
    id from being reused while any of them lives)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is empty
        os.killpg(proc.pid, sig)


def _terminate(procs: Sequence[subprocess.Popen], grace: float) -> None:
    """SIGTERM to every launched process group, SIGKILL after ``grace`` seconds to those
    whose leader still runs, and once more to every group, then reap the leaders."""
    for p in procs:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for p in procs:
        _signal_group(p, signal.SIGKILL)
    for p in procs:
        p.wait()


class _Interrupted(Exception):
    """SIGTERM to the launcher, handled as Ctrl-C."""


def _raise_interrupted(signum, frame):
    raise _Interrupted


def launch(command: Sequence[str], processes: int, *, port: int | None = None, host: str = "127.0.0.1",
           devices_per_process: int | None = None, grace: float = 5.0, stdout: IO[str] | None = None,
           stderr: IO[str] | None = None) -> int:
    """Run ``command`` as ``processes`` local processes of one cluster; the exit status
    (0 if every process exited 0, else the first failure's; 130 if interrupted)."""
    if not command:
        raise ValueError("no command to launch: put it after --, e.g. python -m jaxnn.launch "
                         "--processes 2 -- jaxnn train --data digits")
    if processes < 1:
        raise ValueError(f"processes={processes} must be >= 1")
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    address = f"{host}:{port if port is not None else free_port(host)}"
    lock = threading.Lock()
    procs, threads = [], []
    previous = (signal.signal(signal.SIGTERM, _raise_interrupted)
                if threading.current_thread() is threading.main_thread() else None)
    try:
        for rank in range(processes):
            p = subprocess.Popen(list(command), env=process_env(os.environ, address, processes, rank,
                                                                 devices_per_process),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True)
            procs.append(p)
            for pipe, sink in ((p.stdout, stdout), (p.stderr, stderr)):
                t = threading.Thread(target=_forward, args=(pipe, sink, f"[{rank}] ", lock), daemon=True)
                t.start()
                threads.append(t)
        status = 0
        while True:
            codes = [p.poll() for p in procs]
            failed = next((rank for rank, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                status = _exit_status(codes[failed])
                with lock:
                    stderr.write(f"jaxnn.launch: process {failed} exited with status {status}; "
                                 f"terminating the others\n")
                break
            if all(code == 0 for code in codes):
                break
            time.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, _Interrupted):
        status = INTERRUPTED_EXIT
        with lock:
            stderr.write("jaxnn.launch: interrupted; terminating all processes\n")
    finally:
        _terminate(procs, grace)
        for t in threads:
            t.join(timeout=grace)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m jaxnn.launch",
        usage="python -m jaxnn.launch --processes N [--port P] [--devices-per-process K] -- COMMAND ...",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, required=True, help="how many processes to start, >= 1")
    p.add_argument("--port", type=int, default=None, help="the coordinator's port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="the coordinator's host (default 127.0.0.1)")
    p.add_argument("--devices-per-process", type=int, default=None,
                   help=f"force K CPU devices in each process ({DEVICE_COUNT_FLAG}=K)")
    p.add_argument("--grace", type=float, default=5.0,
                   help="seconds between SIGTERM and SIGKILL when terminating (default 5)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command: put it after --, e.g. -- jaxnn train --data digits")
    if args.processes < 1:
        parser.error(f"--processes {args.processes} must be >= 1")
    if args.devices_per_process is not None and args.devices_per_process < 1:
        parser.error(f"--devices-per-process {args.devices_per_process} must be >= 1")
    return launch(command, args.processes, port=args.port, host=args.host,
                  devices_per_process=args.devices_per_process, grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
