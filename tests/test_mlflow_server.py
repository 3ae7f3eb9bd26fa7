"""A training against a real ``mlflow server``, checked through the server's REST API."""

from __future__ import annotations

from pathlib import Path

import pytest
import servers

from crypto_news_bench.config import load_config
from crypto_news_bench.train import train

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"


@pytest.fixture
def server(tmp_path):
    proc = servers.start(tmp_path, port := servers.free_port())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        servers.stop(proc)


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
