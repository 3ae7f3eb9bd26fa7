"""MLflow "model from code" for encoder + head models (frozen encoder, SetFit).

MLflow logs this file instead of pickling a Python object; at load time it reads the saved
folder, through the package's checked loader: a sentence-transformers encoder and a skops
head. ``predict`` takes texts and returns one row per text with ``label`` and ``score``.
``cnbench`` itself never loads a model through this file (see ``serving.safe_load``).
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class EncoderHeadModel(PythonModel):
    def load_context(self, context) -> None:
        from crypto_news_bench.serving.flavours.encoder_head import (
            MODEL_DIR,
            EncoderHeadPredictor,
        )

        self.predictor = EncoderHeadPredictor(context.artifacts[MODEL_DIR])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        texts = (model_input.iloc[:, 0].tolist() if hasattr(model_input, "iloc")
                 else list(model_input))
        labels, scores = zip(*self.predictor.predict(texts), strict=True) if texts else ((), ())
        return pd.DataFrame({"label": list(labels), "score": list(scores)})


mlflow.models.set_model(EncoderHeadModel())
