"""crypto_news_bench.serving.flavours.sklearn: a scikit-learn model is logged to MLflow (and
registered) as a "model from code" over a skops file and labels.json (the published-folder
layout), never a pickle, with its requirements pinned and a signature: a text column in, a label
name and its score out."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from crypto_news_bench.data.schema import TASKS

REGISTERED = "models:/crypto-news-bench-stance/1"


def download(tmp_path: Path) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=REGISTERED,
                                                    dst_path=str(tmp_path / "model")))


def test_model_is_saved_with_skops_not_pickle(use_store, tmp_path):
    local = download(tmp_path)
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"artifacts/model_dir/model.skops", "artifacts/model_dir/labels.json"} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".cloudpickle"))]
    assert json.loads((local / "artifacts" / "model_dir" / "labels.json").read_text()) == {
        "task": "stance", "labels": list(TASKS["stance"].labels)}
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert list(mlmodel["flavors"]) == ["python_function"]
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["model_code_path"].endswith("pyfunc.py") and "python_model" not in pyfunc
    requirements = (local / "requirements.txt").read_text()
    assert "skops==" in requirements and "scikit-learn==" in requirements


def test_logged_model_has_a_text_in_label_and_score_out_signature(use_store):
    import mlflow

    signature = mlflow.models.get_model_info(REGISTERED).signature
    assert signature.inputs.to_dict() == [{"type": "string", "name": "text",
                                           "required": True}]
    assert signature.outputs.to_dict() == [
        {"type": "string", "name": "label", "required": True},
        {"type": "double", "name": "score", "required": True}]


def test_logged_model_loads_through_the_checked_loader(use_store, tmp_path):
    from crypto_news_bench.serving.flavours import for_logged
    from crypto_news_bench.serving.flavours.sklearn import SklearnPredictor

    local = download(tmp_path)
    flavour = for_logged(local, REGISTERED, "stance")
    assert flavour.name == "sklearn"
    predictor = flavour.load_logged(local, "stance", "float32")
    assert isinstance(predictor, SklearnPredictor)
    final = use_store.first.evaluation.final_model
    texts = ["Binance is the best exchange", "Regulators sued the exchange over fraud"]
    assert [label for label, _ in predictor.predict(texts)] == [
        TASKS["stance"].labels[i] for i in final.predict(texts)]
