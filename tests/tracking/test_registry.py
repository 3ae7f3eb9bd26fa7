"""crypto_news_bench.tracking.registry: one registered model per task, ``crypto-news-bench-<task>``,
whose versions are the configs' final models (tagged with their config and seed; the TF-IDF one
loads as a pyfunc and gives label names); the aliases ``champion`` and ``challenger`` on the two
best configs, ranked like the leaderboard (mean macro-F1 over seeds, the newest version of each
config, the newest on a tie), moving when a better config arrives; a clear error where there is
no champion yet; in temporary SQLite stores."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TRAINED, one_torch_thread, runs_of

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.errors import TrackingError
from crypto_news_bench.tracking import registry, runs
from crypto_news_bench.tracking import store as tstore

NAME = "crypto-news-bench-stance"
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


def test_registered_name():
    assert registry.registered_name("stance") == NAME
    assert registry.registered_name("claim_type") == "crypto-news-bench-claim_type"


# -- the TF-IDF store: one config trained twice ----------------------------------------------


def test_registered_model_loads_and_predicts_label_names(use_store):
    import mlflow

    version = use_store.client.get_model_version(NAME, "1")
    assert version.run_id == use_store.first.run_id
    assert version.status == "READY"
    out = mlflow.pyfunc.load_model(f"models:/{NAME}/1").predict(pd.DataFrame({"text": TEXTS}))
    assert list(out.columns) == ["label", "score"]
    final = use_store.first.evaluation.final_model
    assert out["label"].tolist() == [TASKS["stance"].labels[i] for i in final.predict(TEXTS)]
    assert out["score"].between(0, 1).all()


def test_versions_name_their_config_and_seed(store):
    for number, result in (("1", store.first), ("2", store.second)):
        version = store.client.get_model_version(NAME, number)
        assert version.run_id == result.run_id
        assert version.tags["cnbench.config"] == "tfidf_word_lr"
        assert version.tags["cnbench.seed"] == "0"
        assert version.description.startswith("tfidf_word_lr (seed 0) on stance")
        tags = store.client.get_run(result.run_id).data.tags
        assert (tags["cnbench.registered_model"], tags["cnbench.registered_version"]) == (
            NAME, number)
    assert [rm.name for rm in store.client.search_registered_models()] == [NAME]


def test_one_config_is_champion_with_its_newest_version_and_no_challenger(store):
    aliases = store.client.get_registered_model(NAME).aliases
    assert {k: str(v) for k, v in aliases.items()} == {registry.CHAMPION: "2"}


def test_champion_uri_without_a_champion_is_a_clear_error(tmp_path, monkeypatch):
    # setenv first, so the variable MLflow exports is restored after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/empty.db")
    tstore.setup()
    with pytest.raises(TrackingError,
                       match="no registered claim_type model has the 'champion' alias yet"):
        registry.champion_uri("claim_type")


# -- aliases, on hand-made runs and versions ---------------------------------------------------


class Registry:
    """Parent runs with a macro-F1 and, for the runs that hold a model, registered versions."""

    def __init__(self, uri: str):
        from mlflow.tracking import MlflowClient

        tstore.setup(uri)
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.experiment = tstore.experiment_id("stance")
        self.clock = 1_000

    def run(self, config: str, f1: float, seed: int = 0, model: bool = True,
            status: str = "FINISHED") -> str | None:
        """A parent run (finished unless told); returns its version number when it holds a
        model."""
        self.clock += 1_000
        run = self.client.create_run(self.experiment, start_time=self.clock, tags={
            runs.KIND_TAG: "parent", "cnbench.config": config, "cnbench.task": "stance",
            "cnbench.seed": str(seed)})
        run_id = run.info.run_id
        self.client.log_metric(run_id, "macro_f1", f1)
        self.client.set_terminated(run_id, status)
        if not model:
            return None
        if not self.client.search_registered_models(f"name = '{NAME}'"):
            self.client.create_registered_model(NAME)
        return str(self.client.create_model_version(
            NAME, f"runs:/{run_id}/model", run_id=run_id,
            tags={"cnbench.config": config, "cnbench.seed": str(seed)}).version)

    def aliases(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.client.get_registered_model(NAME).aliases.items()}


@pytest.fixture
def reg(mlflow_store):
    return Registry(mlflow_store)


def test_champion_and_challenger_are_the_two_best_configs(reg):
    a = reg.run("A", 0.5)
    b = reg.run("B", 0.4)
    reg.run("C", 0.3)
    assert registry.update_aliases("stance") == {"champion": (NAME, a), "challenger": (NAME, b)}
    assert reg.aliases() == {"champion": a, "challenger": b}
    assert registry.champion_uri("stance") == f"models:/{NAME}@champion"
    assert registry.alias_uri("stance", "challenger") == f"models:/{NAME}@challenger"


def test_champion_and_challenger_swap_when_a_better_model_arrives(reg):
    a = reg.run("A", 0.5)
    b = reg.run("B", 0.4)
    registry.update_aliases("stance")
    assert reg.aliases() == {"champion": a, "challenger": b}
    # B again (the same seed): its newer run replaces the older one, and its newer version
    # is the candidate.
    b2 = reg.run("B", 0.8)
    registry.update_aliases("stance")
    assert reg.aliases() == {"champion": b2, "challenger": a}
    # A second seed of B, without a model (as the bench runs it), brings B's mean to 0.45:
    # the ranking is the leaderboard's, the mean over seeds.
    reg.run("B", 0.1, seed=1, model=False)
    registry.update_aliases("stance")
    assert reg.aliases() == {"champion": a, "challenger": b2}


def test_one_candidate_per_config_and_the_newest_on_a_tie(reg):
    a1 = reg.run("A", 0.5)
    a2 = reg.run("A", 0.5)
    assert registry.update_aliases("stance") == {"champion": (NAME, a2)}
    b = reg.run("B", 0.5)  # ties with A: the newer version wins
    assert registry.update_aliases("stance") == {"champion": (NAME, b),
                                                "challenger": (NAME, a2)}
    assert a1 not in reg.aliases().values()


def test_a_stale_challenger_is_removed(reg):
    reg.run("A", 0.5)
    b = reg.run("B", 0.4)
    reg.client.set_registered_model_alias(NAME, "challenger", b)
    # B's runs are gone from the board (deleted): A is the only candidate left.
    for run in reg.client.search_runs([reg.experiment]):
        if run.data.tags["cnbench.config"] == "B":
            reg.client.delete_run(run.info.run_id)
    out = registry.update_aliases("stance")
    assert list(out) == ["champion"]
    assert "challenger" not in reg.aliases()
    with pytest.raises(TrackingError, match="no registered stance model has the 'challenger'"):
        registry.alias_uri("stance", "challenger")


def test_a_version_whose_run_did_not_finish_is_no_candidate(reg):
    a = reg.run("A", 0.5)
    reg.run("A", 0.9, status="FAILED")
    assert registry.update_aliases("stance") == {"champion": (NAME, a)}


def test_no_candidate_no_alias(reg):
    assert registry.update_aliases("stance") == {}
    reg.run("A", 0.5, model=False)
    assert registry.update_aliases("stance") == {}


# -- the store trained with every method ---------------------------------------------------


@pytest.mark.parametrize("config_name", METHODS)
def test_flavour_tags_and_registered_version(transformer_store, config_name):
    flavour, _ = METHODS[config_name]
    parent, _ = runs_of(transformer_store, "stance", config_name)
    tags = parent.data.tags
    assert tags["cnbench.flavour"] == flavour
    assert tags["cnbench.registered_model"] == NAME
    assert tags["cnbench.model_uri"].startswith("models:/")
    versions = [v for v in transformer_store.client.search_model_versions(f"name = '{NAME}'")
                if v.run_id == parent.info.run_id]
    assert [str(v.version) for v in versions] == [tags["cnbench.registered_version"]]
    assert versions[0].tags["cnbench.config"] == config_name
    assert versions[0].tags["cnbench.flavour"] == flavour
    assert config_name in versions[0].description


@pytest.mark.parametrize("task", ["stance", "boilerplate", "claim_type"])
def test_one_registered_model_per_task_with_champion_and_challenger(transformer_store, task):
    client = transformer_store.client
    name = registry.registered_name(task)
    names = {rm.name for rm in client.search_registered_models()}
    assert name in names and not {n for n in names if n.endswith(f"-{task}")} - {name}
    trained = sorted(c for t, c in TRAINED if t == task)
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.tags["cnbench.config"] for v in versions) == trained
    ranked = sorted(((client.get_run(v.run_id).data.metrics["macro_f1"], int(v.version))
                     for v in versions), reverse=True)
    expected = {"champion": str(ranked[0][1])}
    if len(ranked) > 1:
        expected["challenger"] = str(ranked[1][1])
    aliases = client.get_registered_model(name).aliases
    assert {k: str(v) for k, v in aliases.items()} == expected


def test_champion_loads_as_a_pyfunc(use_transformer_store):
    import mlflow

    uri = registry.champion_uri("stance")
    assert uri == f"models:/{NAME}@champion"
    out = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": TEXTS}))
    assert len(out) == len(TEXTS)
    assert set(out["label"]) <= set(TASKS["stance"].labels)

