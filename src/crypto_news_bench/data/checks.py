"""``cnbench data check``: the corpus is sound and the synthetic corpus is kept apart.

Beyond what every load checks (metadata, sha256, labels aligned with their units, the
agreement record), three guards keep synthetic training text from leaking the evaluation
pages or repeating itself:

1. no synthetic unit (block or sentence) equals a real one after normalising case, white
   space and quotes;
2. no synthetic sentence has cosine similarity of ``COSINE_LIMIT`` or more to a real sentence
   under the bundled encoder (the closest pairs are reported either way);
3. no two documents share word 5-grams with a Jaccard similarity of ``JACCARD_LIMIT`` or
   more (synthetic against synthetic, and synthetic against real).

A failure is a ``DataError`` naming the units or documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import dataset
from .corpus import Document
from .units import Unit, blocks, sentences

COSINE_LIMIT = 0.95
JACCARD_LIMIT = 0.5
SHINGLE = 5
# Quote marks that differ between sites and writers but not in what they say.
_QUOTES = str.maketrans({c: "'" for c in "‘’‚‛′`´"} | {c: '"' for c in "“”„‟″«»"})
_WORD = re.compile(r"\w+")

Encoder = Callable[[Sequence[str]], np.ndarray]


def normalise(text: str) -> str:
    """Lower case, one space for any run of white space, straight quotes."""
    return " ".join(text.translate(_QUOTES).lower().split())


def _units(docs: list[Document]) -> tuple[list[Unit], list[Unit]]:
    """(blocks, sentences) of the documents; sentences of every block, whatever its label."""
    bl = [b for d in docs for b in blocks(d.id, d.text)]
    return bl, sentences(bl)


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class CheckReport:
    documents: dict[str, int]
    units: dict[str, int]
    # (cosine, synthetic unit id, its text, real unit id, its text), closest first
    closest: list[tuple[float, str, str, str, str]] = field(default_factory=list)
    # (Jaccard, document a, document b), most similar first
    most_similar: list[tuple[float, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"documents: {self.documents['real']} real, {self.documents['synthetic']} "
                 f"synthetic; units: {self.units['real']} real, {self.units['synthetic']} "
                 "synthetic (blocks and sentences)",
                 "exact copies of real units (normalised case, white space, quotes): none"]
        if self.closest:
            lines.append(f"closest synthetic sentences to real ones (cosine; the limit is "
                         f"{COSINE_LIMIT}):")
            lines += [f"  {c:.3f}  {sid} {stext[:60]!r} ~ {rid} {rtext[:60]!r}"
                      for c, sid, stext, rid, rtext in self.closest]
        if self.most_similar:
            j, a, b = self.most_similar[0]
            lines.append(f"most similar documents (word {SHINGLE}-gram Jaccard; the limit is "
                         f"{JACCARD_LIMIT}): {a} and {b}, {j:.3f}")
        lines.append("data check passed")
        return "\n".join(lines)


def exact_copies(synthetic: list[Unit], real: list[Unit]) -> list[tuple[Unit, Unit]]:
    """(synthetic unit, real unit) pairs whose normalised texts are equal, one per synthetic
    unit text (a one-sentence block and its sentence are the same text: named once)."""
    real_by_text: dict[str, Unit] = {}
    for u in real:
        real_by_text.setdefault(normalise(u.text), u)
    pairs, named = [], set()
    for u in synthetic:
        key = (u.doc_id, u.line, normalise(u.text))
        if normalise(u.text) in real_by_text and key not in named:
            named.add(key)
            pairs.append((u, real_by_text[normalise(u.text)]))
    return pairs


def closest_pairs(synthetic: list[Unit], real: list[Unit], encode: Encoder,
                  top: int = 5) -> tuple[list[tuple[float, Unit, Unit]], list]:
    """(pairs at or above the limit, the ``top`` closest pairs), each (cosine, syn, real).

    Texts are encoded once each (unit texts repeat: site clutter, repeated headlines).
    """
    if not synthetic or not real:
        return [], []
    syn_texts = list(dict.fromkeys(u.text for u in synthetic))
    real_texts = list(dict.fromkeys(u.text for u in real))
    syn_vec = _unit_norm(encode(syn_texts))
    real_vec = _unit_norm(encode(real_texts))
    sims = syn_vec @ real_vec.T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(syn_texts)), best]
    syn_of: dict[str, Unit] = {}
    real_of: dict[str, Unit] = {}
    for units, first in ((synthetic, syn_of), (real, real_of)):
        for u in units:
            first.setdefault(u.text, u)
    order = np.argsort(-best_sim, kind="stable")
    pairs = [(float(best_sim[i]), syn_of[syn_texts[i]], real_of[real_texts[best[i]]])
             for i in order]
    return [p for p in pairs if p[0] >= COSINE_LIMIT], pairs[:top]


def _unit_norm(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def near_duplicates(synthetic: list[Document], real: list[Document]
                    ) -> list[tuple[float, str, str]]:
    """Every (Jaccard, doc a, doc b) of a synthetic document against the other synthetic
    ones and the real ones, most similar first."""
    syn = {d.id: shingles(d.text) for d in synthetic}
    rea = {d.id: shingles(d.text) for d in real}
    scores = [(jaccard(syn[a], syn[b]), a, b) for a, b in combinations(sorted(syn), 2)]
    scores += [(jaccard(syn[a], rea[b]), a, b) for a in sorted(syn) for b in sorted(rea)]
    return sorted(scores, key=lambda s: -s[0])


def _shown(items: list[str], limit: int = 3) -> str:
    return "; ".join(items[:limit]) + (f" (and {len(items) - limit} more)"
                                       if len(items) > limit else "")


def check_data(data_dir: Path | str, encoder: Encoder) -> CheckReport:
    """Run every check of the corpus; raise ``DataError`` naming the first problems found.

    ``encoder`` embeds texts for the near-copy guard: ``cnbench data check`` passes the
    bundled sentence encoder (``models.encoder.sentence_encoder``, loaded on first use).
    """
    docs = dataset.all_documents(data_dir)
    real_blocks, real_sents = _units(docs["real"])
    syn_blocks, syn_sents = _units(docs["synthetic"])
    report = CheckReport(
        documents={s: len(d) for s, d in docs.items()},
        units={"real": len(real_blocks) + len(real_sents),
               "synthetic": len(syn_blocks) + len(syn_sents)})
    copies = exact_copies(syn_blocks + syn_sents, real_blocks + real_sents)
    if copies:
        raise DataError(
            f"{len(copies)} synthetic unit(s) copy a real one (after normalising case, white "
            "space and quotes): " + _shown([f"{s.id} {s.text[:50]!r} = {r.id}"
                                            for s, r in copies]))
    duplicates = near_duplicates(docs["synthetic"], docs["real"])
    report.most_similar = duplicates[:5]
    too_close = [d for d in duplicates if d[0] >= JACCARD_LIMIT]
    if too_close:
        raise DataError(
            f"{len(too_close)} near-duplicate document pair(s) (word {SHINGLE}-gram Jaccard "
            f">= {JACCARD_LIMIT}): " + _shown([f"{a} and {b} ({j:.2f})"
                                               for j, a, b in too_close]))
    if syn_sents and real_sents:
        over, top = closest_pairs(syn_sents, real_sents, encoder)
        report.closest = [(c, s.id, s.text, r.id, r.text) for c, s, r in top]
        if over:
            raise DataError(
                f"{len(over)} synthetic sentence(s) have cosine similarity >= {COSINE_LIMIT} "
                "to a real sentence: " + _shown([f"{s.id} {s.text[:50]!r} ~ {r.id} ({c:.3f})"
                                                 for c, s, r in over]))
    # Last, as every build does: every label of both splits aligned with its unit, and the
    # agreement record consistent with the gold labels. (The guards above need only the
    # pages, so a planted copy is named even before anyone labelled it.)
    dataset.gold_splits(data_dir, docs)
    dataset.synthetic_agreement(data_dir)
    return report
