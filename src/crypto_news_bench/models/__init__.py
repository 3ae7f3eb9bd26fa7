"""The model registry: every model a config can name, what it supports and how it is saved.

Each model is a scikit-learn-style estimator (``fit(texts, y)``, ``predict``, ``predict_proba``
or ``decision_function``, ``classes_``), so the protocol, tracking and publishing treat a
TF-IDF pipeline, a rule-based tool and a fine-tuned transformer alike. Factories are imported
lazily: naming a transformer model must not import torch for ``cnbench --help``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..data.schema import TASKS


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: str  # "module:function", relative to this package
    description: str
    tasks: tuple[str, ...] = tuple(TASKS)
    # How the final model is saved: "sklearn" (skops), "transformers" (a plain transformers
    # folder) or "encoder_head" (a sentence-transformers folder + a skops head).
    flavour: str = "sklearn"
    trainable: bool = True
    # Whether training depends on the seed: only then do more seeds say anything.
    seeded: bool = False
    # Relative cost of training, for ordering a parallel bench (costliest first).
    cost: int = 0

    def load_factory(self) -> Callable:
        module, func = self.factory.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), func)

    def param_names(self) -> list[str]:
        sig = inspect.signature(self.load_factory())
        return [p for p in sig.parameters if p not in ("task", "seed")]

    def param_schema(self):
        """A pydantic model of the parameters, built from the constructor's type hints (see
        ``params``): strict types, the allowed ranges, no unknown names."""
        from typing import Any, get_type_hints

        from pydantic import ConfigDict, create_model

        factory = self.load_factory()
        try:
            hints = get_type_hints(factory.__init__ if isinstance(factory, type) else factory,
                                   include_extras=True)
        except (NameError, TypeError):  # a hint that does not resolve: no checks beyond names
            hints = {}
        fields = {name: (hints.get(name, Any), p.default)
                  for name, p in inspect.signature(factory).parameters.items()
                  if name not in ("task", "seed")}
        return create_model(f"{self.name}_params",
                            __config__=ConfigDict(extra="forbid", strict=True), **fields)

    def build(self, task: str, seed: int, params: dict):
        """A fresh, unfitted estimator for one task (task and seed go to those that take them)."""
        factory = self.load_factory()
        accepted = inspect.signature(factory).parameters
        given = {k: v for k, v in (("task", task), ("seed", seed)) if k in accepted}
        return factory(**given, **params)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("majority", "baselines:majority", "Always the most frequent training label."),
        ModelSpec("tfidf_word_lr", "baselines:tfidf_word_lr",
                  "TF-IDF word n-grams + logistic regression (balanced class weights)."),
        ModelSpec("tfidf_char_svm", "baselines:tfidf_char_svm",
                  "TF-IDF character n-grams + linear SVM (balanced class weights)."),
        ModelSpec("justext", "external:JusTextClassifier",
                  "jusText's paragraph classifier, untrained.",
                  tasks=("boilerplate",), trainable=False),
        ModelSpec("vader", "external:VaderStanceClassifier",
                  "VADER sentiment mapped to stance, untrained.",
                  tasks=("stance",), trainable=False),
        ModelSpec("frozen_encoder", "frozen:FrozenEncoderClassifier",
                  "Frozen pretrained encoder: mean-pooled embeddings + logistic regression.",
                  flavour="encoder_head", cost=1),
        ModelSpec("layout_encoder", "layout:LayoutEncoderClassifier",
                  "Structure-aware boilerplate: frozen-encoder embeddings + page layout and "
                  "neighbour features + logistic regression.",
                  # Cost 0: the grid runs it after the frozen encoder, whose embeddings of
                  # the same blocks it then reads from the bench's embedding cache.
                  tasks=("boilerplate",), flavour="encoder_head", cost=0),
        ModelSpec("finetune", "finetune:FineTuneClassifier",
                  "Fine-tuned AutoModelForSequenceClassification (transformers Trainer).",
                  flavour="transformers", seeded=True, cost=2),
        ModelSpec("setfit", "setfit_model:SetFitClassifier",
                  "SetFit: contrastive fine-tuning of a sentence encoder + logistic regression.",
                  flavour="encoder_head", seeded=True, cost=2),
    ]
}
