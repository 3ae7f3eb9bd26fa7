"""crypto_news_bench.evaluation.calibration: ECE and Brier by hand, temperature fitting,
per-label precision for rule-based tools, cross-fitting, and folding into saved models."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_news_bench.evaluation import calibration as cal


def test_ece_on_a_hand_made_case():
    # Bin (0.8, 0.9]: confidences 0.9, 0.85 -> mean 0.875, one right of two -> |0.5 - 0.875|.
    # Bin (0.5, 0.6]: 0.6 and 0.55 -> mean 0.575, both right -> |1 - 0.575|.
    # Bin (0.2, 0.3]: 0.3 wrong -> |0 - 0.3|. Weights 2/5, 2/5, 1/5.
    conf = [0.9, 0.85, 0.6, 0.55, 0.3]
    correct = [True, False, True, True, False]
    expected = 0.4 * 0.375 + 0.4 * 0.425 + 0.2 * 0.3
    assert cal.expected_calibration_error(conf, correct) == pytest.approx(expected)


def test_ece_bins_are_closed_on_the_right():
    # 0.1 is in the first bin (0, 0.1], 1.0 in the last: nothing falls outside.
    assert cal.expected_calibration_error([0.1, 1.0], [False, True]) == pytest.approx(0.05)


def test_brier_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    y = [0, 2]
    expected = ((0.3**2 + 0.2**2 + 0.1**2) + (0.5**2 + 0.5**2 + 1.0**2)) / 2
    assert cal.brier_score(p, y) == pytest.approx(expected)


def test_temperature_recovers_an_overconfident_model():
    """Logits drawn from a model with temperature 1, then multiplied by 3 (overconfident): the
    fitted temperature is about 3, and scaling brings ECE down."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 3))
    p = cal.softmax(true_logits)
    y = np.array([rng.choice(3, p=row) for row in p])
    logits = true_logits * 3
    t = cal.fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.1)
    before = cal.calibration_metrics(cal.softmax(logits), y)["ece"]
    after = cal.calibration_metrics(cal.softmax(logits, t), y)["ece"]
    assert after < before / 3


def test_temperature_never_changes_the_label():
    logits = np.array([[2.0, 1.0, -np.inf], [0.1, 0.3, -np.inf]])
    for t in (0.2, 1.0, 7.0):
        p = cal.softmax(logits, t)
        assert p.argmax(axis=1).tolist() == [0, 1]
        assert p[:, 2].tolist() == [0.0, 0.0]  # an unseen label stays impossible


def test_label_precision_with_one_pseudo_count_each_way():
    pred = [0, 0, 0, 1]
    gold = [0, 0, 1, 1]
    # label 0: 2 right of 3 -> (2+1)/(3+2); label 1: 1 of 1 -> 2/3; label 2 never predicted.
    assert cal.label_precision(pred, gold, 3) == pytest.approx([0.6, 2 / 3, 1 / 3])


def test_precision_probabilities_keep_the_rule_decision():
    p = cal.precision_probabilities([0, 1], [0.2, 0.9, 0.5], 3)
    assert p.argmax(axis=1).tolist() == [0, 1]
    assert p.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert p[1].tolist() == pytest.approx([0.05, 0.9, 0.05])


def test_cross_fitted_uses_only_the_other_documents():
    """Document b's confidence comes from a's and c's precision, never its own."""
    onehot = np.log(np.array([[1, 1e-12], [1e-12, 1]]))
    logits = onehot[[0, 0, 0, 0, 0, 0]]  # always label 0
    y = np.array([0, 0, 1, 1, 0, 0])  # a: right twice, b: wrong twice, c: right twice
    groups = ["a", "a", "b", "b", "c", "c"]
    probs = cal.cross_fitted(logits, y, groups, trainable=False)
    # for b: label 0 right 4 of 4 elsewhere -> 5/6; for a: right 2 of 4 -> 3/6.
    assert probs[2, 0] == pytest.approx(5 / 6)
    assert probs[0, 0] == pytest.approx(0.5 + 1e-3)  # floored just above 1/2: keeps label 0


def test_attach_folds_the_temperature_into_a_linear_pipeline():
    from crypto_news_bench.evaluation.protocol import label_scores, model_logits
    from crypto_news_bench.models.baselines import tfidf_char_svm, tfidf_word_lr

    texts = ["Binance is great", "Binance was fined", "Binance listed a token",
             "Regulators sued Binance", "Record volumes at Binance", "Binance hacked"]
    y = [0, 1, 2, 1, 0, 1]
    for build in (tfidf_word_lr, tfidf_char_svm):
        model = build("stance", 0).fit(texts, y)
        raw = model_logits(model, texts, 3)
        cal.attach(model, cal.Calibration("temperature", temperature=2.5))
        _, score = label_scores(model, texts, 3)
        expected = cal.softmax(raw, 2.5)
        assert score == pytest.approx(expected.max(axis=1), rel=1e-6)


def test_attach_gives_rule_tools_their_precision():
    from crypto_news_bench.models.external import VaderStanceClassifier

    model = VaderStanceClassifier().fit(["x"])
    cal.attach(model, cal.Calibration("precision", precision=(0.7, 0.6, 0.8)))
    p = model.predict_proba(["Binance is wonderful and great", "a table"])
    assert p.max(axis=1).tolist() == pytest.approx([0.7, 0.8])


def test_attach_refuses_a_model_it_cannot_scale():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="cannot fold a temperature into Opaque"):
        cal.attach(Opaque(), cal.Calibration("temperature", temperature=2.0))
