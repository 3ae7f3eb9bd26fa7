"""crypto_news_bench.tracking.registry: each final model registered as a version (the TF-IDF one
loads and predicts), the flavour tags and registered model of the transformer methods, the
``champion`` alias on the best version of each task, and a clear error where there is none yet;
in temporary SQLite stores."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TRAINED, one_torch_thread, runs_of

from crypto_news_bench.errors import TrackingError
from crypto_news_bench.tracking import registry

REGISTERED = "stance-tfidf_word_lr"
METHODS = {  # config name -> (flavour, has a loss curve)
    "tiny-finetune": ("transformers", True),
    "tiny-frozen_encoder": ("encoder_head", False),
    "tiny-setfit": ("encoder_head", True),
}
TEXTS = ["Binance said it holds all customer assets in segregated accounts.",
         "The SEC lawsuit alleged the exchange misled customers."]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


# -- the TF-IDF store -----------------------------------------------------------------------


def test_registered_model_loads_and_predicts(use_store, tmp_path):
    import mlflow

    version = use_store.client.get_model_version(REGISTERED, "1")
    assert version.run_id == use_store.first.run_id
    assert version.status == "READY"
    model = mlflow.sklearn.load_model(f"models:/{REGISTERED}/1")
    texts = ["Binance is the best exchange with amazing rewards",
             "Regulators sued the exchange over fraud"]
    pred = model.predict(texts)
    assert pred.shape == (2,)
    assert set(pred.tolist()) <= {0, 1, 2}
    assert pred.tolist() == use_store.first.evaluation.final_model.predict(texts).tolist()


def test_champion_uri_without_a_champion_is_a_clear_error(tmp_path, monkeypatch):
    from crypto_news_bench.tracking import store as tstore

    # setenv first, so the variable MLflow exports is restored after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/empty.db")
    tstore.setup()
    with pytest.raises(TrackingError,
                       match="no registered claim_type model has the 'champion' alias yet"):
        registry.champion_uri("claim_type")


# -- the store trained with every method ---------------------------------------------------


@pytest.mark.parametrize("config_name", METHODS)
def test_flavour_tags_and_registered_model(transformer_store, config_name):
    flavour, _ = METHODS[config_name]
    parent, _ = runs_of(transformer_store, "stance", config_name)
    tags = parent.data.tags
    assert tags["cnbench.flavour"] == flavour
    name = f"stance-{config_name}"
    assert tags["cnbench.registered_model"] == name
    assert tags["cnbench.model_uri"].startswith("models:/")
    versions = transformer_store.client.search_model_versions(f"name = '{name}'")
    assert [(str(v.version), v.run_id) for v in versions] == [("1", parent.info.run_id)]


@pytest.mark.parametrize("task", ["stance", "boilerplate", "claim_type"])
def test_champion_is_the_best_version_of_the_task(transformer_store, task):
    client = transformer_store.client
    models = client.search_registered_models(filter_string=f"name LIKE '{task}-%'")
    trained = sorted(f"{t}-{name}" for t, name in TRAINED if t == task)
    assert sorted(rm.name for rm in models) == trained
    with_alias = [rm for rm in models if registry.CHAMPION in rm.aliases]
    assert len(with_alias) == 1
    scores = {}
    for rm in models:
        for v in client.search_model_versions(f"name = '{rm.name}'"):
            scores[(rm.name, v.version)] = client.get_run(v.run_id).data.metrics["macro_f1"]
    champion = (with_alias[0].name, with_alias[0].aliases[registry.CHAMPION])
    assert scores[champion] == max(scores.values())


@pytest.mark.xfail(strict=True, reason="the scikit-learn pyfunc hands the DataFrame to the "
                   "vectoriser, which reads its column names; the uniform pyfunc fixes it")
def test_champion_loads_as_a_pyfunc(use_transformer_store):
    import mlflow

    uri = registry.champion_uri("stance")
    name = uri.removeprefix("models:/").removesuffix(f"@{registry.CHAMPION}")
    assert name in {f"stance-{n}" for t, n in TRAINED if t == "stance"}
    out = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": TEXTS}))
    assert len(out) == len(TEXTS)
