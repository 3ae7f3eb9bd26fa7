"""Use on a new article: segment it like the corpus, run the boilerplate model on its blocks and
the stance and claim-type models on the content sentences, write JSONL and an HTML page.

A model reference is a published folder (``cnbench publish``), an MLflow model URI
(``models:/stance-setfit@champion``, ``runs:/<id>/model``), or ``champion`` for the task's
champion in the tracking store. Either way the model is loaded by its flavour
(``serving.flavours``), through the checks of ``serving.safe_load``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import decode_text
from ..data.schema import TASKS, get_task
from ..data.units import Unit, blocks, sentences
from ..errors import DataError
from . import flavours
from .page import render_html
from .predictor import PRECISIONS, Predictor, torch_dtype

__all__ = ["PRECISIONS", "Prediction", "check_outputs", "load_predictor", "predict_article",
           "write_outputs"]


def load_predictor(ref: str, task: str, precision: str = "float32") -> Predictor:
    """A predictor for a published folder, an MLflow model URI, or ``champion``; refused when
    its labels are not the task's (a stance model given for boilerplate, say).

    ``precision`` applies to transformer models; scikit-learn models have no choice to make.
    """
    torch_dtype(precision)  # an unknown precision fails before any model is loaded
    predictor = _load(ref, task, precision)
    if list(predictor.labels) != list(TASKS[task].labels):
        raise DataError(
            f"model {ref!r} predicts {', '.join(predictor.labels)}, not the {task} labels "
            f"({', '.join(TASKS[task].labels)}); is it a model of another task?"
        )
    return predictor


def _load(ref: str, task: str, precision: str) -> Predictor:
    from ..models.encoder import go_offline

    # Models are local folders or MLflow artifacts: nothing is to be fetched from a hub.
    go_offline()
    if Path(ref).is_dir():
        folder = Path(ref)
        return flavours.for_folder(folder).load_folder(folder, task, precision)
    if ref != "champion" and not ref.startswith(("models:/", "runs:/")):
        raise DataError(
            f"model reference {ref!r} for {task} is neither a folder nor an MLflow model URI "
            "(models:/NAME@champion, runs:/RUN_ID/model) nor 'champion'"
        )
    import mlflow
    from mlflow.exceptions import MlflowException

    from ..tracking import registry, store

    # Model URIs resolve against the same store as everything else (env, else embedded).
    store.setup()
    if ref == "champion":
        ref = registry.champion_uri(task)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=ref))
    except MlflowException as exc:
        raise DataError(f"model {ref!r} for {task}: {exc.message} "
                        f"(tracking store: {mlflow.get_tracking_uri()})") from None
    # Never through MLflow's own loaders: they would run the code a store holds (a
    # model-from-code file, a pyfunc class, trust_remote_code); the flavour reads the files
    # through safe_load, whatever the MLmodel file claims.
    return flavours.for_logged(local, ref, task).load_logged(local, task, precision)


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


def predict_article(path: Path | str, predictors: dict[str, Predictor]) -> tuple[str, list]:
    """(raw text, predictions) for one article; every block, every content sentence."""
    path = Path(path)
    for task in sorted(predictors):
        get_task(task)
    text = decode_text(path)
    doc_blocks = blocks(path.stem, text)
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
    return text, out


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
                  out_dir: Path | str) -> tuple[Path, Path]:
    article, out_dir = Path(article), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, page = output_paths(article, out_dir)
    jsonl.write_text("".join(json.dumps(p.record(), ensure_ascii=False) + "\n"
                             for p in predictions), encoding="utf-8")
    page.write_text(render_html(article.stem, raw_text, predictions), encoding="utf-8")
    return jsonl, page
