"""Use on a new article: segment it like the corpus, run the boilerplate model on its blocks and
the stance and claim-type models on the content sentences, write JSONL and an HTML page.

A model reference is a published folder (``cnbench publish``), an MLflow model URI
(``models:/crypto-news-bench-stance@champion``, ``runs:/<id>/model``), or ``champion`` (or
``challenger``) for that alias of the task's registered model in the tracking store. Either
way the model is loaded by its flavour (``serving.flavours``), through the checks of
``serving.safe_load``, and described (``serving.model_info``: which model, its benchmark
macro-F1 and ECE) for the page. An MLflow reference needs an existing tracking store
(``serving.store_check``); folders need none.

For analysts, ``predict_text`` and ``predict_texts`` label strings without files::

    from crypto_news_bench.serving.predict import load_models, predict_text
    models = load_models({"boilerplate": "DIR1", "stance": "DIR2"})  # load once, reuse
    records = predict_text("Binance said users are safe.", models)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import decode_text
from ..data.schema import TASKS, get_task
from ..data.units import Unit, blocks, sentences
from ..errors import DataError
from . import flavours
from .model_info import ModelInfo, describe_folder, resolve_logged
from .page import render_html
from .predictor import PRECISIONS, Predictor, check_precision

# The registered model's aliases a reference may name (``tracking.registry.ALIASES``).
ALIASES = ("champion", "challenger")

__all__ = ["PRECISIONS", "Model", "Prediction", "check_outputs", "load_model", "load_models",
           "load_predictor", "predict_article", "predict_text", "predict_texts",
           "write_outputs"]


class Model(Predictor):
    """A loaded model and what to say about it (``info``); predicts like its predictor."""

    def __init__(self, predictor: Predictor, info: ModelInfo):
        self.predictor, self.info = predictor, info
        self.labels = list(predictor.labels)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return self.predictor.predict(texts)


def is_mlflow_ref(ref: str) -> bool:
    """Whether ``ref`` names a model in a tracking store (rather than a folder)."""
    return not Path(ref).is_dir() and (ref in ALIASES or ref.startswith(("models:/", "runs:/")))


def load_model(ref: str, task: str, precision: str = "float32",
               tracking_uri: str | None = None) -> Model:
    """The model ``ref`` names (a published folder, an MLflow model URI, ``champion`` or
    ``challenger``) with its description; refused when its labels are not the task's (a
    stance model given for boilerplate, say).

    ``precision`` applies to transformer models; scikit-learn models have no choice to make.
    ``tracking_uri`` (default: ``MLFLOW_TRACKING_URI``, else ``./mlruns``) is read, never
    created.
    """
    check_precision(precision)  # an unknown precision fails before any model is loaded
    model = _load(ref, task, precision, tracking_uri)
    if model.labels != list(TASKS[task].labels):
        raise DataError(
            f"model {ref!r} predicts {', '.join(model.labels)}, not the {task} labels "
            f"({', '.join(TASKS[task].labels)}); is it a model of another task?"
        )
    return model


def load_predictor(ref: str, task: str, precision: str = "float32",
                   tracking_uri: str | None = None) -> Predictor:
    """The bare predictor of ``load_model`` (its flavour's class)."""
    return load_model(ref, task, precision, tracking_uri).predictor


def load_models(models: Mapping[str, str] | None = None, precision: str = "float32",
                tracking_uri: str | None = None) -> dict[str, Model]:
    """{task: model} for ``models`` ({task: reference}; default: every task's champion), in
    the order of the tasks."""
    refs = {task: "champion" for task in TASKS} if models is None else dict(models)
    for task in refs:
        get_task(task)
    return {task: load_model(refs[task], task, precision, tracking_uri)
            for task in TASKS if task in refs}


def _load(ref: str, task: str, precision: str, tracking_uri: str | None) -> Model:
    from ..models.encoder import go_offline

    # Models are local folders or MLflow artifacts: nothing is to be fetched from a hub.
    go_offline()
    if Path(ref).is_dir():
        folder = Path(ref)
        predictor = flavours.for_folder(folder).load_folder(folder, task, precision)
        return Model(predictor, describe_folder(folder, task))
    if not is_mlflow_ref(ref):
        raise DataError(
            f"model reference {ref!r} for {task} is neither a folder nor an MLflow model URI "
            "(models:/NAME@champion, runs:/RUN_ID/model) nor 'champion' or 'challenger'"
        )
    import mlflow
    from mlflow.exceptions import MlflowException

    from ..tracking import store
    from .store_check import require_existing_store

    # Model URIs resolve against the same store as everything else (given, env, else
    # embedded), which must exist: reading never creates one.
    store.setup(require_existing_store(tracking_uri))
    uri, info = resolve_logged(ref, task)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as exc:
        raise DataError(f"model {uri!r} for {task}: {exc.message} "
                        f"(tracking store: {mlflow.get_tracking_uri()})") from None
    # Never through MLflow's own loaders: they would run the code a store holds (a
    # model-from-code file, a pyfunc class, trust_remote_code); the flavour reads the files
    # through safe_load, whatever the MLmodel file claims.
    predictor = flavours.for_logged(local, uri, task).load_logged(local, task, precision)
    return Model(predictor, info)


@dataclass
class Prediction:
    unit: Unit
    task: str
    label: str
    score: float

    def record(self) -> dict:
        u = self.unit
        return {"unit": u.id, "kind": u.kind, "task": self.task, "start": u.start, "end": u.end,
                "label": self.label, "score": round(self.score, 6), "text": u.text}


def predict_raw(name: str, text: str, predictors: Mapping[str, Predictor]) -> list[Prediction]:
    """Predictions for one article's text (units named ``name:L1``, ...): every block, every
    content sentence."""
    for task in sorted(predictors):
        get_task(task)
    doc_blocks = blocks(name, text)
    out: list[Prediction] = []
    content = doc_blocks
    if "boilerplate" in predictors:
        results = list(zip(doc_blocks, predictors["boilerplate"].predict(
            [b.text for b in doc_blocks]), strict=True))
        out += [Prediction(b, "boilerplate", lab, s) for b, (lab, s) in results]
        content = [b for b, (lab, _) in results if lab == "content"]
    sents = sentences(content)
    for task in ("stance", "claim_type"):
        if task in predictors and sents:
            results = zip(sents, predictors[task].predict([s.text for s in sents]), strict=True)
            out += [Prediction(s, task, lab, sc) for s, (lab, sc) in results]
    return out


def predict_article(path: Path | str, predictors: Mapping[str, Predictor]
                    ) -> tuple[str, list[Prediction]]:
    """(raw text, predictions) for one article file; every block, every content sentence."""
    path = Path(path)
    text = decode_text(path)
    return text, predict_raw(path.stem, text, predictors)


def predict_texts(texts: Sequence[str], models: Mapping[str, str | Model] | None = None,
                  precision: str = "float32", tracking_uri: str | None = None,
                  names: Sequence[str] | None = None) -> list[list[dict]]:
    """The prediction records (as in the JSONL files) of each text, one list per text.

    ``models`` maps tasks to references or to models ``load_models`` returned (load once,
    predict many); default: every task's champion. A text is an article: one block a line.
    ``names`` name the units (``NAME:L1``; default ``text1``, ``text2``, ...).
    """
    names = list(names) if names is not None else [f"text{i}" for i in range(1, len(texts) + 1)]
    if len(names) != len(texts):
        raise DataError(f"{len(names)} names for {len(texts)} texts")
    for name, text in zip(names, texts, strict=True):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"text {name!r}: empty or not a string")
    given = {task: "champion" for task in TASKS} if models is None else dict(models)
    refs = {task: ref for task, ref in given.items() if isinstance(ref, str)}
    loaded = {**{t: m for t, m in given.items() if not isinstance(m, str)},
              **load_models(refs, precision, tracking_uri)}
    return [[p.record() for p in predict_raw(name, text, loaded)]
            for name, text in zip(names, texts, strict=True)]


def predict_text(text: str, models: Mapping[str, str | Model] | None = None,
                 precision: str = "float32", tracking_uri: str | None = None,
                 name: str = "text") -> list[dict]:
    """The prediction records of one article's text; see ``predict_texts``."""
    return predict_texts([text], models, precision, tracking_uri, [name])[0]


def output_paths(article: Path | str, out_dir: Path | str) -> tuple[Path, Path]:
    """(JSONL, HTML page) that predicting ``article`` writes under ``out_dir``."""
    article, out_dir = Path(article), Path(out_dir)
    return (out_dir / f"{article.stem}.predictions.jsonl", out_dir / f"{article.stem}.html")


def check_outputs(article: Path | str, out_dir: Path | str, overwrite: bool = False) -> None:
    """Refuse an ``--out`` that is a file, and outputs of an earlier prediction of an article
    with the same name unless ``overwrite``: they would be replaced without a word."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: is a file; --out names the folder to write predictions to")
    existing = [p for p in output_paths(article, out_dir) if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{existing[0]}: exists, from an earlier prediction of an article named "
                        f"{Path(article).stem!r}; use --overwrite to replace it, or another "
                        "--out")


def write_outputs(article: Path | str, raw_text: str, predictions: list[Prediction],
                  out_dir: Path | str, models: Mapping[str, ModelInfo] | None = None
                  ) -> tuple[Path, Path]:
    """Write the JSONL and the page of one article; ``models`` describes each task's model
    on the page."""
    article, out_dir = Path(article), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, page = output_paths(article, out_dir)
    jsonl.write_text("".join(json.dumps(p.record(), ensure_ascii=False) + "\n"
                             for p in predictions), encoding="utf-8")
    page.write_text(render_html(article.stem, raw_text, predictions, models or {}),
                    encoding="utf-8")
    return jsonl, page
