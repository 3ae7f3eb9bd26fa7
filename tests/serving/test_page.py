"""crypto_news_bench.serving.page: the HTML page of ``cnbench predict``, run on a made-up article
with published models (conftest's ``predicted``), is self-contained, escapes the article, and
marks the boilerplate blocks."""

from __future__ import annotations

import re

import pytest
from conftest import one_torch_thread


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_html_is_self_contained(predicted):
    _, page = predicted
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()


def test_html_escapes_the_article(predicted):
    _, page = predicted
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "safe &amp; sound" in page


def test_html_marks_boilerplate_blocks(predicted):
    import html

    records, page = predicted
    boilerplate = [r["text"] for r in records
                   if r["task"] == "boilerplate" and r["label"] == "boilerplate"]
    assert boilerplate
    for text in boilerplate:
        assert re.search(r'<p class="boilerplate"[^>]*>' + re.escape(html.escape(text))
                         + "</p>", page), text
    content_sentences = [r["text"] for r in records if r["task"] == "stance"]
    for text in content_sentences:
        assert f">{html.escape(text)}" in page
