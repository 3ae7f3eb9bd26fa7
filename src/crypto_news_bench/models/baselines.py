"""scikit-learn baselines: majority class and two TF-IDF linear models."""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC


def majority(task: str, seed: int) -> DummyClassifier:
    return DummyClassifier(strategy="most_frequent", random_state=seed)


def tfidf_word_lr(task: str, seed: int, ngram_max: int = 2, min_df: int = 1,
                  sublinear_tf: bool = True, C: float = 1.0, max_iter: int = 2000) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="word", ngram_range=(1, ngram_max), min_df=min_df,
                                  sublinear_tf=sublinear_tf, lowercase=True)),
        ("clf", LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter,
                                   random_state=seed)),
    ])


def tfidf_char_svm(task: str, seed: int, ngram_min: int = 2, ngram_max: int = 5,
                   min_df: int = 1, sublinear_tf: bool = True, C: float = 1.0) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(ngram_min, ngram_max),
                                  min_df=min_df, sublinear_tf=sublinear_tf, lowercase=True)),
        ("clf", LinearSVC(C=C, class_weight="balanced", random_state=seed)),
    ])
