"""The HTML pages of ``cnbench predict``: one per article (boilerplate greyed out, sentences
coloured by stance, every label with its calibrated confidence, low-confidence labels marked)
and an index linking them. Each page names the models and their benchmark scores and
summarises the article (share of boilerplate, stance mix, claim types).

Rendered from Jinja2 templates with autoescape, so every piece of article text and every name
reaches the page escaped; the pages carry no script, and their Content-Security-Policy
forbids any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from ..data.schema import TASKS
from ..data.units import blocks
from .model_info import LOW_CONFIDENCE, MACRO_F1_FLOOR, ModelInfo

STANCE_COLOURS = {"promotional": "#d9f2d9", "critical": "#f9d6d5", "neutral": "transparent"}


def badge(prediction) -> dict:
    """A label as the page shows it: name, confidence, and whether the confidence is low."""
    return {"task": prediction.task, "label": prediction.label, "score": prediction.score,
            "low": prediction.score < LOW_CONFIDENCE,
            "colour": STANCE_COLOURS.get(prediction.label, "transparent")
            if prediction.task == "stance" else "transparent"}


@dataclass
class Piece:
    """Text of a block, in order: plain, or a sentence with its predictions."""

    text: str
    preds: dict = field(default_factory=dict)  # task -> Prediction, for a sentence

    @property
    def colour(self) -> str:
        stance = self.preds.get("stance")
        return STANCE_COLOURS.get(stance.label, "transparent") if stance else "transparent"

    @property
    def tip(self) -> str:
        return "; ".join(f"{p.task}: {p.label} ({p.score:.2f})" for p in self.preds.values())

    @property
    def badges(self) -> list[dict]:
        return [badge(self.preds[t]) for t in ("stance", "claim_type") if t in self.preds]


@dataclass
class Summary:
    """Counts of one article's predictions, for its page and the index."""

    blocks: int = 0
    boilerplate: int = 0
    sentences: int = 0
    stance: dict = field(default_factory=dict)  # label -> count, in the task's label order
    claim_type: dict = field(default_factory=dict)
    low_confidence: dict = field(default_factory=dict)  # task -> labels below the threshold

    @property
    def boilerplate_share(self) -> float | None:
        return self.boilerplate / self.blocks if self.blocks else None


def summarize(predictions: Sequence) -> Summary:
    """Counts over ``predictions`` (``serving.predict.Prediction``)."""
    by_task: dict[str, list] = {}
    for p in predictions:
        by_task.setdefault(p.task, []).append(p)

    def counts(task: str) -> dict[str, int]:
        found = Counter(p.label for p in by_task.get(task, []))
        return {label: found[label] for label in TASKS[task].labels} if task in by_task else {}

    boilerplate = by_task.get("boilerplate", [])
    sentence_ids = {p.unit.id for p in predictions if p.unit.kind == "sentence"}
    return Summary(
        blocks=len(boilerplate), boilerplate=sum(p.label == "boilerplate" for p in boilerplate),
        sentences=len(sentence_ids), stance=counts("stance"), claim_type=counts("claim_type"),
        low_confidence={task: sum(p.score < LOW_CONFIDENCE for p in preds)
                        for task, preds in by_task.items()})


@lru_cache(maxsize=1)
def _env():
    from importlib.resources import files

    import jinja2

    def load(name: str) -> str:
        return files("crypto_news_bench").joinpath(f"templates/{name}").read_text("utf-8")

    return jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def page_blocks(title: str, raw_text: str, predictions: list) -> list[dict]:
    """Every block of the article: boilerplate as one grey line, content as pieces."""
    by_unit: dict[str, dict] = {}
    for p in predictions:
        by_unit.setdefault(p.unit.id, {})[p.task] = p
    sents_of: dict[str, list] = {}
    for p in predictions:
        if p.unit.kind == "sentence" and p.task in ("stance", "claim_type"):
            units = sents_of.setdefault(p.unit.block_id, [])
            if p.unit not in units:
                units.append(p.unit)
    out = []
    # Unit ids carry the document id the predictions were made under (the article's name).
    doc_id = predictions[0].unit.doc_id if predictions else title
    for block in blocks(doc_id, raw_text):
        bp = by_unit.get(block.id, {}).get("boilerplate")
        label = badge(bp) if bp is not None else None
        if bp is not None and bp.label == "boilerplate":
            out.append({"boilerplate": True, "text": block.text, "badge": label})
            continue
        pieces, cursor = [], block.start
        for s in sorted(sents_of.get(block.id, []), key=lambda u: u.start):
            pieces.append(Piece(raw_text[cursor:s.start]))
            pieces.append(Piece(s.text, by_unit.get(s.id, {})))
            cursor = s.end
        pieces.append(Piece(raw_text[cursor:block.end]))
        out.append({"boilerplate": False, "pieces": [p for p in pieces if p.text],
                    "badge": label})
    return out


def _common(models: Mapping[str, ModelInfo]) -> dict:
    return {"models": list(models.values()), "colours": STANCE_COLOURS,
            "low_confidence": LOW_CONFIDENCE, "floor": MACRO_F1_FLOOR}


def render_html(title: str, raw_text: str, predictions: list,
                models: Mapping[str, ModelInfo] | None = None) -> str:
    """A self-contained page of one article's predictions; ``models`` describes each task's
    model (none given: the page says so)."""
    return _env().get_template("page.html").render(
        title=title, blocks=page_blocks(title, raw_text, predictions),
        summary=summarize(predictions), **_common(models or {}))


@dataclass
class IndexRow:
    """One article on the index page."""

    name: str
    page: Path
    jsonl: Path
    summary: Summary

    @property
    def href(self) -> str:
        # A relative link by the file's name, percent-encoded: a name cannot become a scheme
        # (``javascript:``) or leave the folder.
        return "./" + quote(self.page.name)

    @property
    def jsonl_href(self) -> str:
        return "./" + quote(self.jsonl.name)


def render_index(rows: Sequence[IndexRow], models: Mapping[str, ModelInfo]) -> str:
    """The index page: every article with its summary counts, linked to its page."""
    return _env().get_template("index.html").render(rows=list(rows), **_common(models))
