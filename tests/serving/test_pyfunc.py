"""crypto_news_bench.serving.pyfunc: an encoder + head model (frozen encoder, SetFit) is logged as
an MLflow model from code, with no pickled file, and loads as a pyfunc that returns a label and a
score per text: the labels of the final estimator."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import one_torch_thread, runs_of

from crypto_news_bench.data.schema import TASKS

TEXTS = ["Binance said it holds all customer assets in segregated accounts.",
         "The SEC lawsuit alleged the exchange misled customers."]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.mark.parametrize("config_name", ["tiny-frozen_encoder", "tiny-setfit"])
def test_encoder_head_model_is_a_pyfunc_from_code(use_transformer_store, config_name, tmp_path):
    import mlflow

    parent, _ = runs_of(use_transformer_store, "stance", config_name)
    uri = parent.data.tags["cnbench.model_uri"]
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path))
    files = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert "head.skops" in files and "model.safetensors" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".bin", ".cloudpickle"))]
    assert local
    model = mlflow.pyfunc.load_model(f"models:/stance-{config_name}/1")
    out = model.predict(TEXTS)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["label", "score"]
    assert len(out) == len(TEXTS)
    assert set(out["label"]) <= set(TASKS["stance"].labels)
    assert out["score"].between(1 / 3, 1).all()
    # The logged model is the final one: the same labels as the in-memory estimator.
    final = use_transformer_store.results[("stance", config_name)].evaluation.final_model
    expected = [TASKS["stance"].labels[i] for i in final.predict(TEXTS)]
    assert out["label"].tolist() == expected
