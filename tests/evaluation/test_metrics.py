"""crypto_news_bench.evaluation.metrics: metrics against values worked out by hand, and the two
bootstraps' guarantees."""

from __future__ import annotations

import pytest

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.evaluation.metrics import (
    bootstrap_ci,
    classification_metrics,
    macro_f1,
    paired_bootstrap,
    pro_crit_f1,
)

STANCE = TASKS["stance"]
PRO, CRIT, NEU = 0, 1, 2  # ("promotional", "critical", "neutral")


def test_stance_label_ids_are_what_the_hand_computations_assume():
    assert STANCE.labels == ("promotional", "critical", "neutral")
    assert (STANCE.label_id("promotional"), STANCE.label_id("critical"),
            STANCE.label_id("neutral")) == (PRO, CRIT, NEU)


def test_every_class_present():
    gold = [PRO, PRO, PRO, CRIT, CRIT, NEU, NEU, NEU]
    pred = [PRO, PRO, CRIT, CRIT, NEU, NEU, NEU, PRO]
    # promotional: predicted at 0,1,7 (3), correct at 0,1 (2), gold 3 -> P=2/3 R=2/3 F1=2/3
    # critical:    predicted at 2,3 (2),   correct at 3 (1),   gold 2 -> P=1/2 R=1/2 F1=1/2
    # neutral:     predicted at 4,5,6 (3), correct at 5,6 (2), gold 3 -> P=2/3 R=2/3 F1=2/3
    # macro-F1 = (2/3 + 1/2 + 2/3) / 3 = (11/6) / 3 = 11/18
    # accuracy = correct at 0,1,3,5,6 = 5/8
    # f1_pro_crit = (2/3 + 1/2) / 2 = 7/12
    m = classification_metrics(gold, pred, STANCE)
    assert m["macro_f1"] == pytest.approx(11 / 18)
    assert macro_f1(gold, pred) == pytest.approx(11 / 18)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["n"] == 8
    assert m["f1_pro_crit"] == pytest.approx(7 / 12)
    assert pro_crit_f1(gold, pred, STANCE) == pytest.approx(7 / 12)
    pc = m["per_class"]
    assert list(pc) == ["promotional", "critical", "neutral"]
    assert pc["promotional"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert pc["critical"] == pytest.approx(
        {"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2})
    assert pc["neutral"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})


def test_class_missing_from_predictions():
    gold = [PRO, PRO, CRIT, CRIT, NEU, NEU]
    pred = [PRO, PRO, PRO, NEU, NEU, NEU]
    # promotional: predicted at 0,1,2 (3), correct 2, gold 2 -> P=2/3 R=1 F1=2*(2/3)/(5/3)=4/5
    # critical:    never predicted (0 of 2 found)             -> P=0 (zero_division) R=0 F1=0
    # neutral:     predicted at 3,4,5 (3), correct 2, gold 2 -> P=2/3 R=1 F1=4/5
    # macro-F1 = (4/5 + 0 + 4/5) / 3 = 8/15; accuracy = 4/6 = 2/3
    # f1_pro_crit = (4/5 + 0) / 2 = 2/5
    m = classification_metrics(gold, pred, STANCE)
    assert m["macro_f1"] == pytest.approx(8 / 15)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["f1_pro_crit"] == pytest.approx(2 / 5)
    assert m["per_class"]["critical"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                          "support": 2}
    assert m["per_class"]["promotional"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 4 / 5, "support": 2})
    assert m["per_class"]["neutral"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 4 / 5, "support": 2})


def test_class_missing_from_gold():
    gold = [PRO, PRO, NEU, NEU]
    pred = [PRO, CRIT, NEU, NEU]
    # promotional: predicted at 0 (1), correct 1, gold 2 -> P=1 R=1/2 F1=2*(1/2)/(3/2)=2/3
    # critical:    predicted once, never in gold          -> P=0/1=0 R=0 (zero_division) F1=0
    # neutral:     predicted at 2,3, both right, gold 2   -> P=1 R=1 F1=1
    # critical is predicted, so it counts in the macro average (classes in gold OR predictions):
    # macro-F1 = (2/3 + 0 + 1) / 3 = 5/9; accuracy = 3/4; f1_pro_crit = (2/3 + 0) / 2 = 1/3
    m = classification_metrics(gold, pred, STANCE)
    assert m["macro_f1"] == pytest.approx(5 / 9)
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["f1_pro_crit"] == pytest.approx(1 / 3)
    assert m["per_class"]["critical"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                          "support": 0}
    assert m["per_class"]["promotional"] == pytest.approx(
        {"precision": 1.0, "recall": 1 / 2, "f1": 2 / 3, "support": 2})


def test_class_in_neither_gold_nor_predictions_is_not_averaged():
    # Only promotional and neutral occur, both perfectly: macro over {pro, neu} = (1 + 1) / 2.
    gold = pred = [PRO, NEU, NEU]
    assert macro_f1(gold, pred) == 1.0
    m = classification_metrics(gold, pred, STANCE)
    assert m["per_class"]["critical"]["support"] == 0


def test_secondary_metric_only_for_stance():
    m = classification_metrics([0, 1, 1], [0, 1, 0], TASKS["boilerplate"])
    assert "f1_pro_crit" not in m
    # content: P=1/2 (1 of 2) R=1 F1=2/3; boilerplate: P=1 R=1/2 F1=2/3 -> macro 2/3
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert set(m["per_class"]) == {"content", "boilerplate"}


# -- bootstrap ------------------------------------------------------------------------------

# 60 units, 20 per class; the prediction is wrong on 12 of them (every fifth unit shifted).
GOLD = [i % 3 for i in range(60)]
PRED = [(g + 1) % 3 if i % 5 == 0 else g for i, g in enumerate(GOLD)]


def test_bootstrap_ci_is_deterministic_for_a_seed():
    a = bootstrap_ci(GOLD, PRED, n_resamples=300, seed=7)
    b = bootstrap_ci(GOLD, PRED, n_resamples=300, seed=7)
    assert a == b
    assert bootstrap_ci(GOLD, PRED, n_resamples=300, seed=8) != a


def test_bootstrap_ci_is_a_valid_interval_around_the_estimate():
    point = macro_f1(GOLD, PRED)
    assert point == pytest.approx(0.8)  # 48 of 60 right, every class symmetric
    low, high = bootstrap_ci(GOLD, PRED, n_resamples=500, seed=0)
    assert 0.0 <= low <= point <= high <= 1.0
    assert low < high
    # A narrower confidence gives a narrower interval from the same resamples.
    low90, high90 = bootstrap_ci(GOLD, PRED, n_resamples=500, confidence=0.5, seed=0)
    assert low <= low90 <= high90 <= high


def test_bootstrap_ci_of_a_perfect_prediction_is_degenerate():
    assert bootstrap_ci(GOLD, GOLD, n_resamples=100, seed=0) == (1.0, 1.0)


def test_paired_bootstrap_perfect_against_all_wrong():
    wrong = [(g + 1) % 3 for g in GOLD]
    # A scores 1 and B scores 0 on every resample: the difference is 1 everywhere.
    out = paired_bootstrap(GOLD, GOLD, wrong, n_resamples=200, seed=0)
    assert out["diff"] == 1.0
    assert out["low"] == 1.0 and out["high"] == 1.0
    assert out["low"] > 0  # the interval excludes 0
    assert out["p_value"] == 0.0
    assert out["n_resamples"] == 200


def test_paired_bootstrap_identical_models():
    out = paired_bootstrap(GOLD, PRED, PRED, n_resamples=200, seed=0)
    assert out["diff"] == 0.0
    assert (out["low"], out["high"]) == (0.0, 0.0)
    # A never beats B: every resample counts against A.
    assert out["p_value"] == 1.0


def test_paired_bootstrap_is_deterministic_for_a_seed():
    a = paired_bootstrap(GOLD, PRED, GOLD[::-1], n_resamples=200, seed=3)
    assert paired_bootstrap(GOLD, PRED, GOLD[::-1], n_resamples=200, seed=3) == a


@pytest.mark.parametrize("a_len, b_len", [(59, 60), (60, 59)])
def test_paired_bootstrap_unequal_lengths_raise(a_len, b_len):
    with pytest.raises(ValueError, match="paired bootstrap needs equal lengths, got 60"):
        paired_bootstrap(GOLD, PRED[:a_len], PRED[:b_len])


def test_paired_bootstrap_models_differing_on_one_unit_of_four():
    gold = [PRO, PRO, CRIT, CRIT]
    a = [PRO, PRO, CRIT, CRIT]  # perfect: macro-F1 over {pro, crit} = 1
    b = [PRO, PRO, CRIT, PRO]  # wrong on unit 3 only
    # B, promotional: predicted at 0,1,3 (3), correct 2, gold 2 -> P=2/3 R=1 F1=4/5
    # B, critical:    predicted at 2 (1),     correct 1, gold 2 -> P=1 R=1/2 F1=2/3
    # B macro-F1 = (4/5 + 2/3) / 2 = 11/15; A - B = 1 - 11/15 = 4/15
    out = paired_bootstrap(gold, a, b, n_resamples=2000, seed=0)
    assert out["diff"] == pytest.approx(4 / 15)
    # A is perfect on every resample, so A - B is never negative; it is 0 exactly when unit 3
    # is not drawn, which happens with probability (3/4)^4 = 81/256 per resample: more than
    # 2.5% of them, so the lower bound is 0, and p(A <= B) is about 81/256.
    assert out["low"] == 0.0
    assert out["diff"] < out["high"] <= 1.0
    assert out["p_value"] == pytest.approx(81 / 256, abs=0.04)


def test_macro_f1_rows_matches_scikit_learn_row_by_row():
    import numpy as np
    from sklearn.metrics import f1_score

    from crypto_news_bench.evaluation.metrics import macro_f1_rows

    rng = np.random.default_rng(7)
    # Few units and six classes, so rows miss classes in gold, in predictions, or both.
    gold = rng.integers(0, 6, size=(300, 9))
    pred = rng.integers(0, 6, size=(300, 9))
    pred[:20] = gold[:20]  # perfect rows
    pred[20:40] = 5  # one predicted class
    expected = [f1_score(g, p, average="macro", zero_division=0) for g, p in zip(gold, pred,
                                                                                   strict=True)]
    np.testing.assert_allclose(macro_f1_rows(gold, pred), expected, atol=1e-12)
