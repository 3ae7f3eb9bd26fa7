"""Segmentation: a document's blocks (non-empty lines) and sentences, with exact offsets.

Ids come from positions in the raw file, so an error message points straight at the line:
``<doc>:L<line>`` for a block and ``<doc>:L<line>:S<n>`` for its n-th sentence (1-based).
For every unit ``raw_text[start:end] == text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import DataError

# Bullets the scraper leaves in front of list items; stripped with the surrounding white space.
# A dash or asterisk counts as a bullet only before white space (or alone on the line), so a
# line starting "-5%" or "*Update*" keeps its first character.
_BULLET = re.compile(r"^[\s\ufeff]*(?:(?:[•·▪◦‣]+|[\-*–]+(?=\s|$))\s*)*")


@dataclass(frozen=True)
class Unit:
    id: str
    doc_id: str
    kind: str  # "block" or "sentence"
    line: int  # 1-based line number in the raw file
    start: int
    end: int
    text: str
    block_id: str  # the block itself for a block; the enclosing block for a sentence
    position: int  # 0-based index among the document's units of the same kind


def blocks(doc_id: str, raw_text: str) -> list[Unit]:
    """Non-empty lines, with white space and list bullets stripped."""
    units, offset = [], 0
    # Only "\n" ends a line (as for editors and grep -n); str.splitlines would also break on
    # U+2028, form feeds and the like and shift every line number after them.
    for lineno, line in enumerate(raw_text.split("\n"), 1):
        line_start, offset = offset, offset + len(line) + 1
        body = line.removesuffix("\r")
        lead = _BULLET.match(body).end()
        stripped = body[lead:].rstrip()
        if stripped:
            start = line_start + lead
            bid = f"{doc_id}:L{lineno}"
            units.append(
                Unit(bid, doc_id, "block", lineno, start, start + len(stripped), stripped, bid,
                     len(units))
            )
    return units


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    # clean=False keeps the text as it is, so sentences can be located in the block.
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences in ``text``, surrounding white space excluded."""
    spans, cursor = [], 0
    for piece in _segmenter().segment(text):
        piece = piece.strip()
        if not piece:
            continue
        at = text.find(piece, cursor)
        if at < 0:
            raise DataError(f"sentence splitter returned text not found in its block: {piece!r}")
        spans.append((at, at + len(piece)))
        cursor = at + len(piece)
    return spans


def sentences(block_units: list[Unit]) -> list[Unit]:
    """The sentences of the given blocks, numbered within each block."""
    out: list[Unit] = []
    for block in block_units:
        for n, (s, e) in enumerate(split_sentences(block.text), 1):
            out.append(
                Unit(f"{block.id}:S{n}", block.doc_id, "sentence", block.line, block.start + s,
                     block.start + e, block.text[s:e], block.id, len(out))
            )
    return out
