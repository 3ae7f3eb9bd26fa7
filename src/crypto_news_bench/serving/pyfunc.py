"""MLflow "model from code" for the models saved as a published folder: encoder + head (frozen
encoder, SetFit) and scikit-learn (TF-IDF baselines, the rule-based tools).

MLflow logs this file instead of pickling a Python object; at load time it reads the saved
folder (``artifacts/model_dir``: the model files and ``labels.json``, the layout
``cnbench publish`` writes) through the package's checked loader of the folder's flavour.
``predict`` takes texts (a ``text`` column, or a list) and returns one row per text with
``label`` (the label's name) and ``score``. ``cnbench`` itself never loads a model through this
file (see ``serving.safe_load``).
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class FolderModel(PythonModel):
    def load_context(self, context) -> None:
        from pathlib import Path

        from crypto_news_bench.serving import flavours

        folder = Path(context.artifacts[flavours.MODEL_DIR])
        task = flavours.folder_task(folder)
        self.predictor = flavours.for_folder(folder).load_folder(folder, task, "float32")

    def predict(self, context, model_input, params=None):
        import pandas as pd

        if hasattr(model_input, "columns"):
            column = "text" if "text" in model_input.columns else model_input.columns[0]
            values = model_input[column].tolist()
        else:
            values = list(model_input)
        texts = []
        for value in values:
            # MLflow turns {"text": [a, b]} into one row holding the list.
            if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
                texts.extend(str(t) for t in list(value))
            else:
                texts.append(str(value))
        pairs = self.predictor.predict(texts) if texts else []
        return pd.DataFrame({"label": pd.Series([label for label, _ in pairs], dtype=object),
                             "score": pd.Series([score for _, score in pairs], dtype=float)})


mlflow.models.set_model(FolderModel())
