"""crypto_news_bench.evaluation.protocol: the leave-one-document-out protocol on hand-made data:
absent classes, pooled predictions, determinism, one-class training folds, the mapping onto the
full label space, and what train_on and train_cap let each fold fit on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from crypto_news_bench.config import ExperimentConfig
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.evaluation.protocol import Units, evaluate, label_scores, training_indices
from crypto_news_bench.models import MODELS as MODELS_

STANCE = TASKS["stance"]
PRO, CRIT, NEU = 0, 1, 2
TRAINABLE = ["majority", "tfidf_word_lr", "tfidf_char_svm"]

# Three documents; "critical" occurs in document c only, so c's fold trains without it.
UNITS = [
    # id, doc, text, label
    ("a:1", "a", "Binance launches great new rewards for users", PRO),
    ("a:2", "a", "Record growth delights loyal traders", PRO),
    ("a:3", "a", "The exchange opened an office in Paris", NEU),
    ("b:1", "b", "Users praise the fast new listings", PRO),
    ("b:2", "b", "Great rewards and lower fees for traders", PRO),
    ("b:3", "b", "The report was published on Monday", NEU),
    ("c:1", "c", "Regulators sue the exchange over fraud", CRIT),
    ("c:2", "c", "Great new rewards for loyal users", PRO),
    ("c:3", "c", "Critics warn of hidden risks and fraud", CRIT),
]


def columns(units):
    ids, docs, texts, labels = zip(*units, strict=True)
    return list(texts), list(labels), list(docs), list(ids)


def real(units) -> Units:
    return Units.of(*columns(units))


def config(model: str, seed: int = 0) -> ExperimentConfig:
    return ExperimentConfig(name=f"test-{model}", model=model, seed=seed, tasks=("stance",),
                            bootstrap_resamples=50)


@pytest.mark.parametrize("model", TRAINABLE)
def test_class_absent_from_a_training_fold(model):
    texts, labels, docs, ids = columns(UNITS)
    real_units = real(UNITS)
    ev = evaluate(config(model), "stance", real_units)
    assert [f.held_out for f in ev.folds] == ["a", "b", "c"]
    by_doc = {f.held_out: f for f in ev.folds}
    assert by_doc["c"].absent_classes == ["critical"]
    assert by_doc["a"].absent_classes == [] and by_doc["b"].absent_classes == []
    assert (by_doc["c"].n_train, by_doc["c"].n_test) == (6, 3)
    # Never predicted in that fold, though two of its three units are critical.
    assert [p["predicted"] for p in ev.predictions if p["doc"] == "c"].count("critical") == 0
    assert by_doc["c"].metrics["per_class"]["critical"]["recall"] == 0.0
    assert by_doc["c"].metrics["per_class"]["critical"]["support"] == 2
    assert ev.notes == ["fold c: critical absent from training, never predicted"]
    assert ev.final_model is not None


def test_pooled_predictions_cover_every_unit_once():
    texts, labels, docs, ids = columns(UNITS)
    real_units = real(UNITS)
    ev = evaluate(config("tfidf_word_lr"), "stance", real_units)
    assert len(ev.predictions) == len(UNITS)
    assert sorted(p["id"] for p in ev.predictions) == sorted(ids)
    for p, (uid, doc, text, label) in zip(ev.predictions, UNITS, strict=True):
        assert set(p) == {"id", "doc", "text", "gold", "predicted", "score"}
        assert (p["id"], p["doc"], p["text"], p["gold"]) == (uid, doc, text, STANCE.labels[label])
        assert p["predicted"] in STANCE.labels
        assert isinstance(p["score"], float) and math.isfinite(p["score"])
    # Pooled metrics are those of the pooled predictions.
    assert ev.metrics["n"] == len(UNITS)
    correct = sum(p["gold"] == p["predicted"] for p in ev.predictions)
    assert ev.metrics["accuracy"] == pytest.approx(correct / len(UNITS))
    assert sum(f.n_test for f in ev.folds) == len(UNITS)
    low, high = ev.ci
    assert 0.0 <= low <= high <= 1.0


def test_on_fold_sees_each_fold_as_it_finishes():
    texts, labels, docs, ids = columns(UNITS)
    real_units = real(UNITS)
    seen = []
    ev = evaluate(config("majority"), "stance", real_units,
                  on_fold=seen.append, fit_final=False)
    assert seen == ev.folds
    assert ev.final_model is None


@pytest.mark.parametrize("model", TRAINABLE)
def test_deterministic_for_a_seed(model):
    texts, labels, docs, ids = columns(UNITS)
    real_units = real(UNITS)
    first = evaluate(config(model, seed=3), "stance", real_units, fit_final=False)
    second = evaluate(config(model, seed=3), "stance", real_units, fit_final=False)
    assert first.predictions == second.predictions
    assert first.metrics == second.metrics
    assert first.ci == second.ci


def test_majority_predicts_the_training_majority():
    texts, labels, docs, ids = columns(UNITS)
    real_units = real(UNITS)
    ev = evaluate(config("majority"), "stance", real_units, fit_final=False)
    # Promotional is the most frequent training label in every fold (3, 3 and 4 of 6).
    assert {p["predicted"] for p in ev.predictions} == {"promotional"}
    assert ev.metrics["accuracy"] == pytest.approx(5 / 9)


@pytest.mark.parametrize("model", TRAINABLE)
def test_training_fold_with_one_class_only(model):
    units = [
        ("a:1", "a", "The exchange opened an office", NEU),
        ("a:2", "a", "The report was published on Monday", NEU),
        ("b:1", "b", "Trading hours are listed below", NEU),
        ("b:2", "b", "The company is based in Dubai", NEU),
        ("c:1", "c", "Great new rewards for loyal users", PRO),
        ("c:2", "c", "The exchange has an office in Paris", NEU),
    ]
    real_units = real(units)
    ev = evaluate(config(model), "stance", real_units)
    fold_c = ev.folds[2]
    assert fold_c.held_out == "c"
    # Trained on neutral only: a constant neutral prediction with probability 1.
    assert fold_c.absent_classes == ["promotional", "critical"]
    assert [(p["predicted"], p["score"]) for p in ev.predictions if p["doc"] == "c"] == \
        [("neutral", 1.0), ("neutral", 1.0)]
    assert "fold c: promotional, critical absent from training, never predicted" in ev.notes
    # The final model saw both classes, so it is a real estimator again.
    assert len(ev.final_model.classes_) == 2


def test_final_model_on_one_class_data_is_constant():
    units = [("a:1", "a", "An office", NEU), ("b:1", "b", "A report", NEU)]
    real_units = real(units)
    ev = evaluate(config("tfidf_word_lr"), "stance", real_units)
    assert isinstance(ev.final_model, DummyClassifier)
    assert ev.final_model.classes_.tolist() == [NEU]
    assert ev.metrics["accuracy"] == 1.0


def test_one_document_is_refused():
    real_units = real(UNITS[:3])
    with pytest.raises(ValueError, match="at least 2 documents, got 1"):
        evaluate(config("majority"), "stance", real_units)


# -- label_scores -----------------------------------------------------------------------------

class ProbaModel:
    def __init__(self, classes, proba):
        self.classes_ = np.array(classes)
        self._proba = np.array(proba, dtype=float)

    def predict_proba(self, X):
        return self._proba


class MarginModel:
    def __init__(self, classes, margins):
        self.classes_ = np.array(classes)
        self._margins = np.array(margins, dtype=float)

    def decision_function(self, X):
        return self._margins


def test_label_scores_maps_classes_onto_the_full_label_space():
    # classes_ out of order: column 0 is label 2, column 1 is label 0; label 1 never seen.
    model = ProbaModel([2, 0], [[0.7, 0.3], [0.2, 0.8]])
    pred, score = label_scores(model, ["x", "y"], 3)
    assert pred.tolist() == [2, 0]
    assert score.tolist() == pytest.approx([0.7, 0.8])


def test_label_scores_unseen_classes_rank_below_any_score():
    # All real margins negative: a 0-filled unseen column would win; -inf never does.
    model = MarginModel([0, 2], [[-5.0, -3.0], [-1.0, -9.0]])
    pred, score = label_scores(model, ["x", "y"], 3)
    assert pred.tolist() == [2, 0]
    # The score is the softmax of the margins; the unseen label gets probability 0.
    assert score.tolist() == pytest.approx([1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(-8.0))])


def test_label_scores_unseen_class_is_minus_inf():
    # Seen classes 1 and 2 both score the lowest finite float. Label 0 (unseen) can only lose
    # to them if its own score is -inf: any finite fill would tie and argmax would pick 0.
    lowest = -np.finfo(float).max
    pred, score = label_scores(MarginModel([1, 2], [[lowest, lowest]]), ["x"], 3)
    assert pred.tolist() == [1]
    assert score.tolist() == [0.5]


def test_label_scores_binary_margin():
    # A 1-D decision value: positive means classes_[1]; the logit of classes_[0] is -margin,
    # so the probability of the winner is sigmoid(2 * |margin|).
    model = MarginModel([0, 2], [2.0, -1.5])
    pred, score = label_scores(model, ["x", "y"], 3)
    assert pred.tolist() == [2, 0]
    assert score.tolist() == pytest.approx([1 / (1 + math.exp(-4.0)), 1 / (1 + math.exp(-3.0))])


def test_label_scores_constant_model():
    constant = DummyClassifier(strategy="most_frequent").fit(["a"], [1])
    pred, score = label_scores(constant, ["x", "y", "z"], 3)
    assert pred.tolist() == [1, 1, 1]
    assert score.tolist() == pytest.approx([1.0, 1.0, 1.0])


# -- train_on: the real pages and the synthetic corpus ------------------------------------------

SYNTHETIC = [
    ("s:1", "s", "Regulators fine the exchange for fraud", CRIT),
    ("s:2", "s", "Users praise great rewards", PRO),
    ("t:1", "t", "The exchange opened an office in Rome", NEU),
    ("t:2", "t", "Prosecutors charge the exchange with fraud", CRIT),
]


class Recorder:
    """A majority model that remembers what every fit and predict saw."""

    fits: list[list[str]] = []
    predicts: list[list[str]] = []

    def __init__(self):
        self.inner = DummyClassifier(strategy="most_frequent")

    def fit(self, X, y):
        Recorder.fits.append(list(X))
        self.inner.fit(X, y)
        self.classes_ = self.inner.classes_
        return self

    def predict_proba(self, X):
        Recorder.predicts.append(list(X))
        return self.inner.predict_proba(X)

    def scale_logits(self, factor):
        """Takes the protocol's calibration; a one-hot model has nothing to scale."""


@pytest.fixture
def recorder(monkeypatch):
    from crypto_news_bench.models import MODELS

    Recorder.fits, Recorder.predicts = [], []
    monkeypatch.setattr(type(MODELS["majority"]), "build",
                        lambda self, task, seed, params: Recorder())
    return Recorder


@pytest.mark.parametrize("train_on", ["real", "synthetic", "real+synthetic"])
def test_no_fold_tests_a_synthetic_unit(recorder, train_on):

    cfg = config("majority").replace(train_on=train_on)
    ev = evaluate(cfg, "stance", real(UNITS), real(SYNTHETIC), fit_final=False)
    synthetic_texts = {text for _, _, text, _ in SYNTHETIC}
    tested = [t for batch in recorder.predicts for t in batch]
    assert sorted(tested) == sorted(text for _, _, text, _ in UNITS)
    assert not synthetic_texts & set(tested)
    assert {p["id"] for p in ev.predictions} == {uid for uid, *_ in UNITS}
    assert [f.held_out for f in ev.folds] == ["a", "b", "c"]


def test_train_on_decides_what_each_fold_fits_on(recorder):

    syn_texts = [text for _, _, text, _ in SYNTHETIC]
    for train_on, expected_c in [
        ("real", [t for _, d, t, _ in UNITS if d != "c"]),
        ("synthetic", syn_texts),
        ("real+synthetic", [t for _, d, t, _ in UNITS if d != "c"] + syn_texts),
    ]:
        recorder.fits.clear()
        cfg = config("majority").replace(train_on=train_on)
        ev = evaluate(cfg, "stance", real(UNITS), real(SYNTHETIC))
        fold_c = ev.folds[2]
        assert fold_c.n_train == len(expected_c)
        # The last fit is the final model's: every unit the config trains on.
        final = recorder.fits[-1]
        if train_on == "synthetic":
            # Every fold trains on the same units: one fit serves the three folds, and it is
            # the final model too.
            assert recorder.fits == [syn_texts]
            assert ev.final_fit_seconds == 0.0
            # Its time counts once, in the fold that fitted it.
            assert [f.fit_seconds for f in ev.folds][1:] == [0.0, 0.0]
        else:
            assert recorder.fits[2] == expected_c
        expected_final = ([t for _, _, t, _ in UNITS] if "real" in train_on else []) + (
            syn_texts if "synthetic" in train_on else [])
        assert final == expected_final
        assert ev.n_train_final == {"real": len(UNITS) if "real" in train_on else 0,
                                    "synthetic": 4 if "synthetic" in train_on else 0}


def test_train_on_synthetic_without_a_synthetic_corpus_is_an_error():

    from crypto_news_bench.errors import DataError

    cfg = config("majority").replace(train_on="synthetic")
    with pytest.raises(DataError, match="config 'test-majority' has train_on: synthetic, but "
                                        "there are no synthetic stance units"):
        evaluate(cfg, "stance", real(UNITS))


def test_training_indices_cap_keeps_every_real_unit_and_samples_the_synthetic():
    real_idx, syn = training_indices("real+synthetic", [0, 1, 2], 10, cap=7, seed=0)
    assert real_idx == [0, 1, 2]
    assert len(syn) == 4 and syn == sorted(syn) and set(syn) <= set(range(10))
    # Seeded: the same seed gives the same sample, another seed (very likely) another.
    assert training_indices("real+synthetic", [0, 1, 2], 10, cap=7, seed=0)[1] == syn
    samples = {tuple(training_indices("real+synthetic", [0, 1, 2], 10, 7, s)[1])
               for s in range(5)}
    assert len(samples) > 1
    # Under the cap nothing is dropped; a cap below the real units samples them.
    assert training_indices("real+synthetic", [0, 1], 3, cap=10, seed=0) == ([0, 1], [0, 1, 2])
    small = training_indices("real", [0, 1, 2, 3], 10, cap=2, seed=0)
    assert len(small[0]) == 2 and small[1] == []


def test_train_cap_bounds_every_fit(recorder):

    cfg = config("majority").replace(train_cap=7)
    ev = evaluate(cfg, "stance", real(UNITS), real(SYNTHETIC))
    assert [f.n_train for f in ev.folds] == [7, 7, 7]
    assert all(len(fit) == 7 for fit in recorder.fits[:-1])
    # The final fit: all nine real units already exceed the cap; a sample of them.
    assert len(recorder.fits[-1]) == 7 and ev.n_train_final == {"real": 7, "synthetic": 0}


def test_the_tasks_per_task_entry_is_what_runs(recorder):
    cfg = config("majority").replace(train_cap=100, per_task={"stance": {"train_cap": 7},
                                                              "claim_type": {"train_cap": 5}})
    ev = evaluate(cfg, "stance", real(UNITS), real(SYNTHETIC))
    assert [f.n_train for f in ev.folds] == [7, 7, 7]


# --- calibration inside the protocol ---------------------------------------------------------


def test_ece_and_brier_are_reported_from_the_cross_fitted_scores():
    from crypto_news_bench.evaluation.calibration import calibration_metrics, cross_fitted
    from crypto_news_bench.evaluation.protocol import model_logits

    config = ExperimentConfig(name="t", model="tfidf_word_lr", train_on="real")
    units = Units.of(*columns(UNITS))
    ev = evaluate(config, "stance", units)
    # Recompute by hand: each fold's model logits on its held-out document, then calibration
    # fitted on the other documents only.
    logits = np.full((len(units), 3), -np.inf)
    for doc in ("a", "b", "c"):
        train = [i for i, d in enumerate(units.doc_ids) if d != doc]
        test = [i for i, d in enumerate(units.doc_ids) if d == doc]
        model = MODELS_["tfidf_word_lr"].build("stance", 0, {}).fit(
            [units.texts[i] for i in train], units.labels[train])
        logits[test] = model_logits(model, [units.texts[i] for i in test], 3)
    probs = cross_fitted(logits, units.labels, units.doc_ids, trainable=True)
    expected = calibration_metrics(probs, units.labels)
    assert ev.metrics["ece"] == pytest.approx(expected["ece"])
    assert ev.metrics["brier"] == pytest.approx(expected["brier"])
    assert [p["score"] for p in ev.predictions] == pytest.approx(probs.max(axis=1).tolist())
    assert ev.calibration.method == "temperature"


def test_the_final_model_carries_its_calibration():
    from crypto_news_bench.evaluation.calibration import softmax
    from crypto_news_bench.evaluation.protocol import model_logits

    config = ExperimentConfig(name="t", model="tfidf_word_lr", train_on="real")
    units = Units.of(*columns(UNITS))
    ev = evaluate(config, "stance", units)
    plain = MODELS_["tfidf_word_lr"].build("stance", 0, {}).fit(units.texts, units.labels)
    expected = softmax(model_logits(plain, units.texts, 3), ev.calibration.temperature)
    _, score = label_scores(ev.final_model, units.texts, 3)
    assert score == pytest.approx(expected.max(axis=1), rel=1e-6)


def test_rule_tools_get_their_out_of_fold_precision():
    config = ExperimentConfig(name="t", model="vader", train_on="real", tasks=("stance",))
    units = Units.of(*columns(UNITS))
    ev = evaluate(config, "stance", units)
    assert ev.calibration.method == "precision"
    pred = np.array([STANCE.labels.index(p["predicted"]) for p in ev.predictions])
    for k in range(3):
        mask = pred == k
        if mask.any():
            right = int(np.sum(units.labels[mask] == k))
            assert ev.calibration.precision[k] == pytest.approx((right + 1) / (mask.sum() + 2))
    assert ev.final_model.label_precision_ == list(ev.calibration.precision)
