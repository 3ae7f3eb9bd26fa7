"""crypto_news_bench.train (``cnbench train``): without tracking a training logs nothing; under
``torchrun --nproc_per_node=2`` on CPU (DDP over gloo, slow) every rank trains and only rank 0
tracks, so one launch gives one parent run, three fold runs and one model version."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crypto_news_bench.config import load_config
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
CONFIG = REPO / "configs" / "tfidf_word_lr.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_track_logs_nothing(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'never' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = load_config(CONFIG, {"bootstrap_resamples": 50})
    result = train(config, "stance", data_dir=DATA_DIR, track=False, tracking_uri=uri)
    assert result.run_id is None
    assert len(result.evaluation.predictions) == 80
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_torchrun_two_processes_tracks_once(tiny_bert, tmp_path):
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    torchrun = Path(sys.executable).with_name("torchrun")
    assert torchrun.exists(), torchrun
    config = tmp_path / "tiny_ddp.yaml"
    config.write_text(yaml.safe_dump({
        "model": "finetune",
        "params": {"model_name_or_path": str(tiny_bert), "epochs": 1, "batch_size": 8},
    }), encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", f"--master_port={free_port()}",
         "scripts/train_transformer.py", str(config), "--task", "stance"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    # Only rank 0 tracked: one result line with a run id (another rank may print "run -").
    lines = [line for line in proc.stdout.splitlines() if line.startswith("stance")]
    tracked = [line for line in lines if not line.rstrip().endswith("run -")]
    assert len(tracked) == 1, proc.stdout

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs([e.experiment_id for e in experiments],
                              run_view_type=ViewType.ALL)
    parents = [r for r in runs if r.data.tags.get("cnbench.kind") == "parent"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["cnbench.config"] == "tiny_ddp"
    folds = [r for r in runs if r.data.tags.get("cnbench.kind") == "fold"]
    assert len(folds) == 3
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in folds)
    assert tracked[0].rstrip().endswith(f"run {parent.info.run_id}")
    assert len(runs) == 4
    for fold in folds:
        # Two ranks of batch 8 share each epoch: half the steps one process would take.
        n_train = int(fold.data.params["n_train"])
        steps = math.ceil(math.ceil(n_train / 2) / 8)
        history = client.get_metric_history(fold.info.run_id, "train_loss")
        assert steps > 1
        assert sorted(m.step for m in history) == list(range(1, steps + 1)), n_train
    versions = client.search_model_versions("name = 'crypto-news-bench-stance'")
    assert [(int(v.version), v.run_id) for v in versions] == [(1, parent.info.run_id)]
    assert versions[0].tags["cnbench.config"] == "tiny_ddp"
    assert len(client.search_registered_models()) == 1
