"""A training against a real ``mlflow server``, checked through the server's REST API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crypto_news_bench.config import load_config
from crypto_news_bench.train import train

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
MLFLOW = Path(sys.executable).parent / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the server's whole process group; SIGKILL to whatever is left after
    ``timeout`` (workers can outlive the main process)."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    import requests

    port = free_port()
    log = (tmp_path / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'db.sqlite'}",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n"
                            f"{(tmp_path / 'server.log').read_text()}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after 60 s:\n"
                            f"{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        log.close()


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
                        params={"name": "stance-tfidf_word_lr"}, timeout=10)
    assert resp.status_code == 200, resp.text
    model = resp.json()["registered_model"]
    assert model["name"] == "stance-tfidf_word_lr"
    [version] = model["latest_versions"]
    assert version["version"] == "1" and version["run_id"] == result.run_id

    # Artifacts went through the server into its destination, not into the repository.
    files = {p.name for p in (tmp_path / "artifacts").rglob("*") if p.is_file()}
    assert {"oof_predictions.csv", "metrics.json", "confusion_matrix.png", "model.skops"} <= files
