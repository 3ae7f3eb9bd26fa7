"""SetFit: contrastive fine-tuning of the sentence encoder on pairs, then a logistic head."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np

from .encoder import DEFAULT_MODEL, freeze, loss_recorder, resolve_model
from .frozen import EncoderHeadClassifier, cap_length
from .params import ModelPath, NonNegativeInt, PositiveFloat, PositiveInt


class SetFitClassifier(EncoderHeadClassifier):
    def __init__(self, model_name_or_path: ModelPath = DEFAULT_MODEL,
                 num_iterations: PositiveInt = 5, epochs: PositiveInt = 1,
                 batch_size: PositiveInt = 16, body_learning_rate: PositiveFloat = 2e-5,
                 max_length: PositiveInt = 128, C: PositiveFloat = 1.0,
                 freeze_layers: NonNegativeInt = 0, seed: NonNegativeInt = 0):
        self.model_name_or_path = model_name_or_path
        self.num_iterations = num_iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_length = max_length
        self.C = C
        self.freeze_layers = freeze_layers
        self.seed = seed

    def fit(self, X: Sequence[str], y) -> SetFitClassifier:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from setfit import logging as setfit_logging
        from transformers import PrinterCallback

        X, y = list(X), np.asarray(y, dtype=int)
        classes = np.unique(y)
        if len(classes) < 2:
            # setfit itself fails deep in its pair sampler with an IndexError.
            raise ValueError(f"SetFit needs at least two classes in its training data to form "
                             f"negative pairs; got only class {classes.tolist()} "
                             f"({len(X)} texts)")
        history: list[dict] = []

        # setfit logs a banner per training and warns that a plain encoder has no head yet
        # (we train one); neither says anything at INFO/WARNING worth a line per fold.
        setfit_logging.set_verbosity_error()
        model = SetFitModel.from_pretrained(
            resolve_model(self.model_name_or_path), device="cpu",
            head_params={"C": self.C, "class_weight": "balanced", "max_iter": 2000,
                         "random_state": self.seed},
        )
        # setfit's own max_length reaches only the classifier phase; the contrastive phase and
        # encode() read the body's limit (256 for MiniLM), so it is set here, for training
        # and for the published model alike.
        cap_length(model.model_body, self.max_length)
        # The first module of a sentence-transformers body wraps the transformers model.
        freeze(model.model_body[0].auto_model, embeddings=self.freeze_layers > 0,
               layers=self.freeze_layers)
        data = Dataset.from_dict({"text": X, "label": y.tolist()})
        with tempfile.TemporaryDirectory() as out:
            args = TrainingArguments(
                output_dir=out, batch_size=self.batch_size, num_epochs=self.epochs,
                num_iterations=self.num_iterations, body_learning_rate=self.body_learning_rate,
                max_length=self.max_length, seed=self.seed, logging_steps=1,
                save_strategy="no", report_to="none",
                show_progress_bar=False,
            )
            trainer = Trainer(model=model, args=args, train_dataset=data,
                              callbacks=[loss_recorder(history, "embedding_loss")])
            # The loss goes to MLflow through the recorder, not to stdout once per step.
            trainer.remove_callback(PrinterCallback)
            trainer.train()
        self.body_, self.head_ = model.model_body, model.model_head
        self.classes_ = self.head_.classes_
        self.history_ = history
        return self
