"""Use on a new article: segment it like the corpus, run the boilerplate model on its blocks and
the stance and claim-type models on the content sentences, write JSONL and an HTML page.

A model reference is a published folder (``cnbench publish``), an MLflow model URI
(``models:/stance-setfit@champion``, ``runs:/<id>/model``), or ``champion`` for the task's
champion in the tracking store.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import decode_text
from .errors import DataError
from .schema import TASKS
from .units import Unit, blocks, sentences


class Predictor:
    """Labels and scores for texts; the same interface whatever the model's flavour."""

    labels: list[str]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        raise NotImplementedError


PRECISIONS = ("float32", "bfloat16")


def _dtype(precision: str):
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return getattr(torch, precision)


class TransformersPredictor(Predictor):
    """Length-sorted batches of at most ``max_tokens`` tokens with their padding, tokenised
    once, under ``torch.inference_mode``.

    ``precision="bfloat16"`` runs a bfloat16 copy of the model: about 1.7x faster on a CPU with
    native bf16 (avx512_bf16, AMX), slower on one without. It can flip a label whose top two
    scores nearly tie, so float32, the arithmetic the benchmark scored, is the default;
    bench/results/perf.md reports how many labels bfloat16 changes.
    """

    def __init__(self, model, tokenizer, max_length: int = 256, max_tokens: int = 512,
                 max_batch: int = 128, precision: str = "float32"):
        dtype = _dtype(precision)
        if model.dtype != dtype:
            # A copy: the caller's model keeps its own weights.
            model = copy.deepcopy(model).to(dtype)
        self.model, self.tokenizer, self.precision = model.eval(), tokenizer, precision
        # Never past what the model has positions for: a longer sentence would crash it.
        limits = (getattr(model.config, "max_position_embeddings", None),
                  getattr(tokenizer, "model_max_length", None))
        self.max_length = min([max_length, *(n for n in limits if n)])
        # One text of full length must fit in a batch.
        self.max_tokens = max(max_tokens, self.max_length)
        self.max_batch = max_batch
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    @classmethod
    def from_folder(cls, folder: str | Path, tokenizer_folder: str | Path | None = None,
                    **kwargs) -> TransformersPredictor:
        """A checked transformers folder (``safe_load``): safetensors only, no remote code."""
        from .safe_load import load_transformers

        # Loaded straight in the precision asked for: no float32 copy to convert.
        dtype = _dtype(kwargs.get("precision", "float32"))
        return cls(*load_transformers(Path(folder), tokenizer_folder, dtype=dtype), **kwargs)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from .models.encoder import batches

        texts = list(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for idx, enc in batches(self.tokenizer, texts, self.max_length, self.max_tokens,
                                    self.max_batch):
                logits = self.model(**enc).logits.float()
                out[idx] = torch.softmax(logits, dim=-1).numpy()
        return out

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        p = self.probabilities(texts)
        return [(self.labels[i], float(p[n, i])) for n, i in enumerate(p.argmax(axis=1))]


class EncoderHeadPredictor(Predictor):
    """A sentence-transformers body and a scikit-learn head; ``precision`` as for
    ``TransformersPredictor`` (the body only: the head always reads float32 embeddings)."""

    def __init__(self, folder: str | Path, precision: str = "float32"):
        from .encoder_head_pyfunc import load_encoder_head

        dtype = _dtype(precision)
        self.body, self.head, self.labels = load_encoder_head(folder)
        self.body.to(dtype)
        self.precision = precision

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        from .encoder_head_pyfunc import head_probabilities

        p = head_probabilities(self.body, self.head, list(texts))
        return [(self.labels[int(self.head.classes_[i])], float(p[n, i]))
                for n, i in enumerate(p.argmax(axis=1))]


class SklearnPredictor(Predictor):
    def __init__(self, path: str | Path, labels: Sequence[str]):
        from .safe_load import PACKAGE_TYPES, load_skops

        self.model = load_skops(Path(path), allowed=PACKAGE_TYPES)
        self.labels = list(labels)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        from .protocol import label_scores

        pred, score = label_scores(self.model, list(texts), len(self.labels))
        return [(self.labels[i], float(s)) for i, s in zip(pred, score, strict=True)]


def _labels_of(folder: Path, task: str) -> list[str]:
    from .safe_load import read_labels

    path = folder / "labels.json"
    return read_labels(path) if path.exists() else list(TASKS[task].labels)


def _from_folder(folder: Path, task: str, precision: str) -> Predictor:
    if (folder / "head.skops").exists():
        return EncoderHeadPredictor(folder, precision=precision)
    if (folder / "model.skops").exists():
        return SklearnPredictor(folder / "model.skops", _labels_of(folder, task))
    if (folder / "config.json").exists():
        return TransformersPredictor.from_folder(folder, precision=precision)
    raise DataError(f"{folder}: not a model folder (no head.skops, model.skops or config.json)")


def load_predictor(ref: str, task: str, precision: str = "float32") -> Predictor:
    """A predictor for a published folder, an MLflow model URI, or ``champion``; refused when
    its labels are not the task's (a stance model given for boilerplate, say).

    ``precision`` applies to transformer models; scikit-learn models have no choice to make.
    """
    _dtype(precision)  # an unknown precision fails before any model is loaded
    predictor = _load(ref, task, precision)
    if list(predictor.labels) != list(TASKS[task].labels):
        raise DataError(
            f"model {ref!r} predicts {', '.join(predictor.labels)}, not the {task} labels "
            f"({', '.join(TASKS[task].labels)}); is it a model of another task?"
        )
    return predictor


def _load(ref: str, task: str, precision: str) -> Predictor:
    from .models.encoder import go_offline

    # Models are local folders or MLflow artifacts: nothing is to be fetched from a hub.
    go_offline()
    if Path(ref).is_dir():
        return _from_folder(Path(ref), task, precision)
    if ref != "champion" and not ref.startswith(("models:/", "runs:/")):
        raise DataError(
            f"model reference {ref!r} for {task} is neither a folder nor an MLflow model URI "
            "(models:/NAME@champion, runs:/RUN_ID/model) nor 'champion'"
        )
    import mlflow
    from mlflow.exceptions import MlflowException

    from . import tracking

    # Model URIs resolve against the same store as everything else (env, else embedded).
    tracking.setup()
    if ref == "champion":
        ref = tracking.champion_uri(task)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=ref))
    except MlflowException as exc:
        raise DataError(f"model {ref!r} for {task}: {exc.message} "
                        f"(tracking store: {mlflow.get_tracking_uri()})") from None
    return from_logged_model(local, ref, task, precision)


def from_logged_model(local: Path, ref: str, task: str, precision: str) -> Predictor:
    """A predictor for the files of a model logged by ``cnbench train``, downloaded to
    ``local``. Never through MLflow's own loaders: they would run the code a store holds (a
    model-from-code file, a pyfunc class, ``trust_remote_code``); ``safe_load`` checks every
    file instead, whatever the ``MLmodel`` file claims."""
    if (local / "model" / "config.json").is_file():
        # MLflow's transformers layout: the weights under model/, the tokenizer apart.
        tokenizer = local / "components" / "tokenizer"
        return TransformersPredictor.from_folder(
            local / "model", tokenizer if tokenizer.is_dir() else None, precision=precision)
    if (local / "artifacts" / "model_dir").is_dir():
        return _from_folder(local / "artifacts" / "model_dir", task, precision)
    if (local / "model.skops").is_file():
        return SklearnPredictor(local / "model.skops", TASKS[task].labels)
    raise DataError(f"model {ref!r} for {task}: {local} holds no model logged by cnbench "
                    "(no model/config.json, artifacts/model_dir or model.skops)")


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
    unknown = sorted(set(predictors) - set(TASKS))
    if unknown:
        raise DataError(f"unknown task(s) {', '.join(unknown)}; valid: {', '.join(TASKS)}")
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


STANCE_COLOURS = {"promotional": "#d9f2d9", "critical": "#f9d6d5", "neutral": "transparent"}


def render_html(title: str, raw_text: str, predictions: list[Prediction]) -> str:
    """A self-contained page: boilerplate greyed out, sentences coloured by stance, claim type
    as a badge. Every piece of article text is escaped."""
    by_unit: dict[str, dict[str, Prediction]] = {}
    for p in predictions:
        by_unit.setdefault(p.unit.id, {})[p.task] = p
    sents_of: dict[str, list[Unit]] = {}
    for p in predictions:
        if p.unit.kind == "sentence" and p.task in ("stance", "claim_type"):
            lst = sents_of.setdefault(p.unit.block_id, [])
            if p.unit not in lst:
                lst.append(p.unit)
    rows = []
    for block in blocks(title, raw_text):
        bp = by_unit.get(block.id, {}).get("boilerplate")
        if bp is not None and bp.label == "boilerplate":
            rows.append(f'<p class="boilerplate" title="boilerplate ({bp.score:.2f})">'
                        f"{html.escape(block.text)}</p>")
            continue
        parts, cursor = [], block.start
        for s in sorted(sents_of.get(block.id, []), key=lambda u: u.start):
            parts.append(html.escape(raw_text[cursor:s.start]))
            preds = by_unit.get(s.id, {})
            stance, claim = preds.get("stance"), preds.get("claim_type")
            colour = STANCE_COLOURS.get(stance.label, "transparent") if stance else "transparent"
            tip = "; ".join(f"{p.task}: {p.label} ({p.score:.2f})" for p in preds.values())
            badge = (f' <span class="claim">{html.escape(claim.label)}</span>' if claim else "")
            parts.append(f'<span class="sentence" style="background:{colour}" '
                         f'title="{html.escape(tip)}">{html.escape(s.text)}{badge}</span>')
            cursor = s.end
        parts.append(html.escape(raw_text[cursor:block.end]))
        rows.append(f'<p class="content">{"".join(parts)}</p>')
    legend = " ".join(f'<span class="sentence" style="background:{c}">{n}</span>'
                      for n, c in STANCE_COLOURS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 46rem; margin: 2rem auto; line-height: 1.5;
       color: #222; }}
.boilerplate {{ color: #aaa; font-size: 0.85em; }}
.sentence {{ border-radius: 3px; padding: 0 2px; }}
.claim {{ font: 0.7em sans-serif; color: #555; border: 1px solid #bbb; border-radius: 3px;
          padding: 0 3px; margin-left: 2px; }}
.legend {{ font: 0.85em sans-serif; border-bottom: 1px solid #ddd; padding-bottom: 0.5rem; }}
</style></head><body>
<div class="legend">stance: {legend} · claim type in boxes · boilerplate in grey</div>
{chr(10).join(rows)}
</body></html>
"""


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
