"""crypto_news_bench.tracking.orphans: runs whose process is gone are told from live ones by host,
process id and heartbeat, and the next ``cnbench train`` marks them FAILED with a tag saying why
(a run whose process is alive is left alone)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from crypto_news_bench.cli import main
from crypto_news_bench.tracking import orphans, runs, store

REPO = Path(__file__).resolve().parents[2]


def test_orphan_reason():
    host = "box"
    alive, dead = str(os.getpid()), "999999999"
    now = time.time()
    beat = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - runs.ORPHAN_AFTER_S - 60))
    tags = {runs.HOST_TAG: host, runs.HEARTBEAT_TAG: beat}
    assert orphans.orphan_reason({**tags, runs.PID_TAG: alive}, now, host) is None
    reason = orphans.orphan_reason({**tags, runs.PID_TAG: dead}, now, host)
    assert reason == f"its process {dead} on box is gone (last heartbeat {beat})"
    # On another host the process cannot be seen: only a stale heartbeat tells.
    assert orphans.orphan_reason({**tags, runs.PID_TAG: dead}, now, "other") is None
    stale = {runs.HOST_TAG: host, runs.PID_TAG: dead, runs.HEARTBEAT_TAG: old}
    assert "no heartbeat for over 6 h" in orphans.orphan_reason(stale, now, "other")


def test_train_marks_runs_of_dead_processes_failed(mlflow_store, capsys):
    """A parent run left RUNNING by a process that is gone (and its fold) is marked FAILED,
    with a tag saying why, by the next `cnbench train`."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    store.setup(mlflow_store)
    exp = store.experiment_id("stance")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    parent = client.create_run(exp, tags={
        runs.KIND_TAG: "parent", runs.HOST_TAG: orphans.socket.gethostname(),
        runs.PID_TAG: str(dead.pid), runs.HEARTBEAT_TAG: runs.utc_timestamp()})
    fold = client.create_run(exp, tags={runs.KIND_TAG: "fold",
                                        "mlflow.parentRunId": parent.info.run_id})
    alive = client.create_run(exp, tags={
        runs.KIND_TAG: "parent", runs.HOST_TAG: orphans.socket.gethostname(),
        runs.PID_TAG: str(os.getpid()), runs.HEARTBEAT_TAG: runs.utc_timestamp()})
    assert main(["train", str(REPO / "configs" / "majority.yaml"), "--task", "stance"]) == 0
    for run_id in (parent.info.run_id, fold.info.run_id):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags[runs.ENDED_TAG].startswith("marked FAILED by cnbench at ")
        assert f"its process {dead.pid} on " in run.data.tags[runs.ENDED_TAG]
    # A run whose process is alive is left alone.
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    mlflow.set_tracking_uri(mlflow_store)
