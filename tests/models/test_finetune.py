"""crypto_news_bench.models.finetune: the fine-tuned head covers every label, a seed makes training
deterministic, the bundled all-MiniLM-L6-v2 (``model_name_or_path: default``) fine-tunes offline
(slow); and the transformers Trainer's own MLflow callback (``report_to``) stays off: no stray runs
in the store trained with every method, no Trainer metrics in our runs (fine-tuning and SetFit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import TRAINED, one_torch_thread, runs_of, tiny_config
from tiny_units import LABELS, STANCE, TEXTS

from crypto_news_bench.data import dataset as ds
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.models import MODELS
from crypto_news_bench.models.finetune import FineTuneClassifier

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


def test_finetune_head_covers_every_label_but_predicts_seen_ones(evaluations):
    _, models = evaluations["finetune"]
    model = models["c"]
    assert model.model_.config.id2label == dict(enumerate(STANCE.labels))
    assert model.logits(TEXTS[:3]).shape == (3, len(STANCE.labels))


@pytest.fixture(scope="module")
def finetune_fits(tiny_bert):
    """FineTuneClassifier fitted three times: seed 0 twice, seed 1 once."""
    spec = MODELS["finetune"]
    params = tiny_config("finetune", tiny_bert).params
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return [spec.build("stance", seed, params).fit(TEXTS, LABELS) for seed in (0, 0, 1)]


def test_finetune_is_deterministic_for_a_seed(finetune_fits):
    first, second, other = (m.predict_proba(TEXTS) for m in finetune_fits)
    assert np.allclose(first, second, rtol=0, atol=1e-6)
    assert finetune_fits[0].history_ == finetune_fits[1].history_
    # ... and the seed matters, so the comparison above can fail.
    assert not np.allclose(first, other, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_default_minilm_fine_tunes_offline(repo_data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    data = ds.load("stance", repo_data_dir)
    # 16 units, every label present.
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(data["label"]):
        by_label.setdefault(y, []).append(i)
    rows = sorted(i for idx in by_label.values() for i in idx[:6])[:16]
    texts = [data["text"][i] for i in rows]
    labels = [data["label"][i] for i in rows]
    assert len(texts) == 16 and len(set(labels)) == 3

    with one_torch_thread():
        model = FineTuneClassifier(task="stance", model_name_or_path="default", epochs=2,
                                   batch_size=8, max_length=64, seed=0).fit(texts, labels)
        proba = model.predict_proba(texts)
        predicted = model.predict(texts)

    assert model.model_.config.model_type == "bert"
    assert model.model_.config.hidden_size == 384  # MiniLM, not the tiny test BERT
    assert len(model.history_) == 4  # 2 epochs x 2 batches, a loss per step
    assert all(math.isfinite(p["loss"]) for p in model.history_)
    assert proba.shape == (16, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(predicted) <= {0, 1, 2}
    assert model.model_.config.id2label == dict(enumerate(TASKS["stance"].labels))


# -- the Trainer's own MLflow callback, in the shared transformer store -------------------


def all_runs(client):
    from mlflow.entities import ViewType

    experiments = client.search_experiments(view_type=ViewType.ALL)
    return client.search_runs([e.experiment_id for e in experiments],
                              run_view_type=ViewType.ALL, max_results=10_000)


def test_no_stray_runs_in_any_experiment(transformer_store):
    """The Trainer's MLflow callback (report_to) must create no run of its own, anywhere."""
    runs = all_runs(transformer_store.client)
    parents = {r.info.run_id for r in runs if r.data.tags.get("cnbench.kind") == "parent"}
    assert parents == {res.run_id for res in transformer_store.results.values()}
    assert len(parents) == len(TRAINED)
    folds = [r for r in runs if r.data.tags.get("cnbench.kind") == "fold"]
    assert len(folds) == 3 * len(TRAINED)
    assert all(r.data.tags.get("mlflow.parentRunId") in parents for r in folds)
    assert len(runs) == len(parents) + len(folds)


@pytest.mark.parametrize("config_name", ["tiny-finetune", "tiny-setfit"])
def test_trainer_logs_nothing_into_the_runs(transformer_store, config_name):
    """Only our metrics: no Trainer bookkeeping (epoch, grad_norm, learning_rate, ...)."""
    parent, folds = runs_of(transformer_store, "stance", config_name)
    for run in [parent, *folds]:
        names = set(run.data.metrics)
        assert not names & {"loss", "epoch", "grad_norm", "learning_rate", "train_runtime",
                            "embedding_loss"}, run.info.run_name


def test_temperature_folds_into_the_classifier_so_pipeline_scores_are_calibrated(
        tiny_bert, tmp_path):
    """After ``attach``, the saved folder itself is calibrated: a plain transformers pipeline
    gives softmax(logits / T) of the model before calibration."""
    from transformers import pipeline

    from crypto_news_bench.evaluation.calibration import Calibration, attach, softmax
    from crypto_news_bench.models.finetune import FineTuneClassifier

    texts = ["Binance is safe", "Binance was fined", "A table", "Great rewards"]
    with one_torch_thread():
        model = FineTuneClassifier(task="stance", model_name_or_path=str(tiny_bert),
                                   epochs=1, batch_size=4).fit(texts, [0, 1, 2, 0])
        raw = model.logits(texts)
        attach(model, Calibration("temperature", temperature=4.0))
        model.save_pretrained(tmp_path)
        piped = pipeline("text-classification", model=str(tmp_path), device="cpu",
                         top_k=None)(texts)
    expected = softmax(raw, 4.0)
    labels = ["promotional", "critical", "neutral"]
    for row, probs in zip(piped, expected, strict=True):
        got = {d["label"]: d["score"] for d in row}
        assert [got[lab] for lab in labels] == pytest.approx(probs.tolist(), abs=1e-5)
