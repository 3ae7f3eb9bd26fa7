"""crypto_news_bench.serving.pyfunc: an encoder + head model (frozen encoder, SetFit) and a
scikit-learn model are logged as an MLflow model from code over their published-folder layout,
with no pickled file and a signature (a text column in; label and score out), and load as a
pyfunc that returns a label name and a score per text: the labels of the final estimator."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import one_torch_thread, registered_uri, runs_of

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
    model = mlflow.pyfunc.load_model(registered_uri(parent))
    assert model.metadata.signature.inputs.input_names() == ["text"]
    out = model.predict(pd.DataFrame({"text": TEXTS}))
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["label", "score"]
    assert len(out) == len(TEXTS)
    assert set(out["label"]) <= set(TASKS["stance"].labels)
    assert out["score"].between(1 / 3, 1).all()
    # The logged model is the final one: the same labels as the in-memory estimator.
    final = use_transformer_store.results[("stance", config_name)].evaluation.final_model
    expected = [TASKS["stance"].labels[i] for i in final.predict(TEXTS)]
    assert out["label"].tolist() == expected


def test_sklearn_model_is_a_pyfunc_from_code_with_label_names(use_transformer_store):
    import mlflow

    parent, _ = runs_of(use_transformer_store, "stance", "tfidf_word_lr")
    model = mlflow.pyfunc.load_model(registered_uri(parent))
    out = model.predict(pd.DataFrame({"text": TEXTS}))
    assert list(out.columns) == ["label", "score"]
    assert out["label"].map(type).eq(str).all() and out["score"].dtype == float
    final = use_transformer_store.results[("stance", "tfidf_word_lr")].evaluation.final_model
    assert out["label"].tolist() == [TASKS["stance"].labels[i] for i in final.predict(TEXTS)]
    # A dict of lists (how MLflow's REST serving sends a column) gives one row per text too.
    assert model.predict({"text": TEXTS})["label"].tolist() == out["label"].tolist()
    assert len(model.predict(pd.DataFrame({"text": pd.Series([], dtype=object)}))) == 0
