"""scikit-learn baselines: majority class and two TF-IDF linear models.

The SVM has no probabilities: its decision values are the logits that calibration scales
(``evaluation.calibration``), and its score is their softmax."""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .params import PositiveFloat, PositiveInt


def majority(task: str, seed: int) -> DummyClassifier:
    # "prior": the same label as most_frequent, with the training label shares as
    # probabilities (a score that calibration can scale).
    return DummyClassifier(strategy="prior", random_state=seed)


def tfidf_word_lr(task: str, seed: int, ngram_max: PositiveInt = 2, min_df: PositiveInt = 1,
                  sublinear_tf: bool = True, C: PositiveFloat = 1.0,
                  max_iter: PositiveInt = 2000) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="word", ngram_range=(1, ngram_max), min_df=min_df,
                                  sublinear_tf=sublinear_tf, lowercase=True)),
        ("clf", LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter,
                                   random_state=seed)),
    ])


def tfidf_char_svm(task: str, seed: int, ngram_min: PositiveInt = 2, ngram_max: PositiveInt = 5,
                   min_df: PositiveInt = 1, sublinear_tf: bool = True,
                   C: PositiveFloat = 1.0) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(ngram_min, ngram_max),
                                  min_df=min_df, sublinear_tf=sublinear_tf, lowercase=True)),
        ("clf", LinearSVC(C=C, class_weight="balanced", random_state=seed)),
    ])
