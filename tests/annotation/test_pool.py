"""crypto_news_bench.annotation.pool: which units of the real pages still need a label, and the
context an annotator sees with each."""

from __future__ import annotations

import re

import pytest
from annotating import PAGE_BOILERPLATE, add_page, copy_real_data

from crypto_news_bench.annotation import pool
from crypto_news_bench.data.labels import text_hash
from crypto_news_bench.errors import DataError


@pytest.fixture
def page(tmp_path):
    return add_page(tmp_path)


def test_the_seed_pages_need_nothing(tmp_path):
    corpus = pool.load_real(copy_real_data(tmp_path / "data"))
    assert len(corpus.docs) == 3
    for task in ("boilerplate", "stance", "claim_type"):
        todo = pool.pending(corpus, task)
        assert todo.units == [] and todo.waiting == {}


def test_a_new_page_needs_its_blocks_and_its_sentences_wait_for_them(page):
    corpus = pool.load_real(page.data_dir)
    todo = pool.pending(corpus, "boilerplate")
    assert [u.id for u in todo.units] == [f"{page.id}:L{n}" for n in range(1, 7)]
    stance = pool.pending(corpus, "stance")
    assert stance.units == [] and stance.waiting == {page.id: 6}


def test_sentences_of_content_blocks_only_once_the_blocks_are_labelled(page):
    path = pool.annotation_path(page.data_dir, "boilerplate")
    corpus = pool.load_real(page.data_dir)
    with path.open("a", encoding="utf-8") as f:
        for n in range(1, 7):
            b = corpus.blocks[f"{page.id}:L{n}"]
            label = "boilerplate" if f"L{n}" in PAGE_BOILERPLATE else "content"
            f.write(f'{{"id": "{b.id}", "text_sha256": "{text_hash(b.text)}", '
                    f'"label": "{label}"}}\n')
    todo = pool.pending(corpus, "claim_type")
    assert todo.waiting == {}
    assert [u.id.removeprefix(page.id + ":") for u in todo.units] == [
        "L2:S1", "L3:S1", "L3:S2", "L5:S1", "L5:S2", "L6:S1"]


def test_docs_selects_and_an_unknown_doc_is_an_error(page):
    corpus = pool.load_real(page.data_dir)
    assert pool.pending(corpus, "boilerplate", ["000_bf4eb29d4c97d078"]).units == []
    with pytest.raises(DataError, match=re.escape("--docs: unknown document 'nope'; real "
                                                  "documents: 000_bf4eb29d4c97d078")):
        pool.pending(corpus, "boilerplate", ["nope"])


def test_context_shows_a_block_between_its_neighbours_and_a_sentence_in_its_block(page):
    corpus = pool.load_real(page.data_dir)
    assert pool.context(corpus, corpus.blocks[f"{page.id}:L4"]) == (
        "L3: The exchange said an outside firm will check its reserves every month. Critics "
        "said the audits leave out liabilities.\n"
        ">> L4: Share this story\n"
        "L5: The company reported 2 million new users in March. Analysts expect growth to slow.")
    assert pool.context(corpus, corpus.blocks[f"{page.id}:L1"]).startswith(">> L1: Menu")
    assert pool.context(corpus, corpus.sentences[f"{page.id}:L3:S2"]) == (
        "L2: Exchange adds a monthly reserve audit\n"
        "L3: The exchange said an outside firm will check its reserves every month. Critics "
        "said the audits leave out liabilities.")
