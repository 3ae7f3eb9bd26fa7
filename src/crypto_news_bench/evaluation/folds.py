"""Leave-one-document-out folds: the evaluation protocol's only split, scikit-learn's
``LeaveOneGroupOut`` with the document as the group."""

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
    import numpy as np
    from sklearn.model_selection import LeaveOneGroupOut

    groups = np.asarray(list(doc_ids), dtype=object)
    docs = sorted(set(groups.tolist()))
    if len(docs) < 2:
        raise ValueError(f"leave-one-document-out needs at least 2 documents, got {len(docs)}")
    # LeaveOneGroupOut yields the groups in sorted order, the held-out one as the test set.
    return [Fold(held_out=str(groups[test[0]]), train=train.tolist(), test=test.tolist())
            for train, test in LeaveOneGroupOut().split(groups, groups=groups)]
