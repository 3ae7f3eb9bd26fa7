"""crypto_news_bench.tracking.store: where runs go. The embedded SQLite store, created once even
when two benches open a new one at once (slow), keeps artifacts beside it; a real ``mlflow server``
(slow) takes a training, checked through its REST API, and when it dies mid-run the training ends
with one line and its run is marked FAILED later; an unreachable server fails fast; a tracking URI
of an unknown scheme is one line."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import servers
from conftest import parent_runs
from processes import CNBENCH, copy_data, env_for, wait_for, write_grid

from crypto_news_bench import cli
from crypto_news_bench.config import load_config
from crypto_news_bench.errors import TrackingError
from crypto_news_bench.tracking import runs
from crypto_news_bench.tracking import store as tstore
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data"
CONFIG = REPO / "configs" / "tfidf_word_lr.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    proc = servers.start(tmp_path, port := servers.free_port())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        servers.stop(proc)


# -- the embedded store ----------------------------------------------------------------------


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


def test_artifacts_live_beside_the_store(store):
    # The experiment's artifact root is the tmp folder, not the repository's mlruns/.
    exp = store.client.get_experiment(store.experiment_id)
    assert exp.artifact_location == (store.folder / "artifacts").as_uri()
    assert (store.folder / "artifacts" / store.first.run_id).is_dir()


def test_experiments_are_tagged_as_model_training(store):
    """MLflow 3's UI opens an experiment tagged custom_model_development in its "Model
    training" view."""
    exp = store.client.get_experiment(store.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_an_experiment_made_before_the_tag_gets_it(mlflow_store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    tstore.setup(mlflow_store)
    old = client.create_experiment(tstore.experiment_name("claim_type"))
    assert "mlflow.experimentKind" not in client.get_experiment(old).tags
    assert tstore.experiment_id("claim_type") == old
    assert client.get_experiment(old).tags["mlflow.experimentKind"] == \
        "custom_model_development"


# -- a real mlflow server ------------------------------------------------------------------


@pytest.mark.slow
def test_training_against_a_real_server(server, tmp_path, monkeypatch):
    import requests

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    config = load_config(REPO / "configs" / "tfidf_word_lr.yaml", {"bootstrap_resamples": 200})
    result = train(config, "stance", data_dir=DATA_DIR, tracking_uri=server)
    api = f"{server}/api/2.0/mlflow"

    resp = requests.get(f"{api}/experiments/get-by-name",
                        params={"experiment_name": "crypto-news-bench/stance"}, timeout=10)
    assert resp.status_code == 200, resp.text
    experiment = resp.json()["experiment"]
    assert experiment["name"] == "crypto-news-bench/stance"

    resp = requests.post(f"{api}/runs/search", timeout=10, json={
        "experiment_ids": [experiment["experiment_id"]],
        "filter": "tags.`cnbench.kind` = 'parent'"})
    assert resp.status_code == 200, resp.text
    [run] = resp.json()["runs"]
    assert run["info"]["run_id"] == result.run_id
    assert run["info"]["status"] == "FINISHED"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics["macro_f1"] == pytest.approx(result.evaluation.metrics["macro_f1"])
    assert {"accuracy", "f1_pro_crit", "macro_f1_ci_low", "macro_f1_ci_high"} <= set(metrics)
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["cnbench.config"] == "tfidf_word_lr"

    resp = requests.post(f"{api}/runs/search", timeout=10, json={
        "experiment_ids": [experiment["experiment_id"]],
        "filter": f"tags.mlflow.parentRunId = '{result.run_id}'"})
    assert len(resp.json()["runs"]) == 3

    resp = requests.get(f"{api}/registered-models/get",
                        params={"name": "crypto-news-bench-stance"}, timeout=10)
    assert resp.status_code == 200, resp.text
    model = resp.json()["registered_model"]
    assert model["name"] == "crypto-news-bench-stance"
    [version] = model["latest_versions"]
    assert version["version"] == "1" and version["run_id"] == result.run_id

    # Artifacts went through the server into its destination, not into the repository.
    files = {p.name for p in (tmp_path / "artifacts").rglob("*") if p.is_file()}
    assert {"oof_predictions.csv", "metrics.json", "confusion_matrix.png", "model.skops"} <= files


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
    # As a terminal shows it: a progress bar cut short leaves its cursor moves on the line.
    shown = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", err)
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
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


# -- an unreachable server -------------------------------------------------------------------

def test_unreachable_server_fails_fast(monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = load_config(CONFIG)
    start = time.monotonic()
    with pytest.raises(TrackingError) as exc:
        train(config, "stance", data_dir=DATA_DIR)
    assert time.monotonic() - start < 15
    assert uri in str(exc.value)
    assert str(exc.value).startswith(f"cannot reach the MLflow tracking server at {uri} (")
    # The explicit argument wins over the environment and fails the same way.
    other = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TrackingError, match=other):
        train(config, "stance", data_dir=DATA_DIR, tracking_uri=other)


def test_unreachable_server_via_cli(monkeypatch, capsys):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.monotonic()
    code = cli.main(["train", str(CONFIG), "--task", "stance", "--data-dir", str(DATA_DIR)])
    assert time.monotonic() - start < 15
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the MLflow tracking server at ")
    assert uri in err


def test_check_reachable_ignores_local_stores():
    tstore.check_reachable("sqlite:////nonexistent/mlflow.db")
    tstore.check_reachable("file:///nonexistent")


@pytest.mark.parametrize("uri, scheme", [("foo://host/x", "'foo'"), ("mlruns", "'(none)'"),
                                         ("file:///tmp/store", "'file'")])
@pytest.mark.parametrize("command", [["compare"], ["train", str(CONFIG), "--task", "stance"]])
def test_a_tracking_uri_with_an_unknown_scheme_is_one_line(monkeypatch, capsys, uri, scheme,
                                                           command):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert cli.main(command) == 2
    assert capsys.readouterr().err == (
        f"error: tracking URI {uri!r}: unknown scheme {scheme}; use http(s)://HOST:PORT for a "
        "server or sqlite:///PATH for a local store (MLflow's plain-folder store is not "
        "supported)\n")


def test_known_schemes_pass_the_check():
    for uri in ("sqlite:///x.db", "http://h:5000", "https://h", "postgresql+psycopg2://u@h/db",
                "databricks"):
        if "://" in uri:
            tstore.check_scheme(uri)
