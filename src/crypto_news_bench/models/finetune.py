"""Fine-tuning: ``AutoModelForSequenceClassification`` trained with the transformers ``Trainer``,
or, when the lower layers are frozen, on their cached outputs (``upper_layers``).

Tokenised once, padded per batch, length-grouped, seeded and deterministic on CPU. Runs
unchanged under ``torchrun`` (DDP over gloo on CPU): the Trainer reads the launcher's
environment, and only rank 0 tracks and writes (see ``distributed``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..data.schema import TASKS
from . import upper_layers
from .encoder import DEFAULT_MODEL, batched_logits, freeze, loss_recorder, resolve_model
from .params import (
    Fraction,
    ModelPath,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)


def _step_bar():
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class StepBar(TrainerCallback):
        """A bar over training steps under the bench's grid bar, gone when training ends."""

        def on_train_begin(self, args, state, control, **kwargs):
            # Bench workers set TQDM_DISABLE: their bars would interleave with the grid bar.
            quiet = not state.is_local_process_zero or bool(os.environ.get("TQDM_DISABLE"))
            self.bar = tqdm(total=state.max_steps, desc="train steps", unit="step",
                            leave=False, position=1, disable=quiet)

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(1)

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return StepBar()


class FineTuneClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, task: str = "stance", model_name_or_path: ModelPath = DEFAULT_MODEL,
                 epochs: PositiveFloat = 3.0, learning_rate: PositiveFloat = 5e-5,
                 batch_size: PositiveInt = 16, max_length: PositiveInt = 128,
                 weight_decay: NonNegativeFloat = 0.01, warmup_ratio: Fraction = 0.1,
                 freeze_embeddings: bool = True, freeze_layers: NonNegativeInt = 0,
                 cache_lower_layers: bool = True, seed: NonNegativeInt = 0):
        self.task = task
        self.model_name_or_path = model_name_or_path
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.freeze_embeddings = freeze_embeddings
        self.freeze_layers = freeze_layers
        self.cache_lower_layers = cache_lower_layers
        self.seed = seed

    def _init_model(self):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        labels = TASKS[self.task].labels
        path = resolve_model(self.model_name_or_path)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)
        # Saved with the model: whoever loads the folder (the package's predictor, its ONNX
        # export) truncates where training and the benchmark's scoring did.
        self.tokenizer_.model_max_length = min(self.max_length, self.tokenizer_.model_max_length)
        # The head covers every label of the task, so a published model names them all.
        self.model_ = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
        )
        freeze(self.model_, self.freeze_embeddings, self.freeze_layers)

    def fit(self, X: Sequence[str], y) -> FineTuneClassifier:
        from transformers import set_seed

        set_seed(self.seed, deterministic=True)
        self._init_model()
        y = np.asarray(y, dtype=int)
        self.classes_ = np.unique(y)
        self.history_: list[dict] = []
        distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if (self.cache_lower_layers and not distributed
                and upper_layers.supports(self.model_, self.freeze_embeddings,
                                          self.freeze_layers)):
            # The frozen layers run once per text instead of once per epoch.
            self.train_seconds_ = upper_layers.train_upper_layers(
                self.model_, self.tokenizer_, list(X), y, layers=self.freeze_layers,
                epochs=self.epochs, learning_rate=self.learning_rate,
                batch_size=self.batch_size, weight_decay=self.weight_decay,
                warmup_ratio=self.warmup_ratio, max_length=self.max_length, seed=self.seed,
                on_step=lambda step, loss: self.history_.append({"step": step, "loss": loss}))
            return self
        return self._fit_with_trainer(X, y, distributed)

    def _fit_with_trainer(self, X: Sequence[str], y: np.ndarray,
                          distributed: bool) -> FineTuneClassifier:
        from datasets import Dataset
        from transformers import (
            DataCollatorWithPadding,
            PrinterCallback,
            Trainer,
            TrainingArguments,
        )

        # Tokenised here, not through Dataset.map: map fingerprints its function by hashing
        # the tokenizer it holds, 1.5 s per fit (thirty fits in the default grid).
        encoded = self.tokenizer_(list(X), truncation=True, max_length=self.max_length)
        data = Dataset.from_dict({**encoded, "label": y.tolist()})
        with tempfile.TemporaryDirectory() as out:
            args = TrainingArguments(
                output_dir=out, num_train_epochs=self.epochs, learning_rate=self.learning_rate,
                per_device_train_batch_size=self.batch_size, weight_decay=self.weight_decay,
                # A float below 1 is a share of the total steps.
                warmup_steps=self.warmup_ratio, seed=self.seed, data_seed=self.seed,
                logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                train_sampling_strategy="group_by_length", disable_tqdm=True,
                dataloader_pin_memory=False,
                ddp_backend="gloo" if distributed else None,
                # Frozen parameters are known up front; searching for unused ones costs a
                # graph traversal per step.
                ddp_find_unused_parameters=False if distributed else None,
            )
            trainer = Trainer(
                model=self.model_, args=args, train_dataset=data,
                data_collator=DataCollatorWithPadding(self.tokenizer_),
                callbacks=[loss_recorder(self.history_)],
            )
            # The loss goes to MLflow through the recorder; the bar shows steps, not dicts.
            trainer.remove_callback(PrinterCallback)
            trainer.add_callback(_step_bar())
            output = trainer.train()
        self.train_seconds_ = float(output.metrics["train_runtime"])
        self.model_ = trainer.model
        if hasattr(self.model_, "module"):  # unwrap DDP
            self.model_ = self.model_.module
        return self

    def logits(self, X: Sequence[str]) -> np.ndarray:
        return batched_logits(self.model_, self.tokenizer_, X, self.max_length)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Softmax over the labels seen in training only: an unseen label is never predicted."""
        logits = self.logits(X)[:, self.classes_]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def scale_logits(self, factor: float) -> None:
        """Multiply the logits by ``factor`` (a calibration temperature) inside the weights of
        the classifier's last linear layer, so ``transformers.pipeline`` on the saved folder
        gives the calibrated scores too."""
        import torch

        last = [m for m in self.model_.modules() if isinstance(m, torch.nn.Linear)
                and m.out_features == self.model_.config.num_labels][-1]
        with torch.no_grad():
            last.weight.mul_(factor)
            if last.bias is not None:
                last.bias.mul_(factor)

    def save_pretrained(self, path) -> None:
        """A plain transformers folder: config (with id2label), safetensors, tokenizer."""
        self.model_.save_pretrained(path, safe_serialization=True)
        self.tokenizer_.save_pretrained(path)

