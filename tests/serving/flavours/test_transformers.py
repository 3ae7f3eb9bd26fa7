"""crypto_news_bench.serving.flavours.transformers: a fine-tuned model logged to MLflow loads as a
pyfunc that predicts what the estimator predicts; the predictor of a published folder truncates
to the model's positions, runs a bfloat16 copy that scores close to float32, and never lowers its
token budget below one text of full length."""

from __future__ import annotations

import pytest
from conftest import ARTICLE, parent_run, registered_uri

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.serving.flavours.transformers import TransformersPredictor

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")

STANCE = list(TASKS["stance"].labels)
TEXTS = ["Binance said it holds all customer assets in segregated accounts.",
         "The SEC lawsuit alleged the exchange misled customers."]


def test_transformers_model_loads_as_a_pyfunc(use_transformer_store):
    import mlflow

    model = mlflow.pyfunc.load_model(registered_uri(parent_run(use_transformer_store,
                                                               "tiny-finetune")))
    # MLflow's transformers flavour infers the signature: text in, label and score out.
    signature = model.metadata.signature
    assert [c["type"] for c in signature.inputs.to_dict()] == ["string"]
    assert [(c["name"], c["type"]) for c in signature.outputs.to_dict()] == [
        ("label", "string"), ("score", "double")]
    out = model.predict(TEXTS)
    assert list(out["label"]) and set(out["label"]) <= set(TASKS["stance"].labels)
    final = use_transformer_store.results[("stance", "tiny-finetune")].evaluation.final_model
    # The pipeline's softmax runs over every label of the head, so the argmax can differ
    # from the estimator's (seen labels only) only if a label was unseen: not on stance.
    assert list(final.classes_) == [0, 1, 2]
    expected = [TASKS["stance"].labels[i] for i in final.predict(TEXTS)]
    assert out["label"].tolist() == expected
    assert out["score"].tolist() == pytest.approx(final.predict_proba(TEXTS).max(axis=1),
                                                  abs=1e-4)


def test_predictor_truncates_to_the_model_positions(published):
    """A sentence longer than the tiny BERT's 128 positions is truncated, not a crash."""
    predictor = TransformersPredictor.from_folder(published["tiny-finetune"])
    assert predictor.max_length == 128
    long_text = "Withdrawals were paused yesterday; customers complained loudly online. " * 5
    assert len(predictor.tokenizer(long_text)["input_ids"]) > 128
    [(label, score)] = predictor.predict([long_text])
    assert label in STANCE and 0 < score <= 1


def test_bfloat16_predictor_runs_a_copy_and_scores_close_to_float32(model_dirs):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from crypto_news_bench.serving.flavours.transformers import TransformersPredictor

    folder = model_dirs["stance"]
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    texts = [s.text for s in sentences(blocks("a", ARTICLE))]
    p32 = TransformersPredictor(model, tok).probabilities(texts)
    bf16 = TransformersPredictor(model, tok, precision="bfloat16")
    assert bf16.model.dtype == torch.bfloat16
    assert model.dtype == torch.float32  # the caller's model is left as it was
    p16 = bf16.probabilities(texts)
    assert p16.dtype == p32.dtype == "float32"
    assert p16.sum(axis=1) == pytest.approx([1.0] * len(texts), abs=1e-6)
    # bfloat16 keeps 8 bits of mantissa: close to float32, not equal.
    assert abs(p16 - p32).max() < 0.05
    loaded = TransformersPredictor.from_folder(folder, precision="bfloat16")
    assert loaded.model.dtype == torch.bfloat16
    assert loaded.probabilities(texts) == pytest.approx(p16, abs=1e-6)


def test_predictor_token_budget_never_below_one_full_text(model_dirs):
    from crypto_news_bench.serving.flavours.transformers import TransformersPredictor

    folder = model_dirs["stance"]
    tight = TransformersPredictor.from_folder(folder, max_length=64, max_tokens=16)
    assert tight.max_tokens == 64  # raised to one text of full length, not refused
    texts = ["Binance said users are safe.", "The SEC disagreed. " * 20]
    roomy = TransformersPredictor.from_folder(folder, max_length=64)
    assert tight.probabilities(texts) == pytest.approx(roomy.probabilities(texts), abs=1e-5)
