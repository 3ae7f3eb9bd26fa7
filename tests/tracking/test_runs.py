"""crypto_news_bench.tracking.runs: the parent run of a training and its nested fold runs, in
temporary SQLite stores. TF-IDF: tags, params, metrics, the training and evaluation dataset inputs,
a second training making a second run, a run ended KILLED by Ctrl-C or FAILED by an error (and no
run left RUNNING), and a dataset input retried after a collision. The transformer methods: three
fold runs each, with the loss curve of each fold."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import one_torch_thread
from conftest import runs_of as transformer_runs_of

from crypto_news_bench import __version__, cli
from crypto_news_bench.config import ExperimentConfig, load_config
from crypto_news_bench.data import dataset as ds
from crypto_news_bench.models import MODELS, ModelSpec
from crypto_news_bench.tracking import orphans, runs
from crypto_news_bench.train import train

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data"
CONFIG = REPO / "configs" / "tfidf_word_lr.yaml"
REGISTERED = "crypto-news-bench-stance"
METHODS = {  # config name -> (flavour, has a loss curve)
    "tiny-finetune": ("transformers", True),
    "tiny-frozen_encoder": ("encoder_head", False),
    "tiny-setfit": ("encoder_head", True),
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def parent_runs(store, config_name: str):
    return store.client.search_runs(
        [store.experiment_id],
        filter_string=f"tags.`cnbench.kind` = 'parent' and tags.`cnbench.config` = "
                      f"'{config_name}'",
        order_by=["attributes.start_time ASC"])


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
        # Named fold_*: sorting runs by a pooled metric never mixes in a fold's.
        assert {"fold_macro_f1", "fold_accuracy", "fold_f1_pro_crit", "fold_fit_seconds",
                "fold_predict_seconds", "fold_n_absent_classes", "fold_f1_critical"
                } <= set(run.data.metrics)
        assert not {m for m in run.data.metrics if not m.startswith("fold_")}
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
        assert run.data.metrics["fold_macro_f1"] == pytest.approx(fold.metrics["macro_f1"])


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
    assert not [v for v in use_store.client.search_model_versions(f"name = '{REGISTERED}'")
                if v.run_id == parent.info.run_id]
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


# -- the transformer methods, in the store trained with every method --------------------


@pytest.mark.parametrize("config_name", METHODS)
def test_parent_run_and_three_fold_runs(transformer_store, config_name):
    parent, folds = transformer_runs_of(transformer_store, "stance", config_name)
    result = transformer_store.results[("stance", config_name)]
    assert parent.info.run_id == result.run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["cnbench.model"] == config_name.removeprefix("tiny-")
    held_out = sorted(f.held_out for f in result.evaluation.folds)
    assert len(held_out) == 3
    assert sorted(r.info.run_name for r in folds) == [f"fold-{doc}" for doc in held_out]
    assert all(r.data.tags["cnbench.kind"] == "fold" for r in folds)
    assert all(r.info.status == "FINISHED" for r in folds)
    assert all(r.info.experiment_id == parent.info.experiment_id for r in folds)
    assert parent.data.metrics["macro_f1"] == pytest.approx(
        result.evaluation.metrics["macro_f1"])


@pytest.mark.parametrize("config_name", METHODS)
def test_fold_runs_have_the_loss_curve(transformer_store, config_name):
    _, has_curve = METHODS[config_name]
    _, folds = transformer_runs_of(transformer_store, "stance", config_name)
    evaluation = transformer_store.results[("stance", config_name)].evaluation
    expected = {f.held_out: f.history for f in evaluation.folds}
    for run in folds:
        history = transformer_store.client.get_metric_history(run.info.run_id, "train_loss")
        if not has_curve:
            assert history == []
            continue
        assert len(history) > 1, run.info.run_name
        assert all(math.isfinite(m.value) for m in history)
        points = sorted((m.step, m.value) for m in history)
        want = sorted((p["step"], p["loss"]) for p in expected[run.data.tags["cnbench.held_out"]])
        assert [s for s, _ in points] == [s for s, _ in want]
        assert [v for _, v in points] == pytest.approx([v for _, v in want])
