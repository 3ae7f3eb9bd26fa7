"""crypto_news_bench.serving.flavours.sklearn: a scikit-learn model is logged to MLflow (and
registered) as a skops file, never a pickle, with its requirements pinned."""

from __future__ import annotations

from pathlib import Path

import yaml

REGISTERED = "stance-tfidf_word_lr"


def test_model_is_saved_with_skops_not_pickle(use_store, tmp_path):
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{REGISTERED}/1", dst_path=str(tmp_path / "model")))
    files = {p.name for p in local.rglob("*") if p.is_file()}
    assert "model.skops" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".cloudpickle"))]
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert mlmodel["flavors"]["sklearn"]["pickled_model"] == "model.skops"
    requirements = (local / "requirements.txt").read_text()
    assert "skops==" in requirements and "scikit-learn==" in requirements
