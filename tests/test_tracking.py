"""MLflow tracking of a training, in a temporary SQLite store: runs, tags, params, metrics,
dataset input, artifacts, the registered skops model; unreachable servers and interrupted runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from crypto_news_bench import __version__, cli
from crypto_news_bench.config import ExperimentConfig, load_config
from crypto_news_bench.data import dataset as ds
from crypto_news_bench.errors import TrackingError
from crypto_news_bench.models import MODELS, ModelSpec
from crypto_news_bench.tracking import orphans, registry, runs
from crypto_news_bench.tracking import store as tstore
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
CONFIG = REPO / "configs" / "tfidf_word_lr.yaml"
REGISTERED = "stance-tfidf_word_lr"
OOF_HEADER = ["id", "doc", "text", "gold", "predicted", "score"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store, the shipped tfidf_word_lr config trained twice on stance."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        config = load_config(CONFIG)
        first = train(config, "stance", data_dir=DATA_DIR, tracking_uri=uri)
        second = train(config, "stance", data_dir=DATA_DIR, tracking_uri=uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        exp = client.get_experiment_by_name("crypto-news-bench/stance")
        yield SimpleNamespace(uri=uri, folder=folder, first=first, second=second, client=client,
                              experiment_id=exp.experiment_id)


@pytest.fixture
def use_store(store, monkeypatch):
    """Make the module's store MLflow's default for one test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    mlflow.set_tracking_uri(store.uri)
    return store


@pytest.fixture(scope="module")
def stance_data():
    return ds.load("stance", DATA_DIR)


def parent_runs(store, config_name: str):
    return store.client.search_runs(
        [store.experiment_id],
        filter_string=f"tags.`cnbench.kind` = 'parent' and tags.`cnbench.config` = "
                      f"'{config_name}'",
        order_by=["attributes.start_time ASC"])


def download(store, run_id: str, path: str, dst: Path) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path,
                                                    dst_path=str(dst), tracking_uri=store.uri))


# -- one training ----------------------------------------------------------------------------

def test_parent_run_tags(store):
    run = store.client.get_run(store.first.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "tfidf_word_lr-seed0"  # seeds told apart in the UI
    assert run.info.experiment_id == store.experiment_id
    tags = run.data.tags
    assert tags["cnbench.kind"] == "parent"
    assert tags["cnbench.version"] == __version__
    assert tags["cnbench.dataset_hash"] == ds.dataset_hash("stance", DATA_DIR)
    assert len(tags["cnbench.dataset_hash"]) == 16
    assert tags["cnbench.config"] == "tfidf_word_lr"
    assert tags["cnbench.model"] == "tfidf_word_lr"
    assert tags["cnbench.task"] == "stance"
    assert "mlflow.parentRunId" not in tags


def test_nested_fold_runs(store, stance_data):
    folds = store.client.search_runs(
        [store.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{store.first.run_id}'")
    assert len(folds) == 3
    # Nothing strays into the default experiment (whose artifact root is ./mlruns).
    assert store.client.search_runs(["0"]) == []
    docs = sorted(set(stance_data["doc_id"]))
    assert sorted(r.data.tags["cnbench.held_out"] for r in folds) == docs
    assert sorted(r.info.run_name for r in folds) == [f"fold-{d}" for d in docs]
    total = 0
    for run in folds:
        assert run.info.status == "FINISHED"
        assert run.data.tags["cnbench.kind"] == "fold"
        assert run.data.tags["mlflow.parentRunId"] == store.first.run_id
        assert {"macro_f1", "accuracy", "f1_pro_crit", "fit_seconds"} <= set(run.data.metrics)
        params = run.data.params
        # Trained on the other real pages and every synthetic unit; tested on its own page.
        n_synthetic = len(ds.load("stance", DATA_DIR, "synthetic"))
        assert int(params["n_train"]) + int(params["n_test"]) == len(stance_data) + n_synthetic
        total += int(params["n_test"])
    assert total == len(stance_data)
    # The fold runs' metrics are the protocol's per-fold metrics.
    by_doc = {f.held_out: f for f in store.first.evaluation.folds}
    for run in folds:
        fold = by_doc[run.data.tags["cnbench.held_out"]]
        assert run.data.metrics["macro_f1"] == pytest.approx(fold.metrics["macro_f1"])


def test_params_are_the_flattened_config(store):
    params = store.client.get_run(store.first.run_id).data.params
    assert params["params.C"] == "1.0"
    assert params["params.ngram_max"] == "2"
    assert params["model"] == "tfidf_word_lr"
    assert params["name"] == "tfidf_word_lr"
    assert params["seed"] == "0"
    assert params["bootstrap_resamples"] == "1000"
    assert params["confidence"] == "0.95"
    assert params["tasks"] == "boilerplate,stance,claim_type"
    assert set(params) == set(load_config(CONFIG).flat())


def test_metrics(store):
    metrics = store.client.get_run(store.first.run_id).data.metrics
    ev = store.first.evaluation
    assert metrics["macro_f1"] == pytest.approx(ev.metrics["macro_f1"])
    assert metrics["accuracy"] == pytest.approx(ev.metrics["accuracy"])
    assert metrics["f1_pro_crit"] == pytest.approx(ev.metrics["f1_pro_crit"])
    assert (metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"]) == pytest.approx(ev.ci)
    assert 0 <= metrics["macro_f1_ci_low"] <= metrics["macro_f1_ci_high"] <= 1
    for label in ("promotional", "critical", "neutral"):
        assert metrics[f"f1_{label}"] == pytest.approx(ev.metrics["per_class"][label]["f1"])
    assert metrics["n"] == len(ev.predictions)
    assert metrics["n_absent_classes"] == 0
    assert metrics["throughput"] > 0


def test_dataset_inputs_training_and_evaluation(store, stance_data):
    """Two inputs with their contexts: what the run trains on (real + synthetic by default)
    and what it is scored on (the real pages only)."""
    run = store.client.get_run(store.first.run_id)
    inputs = {{t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset
              for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "evaluation"}
    folder = (DATA_DIR / "processed" / "stance").resolve()
    evaluation, training = inputs["evaluation"], inputs["training"]
    assert evaluation.name == "crypto-news-bench-stance-real"
    assert json.loads(evaluation.profile)["num_rows"] == len(stance_data)
    assert json.loads(evaluation.source)["uri"] == str(folder / "real.parquet")
    real_digest = ds.split_hash("stance", "real", DATA_DIR)
    assert evaluation.digest == hashlib.sha256(real_digest.encode()).hexdigest()[:16]
    synthetic = ds.load("stance", DATA_DIR, "synthetic")
    assert training.name == "crypto-news-bench-stance-train-real+synthetic"
    assert json.loads(training.profile)["num_rows"] == len(stance_data) + len(synthetic)
    assert json.loads(training.source)["uri"] == (
        f"{folder / 'real.parquet'},{folder / 'synthetic.parquet'}")
    assert training.digest != evaluation.digest
    assert run.data.tags["cnbench.train_on"] == "real+synthetic"
    assert run.data.tags["cnbench.dataset_hash"] == ds.dataset_hash("stance", DATA_DIR)


def test_artifacts(store, stance_data, tmp_path):
    run_id = store.first.run_id
    names = {a.path for a in store.client.list_artifacts(run_id)}
    assert {"confusion_matrix.png", "oof_predictions.csv", "metrics.json"} <= names

    png = download(store, run_id, "confusion_matrix.png", tmp_path)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    with download(store, run_id, "oof_predictions.csv", tmp_path).open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == OOF_HEADER
    assert len(rows) == len(stance_data) == 80
    assert sorted(r["id"] for r in rows) == sorted(stance_data["id"])
    labels = {"promotional", "critical", "neutral"}
    assert {r["gold"] for r in rows} <= labels and {r["predicted"] for r in rows} <= labels
    names_by_id = dict(zip(stance_data["id"], stance_data["label"], strict=True))
    label_names = ("promotional", "critical", "neutral")
    assert all(r["gold"] == label_names[names_by_id[r["id"]]] for r in rows)
    assert all(np.isfinite(float(r["score"])) for r in rows)

    report = json.loads(download(store, run_id, "metrics.json", tmp_path).read_text())
    assert report["task"] == "stance" and report["config"] == "tfidf_word_lr"
    assert report["pooled"]["macro_f1"] == pytest.approx(
        store.client.get_run(run_id).data.metrics["macro_f1"])
    assert report["macro_f1_ci"] == pytest.approx(list(store.first.evaluation.ci))
    assert [f["held_out"] for f in report["folds"]] == sorted(set(stance_data["doc_id"]))
    assert report["notes"] == store.first.evaluation.notes


def test_artifacts_live_beside_the_store(store):
    # The experiment's artifact root is the tmp folder, not the repository's mlruns/.
    exp = store.client.get_experiment(store.experiment_id)
    assert exp.artifact_location == (store.folder / "artifacts").as_uri()
    assert (store.folder / "artifacts" / store.first.run_id).is_dir()


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


def test_training_twice_makes_two_runs_and_two_versions(store):
    runs = parent_runs(store, "tfidf_word_lr")
    assert [r.info.run_id for r in runs] == [store.first.run_id, store.second.run_id]
    assert all(r.info.status == "FINISHED" for r in runs)
    versions = store.client.search_model_versions(f"name = '{REGISTERED}'")
    assert sorted((int(v.version), v.run_id) for v in versions) == [
        (1, store.first.run_id), (2, store.second.run_id)]
    # Same config, same data, same seed: the same numbers.
    m1 = store.client.get_run(store.first.run_id).data.metrics
    m2 = store.client.get_run(store.second.run_id).data.metrics
    for key in ("macro_f1", "accuracy", "f1_pro_crit", "macro_f1_ci_low", "macro_f1_ci_high"):
        assert m1[key] == m2[key]


def test_no_track_logs_nothing(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'never' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = load_config(CONFIG, {"bootstrap_resamples": 50})
    result = train(config, "stance", data_dir=DATA_DIR, track=False, tracking_uri=uri)
    assert result.run_id is None
    assert len(result.evaluation.predictions) == 80
    assert not (tmp_path / "never").exists()


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


# -- interrupted and failed runs -------------------------------------------------------------

@dataclass(frozen=True)
class LocalSpec(ModelSpec):
    """A registry entry whose factory is a local function rather than a module path."""

    func: Callable | None = None

    def load_factory(self) -> Callable:
        return self.func


def exploding(exc_type: type[BaseException], after: int = 0) -> Callable:
    """A factory of estimators whose fit raises ``exc_type`` from fit number ``after + 1``."""
    calls = {"n": 0}

    class Exploding:
        def fit(self, X, y):
            calls["n"] += 1
            if calls["n"] > after:
                raise exc_type("boom")
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def factory(task: str, seed: int) -> Exploding:
        return Exploding()

    return factory


def register(monkeypatch, name: str, factory: Callable) -> ExperimentConfig:
    monkeypatch.setitem(MODELS, name, LocalSpec(name=name, factory="local", description="test",
                                                tasks=("stance",), func=factory))
    return ExperimentConfig(name=name, model=name, tasks=("stance",), bootstrap_resamples=50)


def runs_of(store, config_name: str):
    return store.client.search_runs(
        [store.experiment_id], filter_string=f"tags.`cnbench.config` = '{config_name}'")


def assert_nothing_running(store):
    import mlflow

    assert mlflow.active_run() is None
    running = store.client.search_runs(
        [store.experiment_id], filter_string="attributes.status = 'RUNNING'")
    assert running == []


def test_keyboard_interrupt_ends_the_run_killed(use_store, monkeypatch):
    config = register(monkeypatch, "exploding-kbd", exploding(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        train(config, "stance", data_dir=DATA_DIR, tracking_uri=use_store.uri)
    [run] = runs_of(use_store, "exploding-kbd")
    assert run.info.status == "KILLED"
    assert run.data.tags["cnbench.kind"] == "parent"
    assert run.info.end_time is not None
    assert_nothing_running(use_store)


def test_exception_ends_the_run_failed(use_store, monkeypatch):
    # The first fold trains; the second fold's fit raises.
    config = register(monkeypatch, "exploding-err", exploding(RuntimeError, after=1))
    with pytest.raises(RuntimeError, match="boom"):
        train(config, "stance", data_dir=DATA_DIR, tracking_uri=use_store.uri)
    runs = runs_of(use_store, "exploding-err")
    [parent] = [r for r in runs if r.data.tags["cnbench.kind"] == "parent"]
    assert parent.info.status == "FAILED"
    folds = use_store.client.search_runs(
        [use_store.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert [(f.data.tags["cnbench.kind"], f.info.status) for f in folds] == [("fold", "FINISHED")]
    # Nothing was registered for a failed run.
    assert use_store.client.search_model_versions("name = 'stance-exploding-err'") == []
    assert_nothing_running(use_store)


def test_keyboard_interrupt_via_cli(use_store, monkeypatch, tmp_path, capsys):
    register(monkeypatch, "exploding-cli", exploding(KeyboardInterrupt))
    path = tmp_path / "exploding-cli.yaml"
    path.write_text("model: exploding-cli\ntasks: [stance]\nbootstrap_resamples: 50\n")
    code = cli.main(["train", str(path), "--data-dir", str(DATA_DIR)])
    assert code == 130
    assert capsys.readouterr().err == "interrupted\n"
    [run] = runs_of(use_store, "exploding-cli")
    assert run.info.status == "KILLED"
    assert_nothing_running(use_store)


def test_champion_uri_without_a_champion_is_a_clear_error(tmp_path, monkeypatch):
    from crypto_news_bench.tracking import store as tstore

    # setenv first, so the variable MLflow exports is restored after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/empty.db")
    tstore.setup()
    with pytest.raises(TrackingError,
                       match="no registered claim_type model has the 'champion' alias yet"):
        registry.champion_uri("claim_type")


def test_log_input_retries_once_after_a_collision(monkeypatch):
    """Two writers inserting one dataset: the loser's retry links the run to the winner's."""
    import mlflow
    from mlflow.exceptions import MlflowException

    calls = []

    def collide_once(data_input, context):
        calls.append(context)
        if len(calls) == 1:
            raise MlflowException("UNIQUE constraint failed: datasets.experiment_id")

    monkeypatch.setattr(mlflow, "log_input", collide_once)
    monkeypatch.setattr(orphans.time, "sleep", lambda s: None)
    runs._log_input(object(), "training")
    assert calls == ["training", "training"]

    def always(data_input, context):
        raise MlflowException("store is read-only")

    monkeypatch.setattr(mlflow, "log_input", always)
    with pytest.raises(MlflowException, match="store is read-only"):
        runs._log_input(object(), "evaluation")


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
