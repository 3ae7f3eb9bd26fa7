"""The HTML page of a prediction: boilerplate greyed out, sentences coloured by stance, claim
type as a badge. Rendered from a Jinja2 template with autoescape, so every piece of article
text reaches the page escaped, and the page runs no script."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ..data.units import blocks

STANCE_COLOURS = {"promotional": "#d9f2d9", "critical": "#f9d6d5", "neutral": "transparent"}


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


@lru_cache(maxsize=1)
def _template():
    from importlib.resources import files

    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    source = files("crypto_news_bench").joinpath("templates/page.html").read_text("utf-8")
    return env.from_string(source)


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
    for block in blocks(title, raw_text):
        bp = by_unit.get(block.id, {}).get("boilerplate")
        if bp is not None and bp.label == "boilerplate":
            out.append({"boilerplate": True, "text": block.text, "score": bp.score})
            continue
        pieces, cursor = [], block.start
        for s in sorted(sents_of.get(block.id, []), key=lambda u: u.start):
            pieces.append(Piece(raw_text[cursor:s.start]))
            pieces.append(Piece(s.text, by_unit.get(s.id, {})))
            cursor = s.end
        pieces.append(Piece(raw_text[cursor:block.end]))
        out.append({"boilerplate": False, "pieces": [p for p in pieces if p.text]})
    return out


def render_html(title: str, raw_text: str, predictions: list) -> str:
    """A self-contained page of one article's predictions."""
    return _template().render(title=title, blocks=page_blocks(title, raw_text, predictions),
                              colours=STANCE_COLOURS)
