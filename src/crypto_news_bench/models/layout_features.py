"""Layout features of the blocks of one scraped page, in reading order.

Whether a line is article or clutter shows in its shape and its place as much as in its
words: article paragraphs are long, end in a full stop, are full of stopwords and sit together
in the middle of the page; navigation, bylines, share buttons and tag lists are short, often
capitalised, dated or link-like, and gather at the top and bottom. So each block is described
by its own shape, its position relative to the page's run of long blocks, its neighbours'
shape, and (from its embedding) how close it is in meaning to the page's long blocks. Plain
text only: the input is the scraped lines, as for jusText.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_DIGIT = re.compile(r"\d")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|{_MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTH}"
    r"|(?:19|20)\d{2}|\d{1,2}:\d{2})", re.IGNORECASE)
_URL = re.compile(r"https?://|www\.|\.(?:com|org|net|io|co)\b|@\w", re.IGNORECASE)
_SEPARATOR = re.compile(r"[|›»·•/]")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s")
_TERMINAL = tuple('.!?"”’)…')
# A block of at least this many words counts as article-like prose for the page's "body span".
LONG_BLOCK_WORDS = 25
# Blocks this long or longer make the page's centroid in meaning.
CENTROID_BLOCK_WORDS = 12

BLOCK_FEATURES = (
    "log_words", "log_chars", "ends_terminal", "ends_colon", "ends_ellipsis", "stopword_share",
    "capitalised_share", "digit_share", "has_date", "has_url", "separators_per_word",
    "has_copyright", "has_comma", "mean_word_length", "starts_with_digit", "has_question",
    "has_quote", "list_marker",
)
POSITION_FEATURES = (
    "relative_position", "log_blocks_before", "log_blocks_after", "inside_body_span",
    "signed_log_distance_to_first_long", "signed_log_distance_to_last_long",
    "length_z_in_page", "log_page_blocks",
)
# The neighbours' words, terminal punctuation and stopword share, two blocks each way.
NEIGHBOUR_OF = ("log_words", "ends_terminal", "stopword_share")
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
SIMILARITY_FEATURES = ("centroid_cosine", "previous_centroid_cosine", "next_centroid_cosine")


@cache
def _stopwords() -> frozenset[str]:
    import justext

    return frozenset(justext.get_stoplist("English"))


def block_features(text: str) -> list[float]:
    """The shape of one block, in ``BLOCK_FEATURES`` order."""
    words = _WORD.findall(text)
    n = len(words)
    stop = _stopwords()
    stripped = text.rstrip()
    return [
        float(np.log1p(n)),
        float(np.log1p(len(text))),
        float(stripped.endswith(_TERMINAL)),
        float(stripped.endswith(":")),
        float(stripped.endswith(("…", "..."))),
        sum(w.lower() in stop for w in words) / max(n, 1),
        sum(w[:1].isupper() for w in words) / max(n, 1),
        len(_DIGIT.findall(text)) / max(len(text), 1),
        float(bool(_DATE.search(text))),
        float(bool(_URL.search(text))),
        len(_SEPARATOR.findall(text)) / max(n, 1),
        float("©" in text or "(c)" in text.lower()),
        float("," in text),
        float(np.mean([len(w) for w in words])) if words else 0.0,
        float(text[:1].isdigit()),
        float("?" in text),
        float(any(q in text for q in '"“”')),
        float(bool(_LIST_MARKER.match(text))),
    ]


def _shift(values: np.ndarray, offset: int, fill: float = 0.0) -> np.ndarray:
    """``values`` of the block ``offset`` places away (``fill`` past the page's edges)."""
    out = np.full_like(values, fill)
    if offset > 0:
        out[:-offset] = values[offset:]
    elif offset < 0:
        out[-offset:] = values[:offset]
    else:
        out[:] = values
    return out


def page_layout(texts: Sequence[str]) -> np.ndarray:
    """(blocks, features): each block's shape, position and neighbours, for one page."""
    n = len(texts)
    width = len(BLOCK_FEATURES) + len(POSITION_FEATURES) \
        + len(NEIGHBOUR_OF) * len(NEIGHBOUR_OFFSETS)
    if n == 0:
        return np.zeros((0, width))
    base = np.array([block_features(t) for t in texts], dtype=float)
    words = np.expm1(base[:, BLOCK_FEATURES.index("log_words")])
    idx = np.arange(n)
    long_blocks = idx[words >= LONG_BLOCK_WORDS]
    first = long_blocks.min() if len(long_blocks) else n
    last = long_blocks.max() if len(long_blocks) else -1
    position = np.stack([
        idx / max(n - 1, 1),
        np.log1p(idx),
        np.log1p(n - 1 - idx),
        ((idx >= first) & (idx <= last)).astype(float),
        np.log1p(np.abs(idx - first)) * np.sign(idx - first),
        np.log1p(np.abs(idx - last)) * np.sign(idx - last),
        (words - words.mean()) / (words.std() + 1e-6),
        np.full(n, np.log1p(n)),
    ], axis=1)
    cols = [BLOCK_FEATURES.index(name) for name in NEIGHBOUR_OF]
    neighbours = np.concatenate([_shift(base[:, cols], k) for k in NEIGHBOUR_OFFSETS], axis=1)
    return np.concatenate([base, position, neighbours], axis=1)


def page_similarity(texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """(blocks, 3): cosine of each block and of its two neighbours to the centroid of the
    page's longer blocks (``embeddings`` unit-normalised, one row per block)."""
    if not len(texts):
        return np.zeros((0, len(SIMILARITY_FEATURES)))
    words = np.array([len(_WORD.findall(t)) for t in texts])
    core = embeddings[words >= CENTROID_BLOCK_WORDS]
    centroid = (core if len(core) else embeddings).mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) + 1e-9)
    sim = embeddings @ centroid
    return np.stack([sim, _shift(sim, -1), _shift(sim, 1)], axis=1)


def layout_features(texts: Sequence[str], embeddings: np.ndarray,
                    groups: Sequence[str] | None = None) -> np.ndarray:
    """Layout and similarity features of every block; ``groups`` names each block's page (the
    blocks of a page in reading order, pages not interleaved). Without groups, all the blocks
    are one page."""
    groups = list(groups) if groups is not None else [""] * len(texts)
    if len(groups) != len(texts):
        raise ValueError(f"{len(groups)} groups for {len(texts)} blocks")
    out = []
    start = 0
    for end in range(1, len(texts) + 1):
        if end == len(texts) or groups[end] != groups[start]:
            page = list(texts[start:end])
            out.append(np.concatenate([page_layout(page),
                                       page_similarity(page, embeddings[start:end])], axis=1))
            start = end
    width = len(BLOCK_FEATURES) + len(POSITION_FEATURES) \
        + len(NEIGHBOUR_OF) * len(NEIGHBOUR_OFFSETS) + len(SIMILARITY_FEATURES)
    return np.concatenate(out) if out else np.zeros((0, width))
