"""crypto_news_bench.models: the three transformer methods of the registry are estimators like the
others. Through the leave-one-document-out protocol, on a tiny random BERT and the hand-made units
of tiny_units.py, each predicts every unit once, never predicts a class absent from a fold's
training data, and gives probabilities that sum to one over the classes it saw."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_units import DOCS, IDS, LABELS, METHODS, NEU, PRO, STANCE, TEXTS

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


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
