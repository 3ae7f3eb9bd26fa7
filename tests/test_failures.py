"""Reliability under failure, with real processes: two benches opening a new store at once,
a tracking server that dies mid-run, Ctrl-C to a parallel bench, orphaned runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import servers

from crypto_news_bench.cli import main
from crypto_news_bench.tracking import orphans, runs, store

REPO = Path(__file__).resolve().parents[1]
CNBENCH = Path(sys.executable).parent / "cnbench"


def copy_data(dst: Path) -> Path:
    """The repository's data folder (pages, labels, synthetic corpus), built there."""
    for name in ("raw", "annotations", "synthetic"):
        shutil.copytree(REPO / "data" / name, dst / name)
    return dst


def write_grid(folder: Path, configs: dict[str, str], tasks: list[str],
               seeds: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "configs" / "defaults.yaml", folder / "defaults.yaml")
    for name, text in configs.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    seeds = seeds or [0]
    (folder / "bench.yaml").write_text(
        f"configs: {list(configs)}\ntasks: {tasks}\nseeds: {seeds}\nbaseline_seeds: [0]\n",
        encoding="utf-8")
    return folder / "bench.yaml"


def env_for(uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def parent_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, filter_string="tags.`cnbench.kind` = 'parent'",
                              max_results=1000) if ids else []


def wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process ended ({proc.returncode}) before {what}: "
                        f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


# -- a new embedded store, opened by two processes at once ---------------------------------


@pytest.mark.slow
def test_two_shards_on_a_fresh_store_run_every_cell_exactly_once(tmp_path):
    data = copy_data(tmp_path / "data")
    grid = write_grid(tmp_path / "configs", {"majority": "model: majority\n",
                                             "lr": "model: tfidf_word_lr\n"},
                      ["stance", "claim_type"])
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    from crypto_news_bench.data import dataset

    dataset.build(data)  # built once: the two shards would rebuild the same bytes at once
    procs = [subprocess.Popen(
        [str(CNBENCH), "bench", "--grid", str(grid), "--data-dir", str(data),
         "--shard", f"{i}/2", "--results", str(tmp_path / f"results{i}"), "--readme", "-"],
        cwd=tmp_path, env=env_for(uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    runs = parent_runs(uri)
    keys = sorted((r.data.tags["cnbench.task"], r.data.tags["cnbench.config"]) for r in runs)
    assert keys == sorted((t, c) for t in ("stance", "claim_type") for c in ("majority", "lr"))
    assert {r.info.status for r in runs} == {"FINISHED"}


# -- orphaned runs ----------------------------------------------------------------------------


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


# -- a tracking server that dies mid-run -----------------------------------------------------


@pytest.mark.slow
def test_a_server_killed_mid_run_gives_one_line_and_the_run_is_failed_later(tmp_path,
                                                                              tiny_bert):
    port = servers.free_port()
    folder = tmp_path / "server"
    folder.mkdir()
    server = servers.start(folder, port)
    uri = f"http://127.0.0.1:{port}"
    data = copy_data(tmp_path / "data")
    from crypto_news_bench.data import dataset

    dataset.build(data)
    slow = tmp_path / "configs"
    write_grid(slow, {"slow": f"model: finetune\ntrain_cap: 300\nparams:\n  model_name_or_path: "
                              f"{tiny_bert}\n  epochs: 40\n  batch_size: 8\n"}, ["stance"])
    train = subprocess.Popen(
        [str(CNBENCH), "train", str(slow / "slow.yaml"), "--task", "stance", "--data-dir",
         str(data)], cwd=tmp_path, env=env_for(uri), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: [r for r in parent_runs(uri) if r.info.status == "RUNNING"], 120,
                 "a RUNNING parent run", train)
        servers.stop(server, sig=signal.SIGKILL)
        _, err = train.communicate(timeout=300)
    finally:
        if train.poll() is None:
            train.kill()
    assert train.returncode == 2, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: lost the MLflow tracking store at {uri}"), err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    run_id = lines[-1].split("during run ")[1].split(" ")[0]

    server = servers.start(folder, port)
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        assert client.get_run(run_id).info.status == "RUNNING"  # what the crash left
        env = env_for(uri)
        done = subprocess.run([str(CNBENCH), "train", str(REPO / "configs" / "majority.yaml"),
                               "--task", "stance", "--data-dir", str(data)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert f"its process {train.pid} on " in run.data.tags[runs.ENDED_TAG]
        assert run.data.tags[runs.HOST_TAG] and run.data.tags[runs.HEARTBEAT_TAG]
    finally:
        servers.stop(server)


# -- Ctrl-C to a parallel bench -------------------------------------------------------------


@pytest.mark.slow
def test_sigint_to_a_parallel_bench_kills_the_running_cells_and_starts_no_other(tmp_path,
                                                                                 tiny_bert):
    data = copy_data(tmp_path / "data")
    from crypto_news_bench.data import dataset

    dataset.build(data)
    grid = write_grid(tmp_path / "configs", {
        "slow": f"model: finetune\ntrain_cap: 300\nparams:\n  model_name_or_path: {tiny_bert}\n"
                "  epochs: 40\n  batch_size: 8\n"}, ["stance"], seeds=[0, 1, 2, 3])
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    bench = subprocess.Popen(
        [str(CNBENCH), "bench", "--grid", str(grid), "--data-dir", str(data), "--jobs", "2",
         "--results", str(tmp_path / "results"), "--readme", "-"], cwd=tmp_path,
        env=env_for(uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len([r for r in parent_runs(uri) if r.info.status == "RUNNING"]) == 2,
                 180, "two RUNNING cells", bench)
        time.sleep(2)
        sent = time.monotonic()
        bench.send_signal(signal.SIGINT)  # to the bench alone, not to its workers
        _, err = bench.communicate(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, err[-3000:]
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    runs = parent_runs(uri)
    # The two running cells ended KILLED; no third cell was started.
    assert sorted(r.info.status for r in runs) == ["KILLED", "KILLED"]
