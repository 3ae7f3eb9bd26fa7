"""crypto_news_bench.evaluation.folds: leave-one-document-out splits."""

from __future__ import annotations

import pytest

from crypto_news_bench.evaluation.folds import Fold, lodo_folds


def test_lodo_folds_exact_indices():
    docs = ["b", "a", "b", "c", "a"]
    assert lodo_folds(docs) == [
        Fold(held_out="a", train=[0, 2, 3], test=[1, 4]),
        Fold(held_out="b", train=[1, 3, 4], test=[0, 2]),
        Fold(held_out="c", train=[0, 1, 2, 4], test=[3]),
    ]


def test_lodo_folds_partition_every_index():
    docs = ["d2", "d1", "d1", "d3", "d2", "d2", "d3"]
    folds = lodo_folds(docs)
    assert [f.held_out for f in folds] == ["d1", "d2", "d3"]
    for f in folds:
        assert sorted(f.train + f.test) == list(range(len(docs)))
        assert {docs[i] for i in f.test} == {f.held_out}
        assert f.held_out not in {docs[i] for i in f.train}
    assert sorted(i for f in folds for i in f.test) == list(range(len(docs)))


def test_lodo_folds_accepts_a_tuple_and_two_documents():
    assert lodo_folds(("x", "y")) == [Fold("x", [1], [0]), Fold("y", [0], [1])]


@pytest.mark.parametrize("docs,n", [([], 0), (["only"], 1), (["same", "same", "same"], 1)])
def test_lodo_folds_needs_two_documents(docs, n):
    with pytest.raises(ValueError, match=f"needs at least 2 documents, got {n}$"):
        lodo_folds(docs)


def test_lodo_folds_on_the_real_stance_set(repo_data_dir):
    from crypto_news_bench.data.dataset import gold_examples

    exs = gold_examples(repo_data_dir)["stance"]
    doc_ids = [e.unit.doc_id for e in exs]
    folds = lodo_folds(doc_ids)
    assert len(folds) == 3
    assert sum(len(f.test) for f in folds) == len(exs)
    assert all(len(f.train) + len(f.test) == len(exs) for f in folds)
