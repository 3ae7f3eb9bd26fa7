"""Real ``mlflow server`` processes for tests: started on 127.0.0.1 in their own process
group, with a SQLite store that outlives a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

MLFLOW = Path(sys.executable).parent / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, port: int, timeout: float = 60) -> subprocess.Popen:
    """An MLflow server on 127.0.0.1:``port`` over ``folder/db.sqlite``; healthy on return."""
    log = (folder / "server.log").open("a")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'db.sqlite'}",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return wait_healthy(proc, f"http://127.0.0.1:{port}/health", folder / "server.log",
                        timeout, "mlflow server")


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout: float,
                 name: str) -> subprocess.Popen:
    """``proc`` once ``url`` answers 200; its log's tail in the error if it dies or stays
    unhealthy past ``timeout`` seconds (then it is stopped)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n"
                               f"{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"{name} not healthy after {timeout} s:\n"
                               f"{log.read_text()[-4000:]}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
    """``sig`` to the server's whole process group; SIGKILL to whatever is left after
    ``timeout`` (workers can outlive the main process)."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, sig)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
