"""Leave-one-document-out folds: the evaluation protocol's only split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Fold:
    held_out: str
    train: list[int]
    test: list[int]


def lodo_folds(doc_ids: Sequence[str]) -> list[Fold]:
    """One fold per document (sorted by id): train on the others, test on it."""
    docs = sorted(set(doc_ids))
    if len(docs) < 2:
        raise ValueError(f"leave-one-document-out needs at least 2 documents, got {len(docs)}")
    return [
        Fold(
            held_out=doc,
            train=[i for i, d in enumerate(doc_ids) if d != doc],
            test=[i for i, d in enumerate(doc_ids) if d == doc],
        )
        for doc in docs
    ]
