"""crypto_news_bench.serving.page: the pages of ``cnbench predict``. Run on a made-up article
with published models (conftest's ``predicted``): self-contained, the article escaped, the
boilerplate blocks marked. Rendered from rule-based stand-in models with known scores: each
model named with its benchmark macro-F1 and ECE, a task below the floor flagged, every label's
confidence shown and low ones marked, the summary counts right, a legend, the index. And in
a real headless Chromium: the page renders, the legend and model names are there, and no
script planted in the article runs."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import write_cheap_model
from markupsafe import escape

from crypto_news_bench import cli
from crypto_news_bench.serving.model_info import LOW_CONFIDENCE, MACRO_F1_FLOOR, ModelInfo
from crypto_news_bench.serving.page import IndexRow, render_html, render_index, summarize
from crypto_news_bench.serving.predict import predict_raw

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's parser sees them."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, list]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_no_script(page: str) -> None:
    """No script element, no event-handler attribute, no javascript: URL in the markup."""
    tags = Tags(page).tags
    assert tags and "script" not in {tag for tag, _ in tags}
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, value)


def test_html_is_self_contained(predicted):
    _, page = predicted
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page.lower()
    assert_no_script(page)


def test_html_escapes_the_article(predicted):
    _, page = predicted
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "safe &amp; sound" in page


def test_html_marks_boilerplate_blocks(predicted):
    records, page = predicted
    boilerplate = [r["text"] for r in records
                   if r["task"] == "boilerplate" and r["label"] == "boilerplate"]
    assert boilerplate
    for text in boilerplate:
        assert re.search(r'<p class="boilerplate"[^>]*>' + re.escape(html.escape(text))
                         + r" <span class=\"badge", page), text
    content_sentences = [r["text"] for r in records if r["task"] == "stance"]
    for text in content_sentences:
        assert f">{html.escape(text)}" in page


# --- rule-based stand-ins: known labels and scores, no model to train -----------------------


class Rule:
    """Labels by keyword, with a score of 0.4 for a text that says "maybe", else 0.9."""

    def __init__(self, labels, rules):
        self.labels, self.rules = list(labels), rules

    def predict(self, texts):
        return [(next((lab for word, lab in self.rules if word in t), self.labels[-1]),
                 0.4 if "maybe" in t else 0.9) for t in texts]


RULES = {
    "boilerplate": Rule(["content", "boilerplate"], [("Share", "boilerplate"),
                                                      ("Menu", "boilerplate"),
                                                      ("", "content")]),
    "stance": Rule(["promotional", "critical", "neutral"], [("proud", "promotional"),
                                                            ("sued", "critical")]),
    "claim_type": Rule(["legal_regulatory", "quantity", "self_assertion", "reported_event",
                        "opinion", "no_claim"], [("sued", "legal_regulatory"),
                                                 ("billion", "quantity")]),
}
TEXT = ("Menu | News\n"
        "We are proud of our users. The SEC sued the exchange.\n"
        "It paid 4 billion dollars, maybe. Markets moved.\n"
        "Share this article\n")
INFOS = {
    "boilerplate": ModelInfo("boilerplate", "folder /models/boilerplate", "tfidf_word_lr",
                             0.813, 0.147),
    "stance": ModelInfo("stance", "crypto-news-bench-stance v3 @champion", "tfidf_char_svm",
                        0.612, 0.08, "abc"),
    "claim_type": ModelInfo("claim_type", "crypto-news-bench-claim_type v2 @champion",
                            "tfidf_word_lr", 0.549, None, "def"),
}


@pytest.fixture(scope="module")
def ruled():
    predictions = predict_raw("ruled", TEXT, RULES)
    return predictions, render_html("ruled", TEXT, predictions, INFOS)


def test_page_names_each_model_with_its_scores(ruled):
    _, page = ruled
    assert re.search(r"<td>stance</td><td[^>]*>crypto-news-bench-stance v3 @champion</td>"
                     r"<td>tfidf_char_svm</td><td>0\.612</td><td>0\.080</td>", page)
    assert re.search(r"<td[^>]*>folder /models/boilerplate</td><td>tfidf_word_lr</td>"
                     r"<td>0\.813</td><td>0\.147</td>", page)
    # An ECE the run did not record is said to be unknown.
    assert re.search(r"<td>0\.549</td><td>unknown</td>", page)


def test_a_task_below_the_floor_is_flagged(ruled):
    _, page = ruled
    assert MACRO_F1_FLOOR == 0.6
    flags = re.findall(r"<tr><td>(\w+)</td>.*?⚠ below the 0\.60 floor", page)
    assert flags == ["claim_type"]
    assert ("⚠ claim_type: crypto-news-bench-claim_type v2 @champion scored macro-F1 0.549 in "
            "the benchmark, below the floor of 0.60; treat its labels as hints to check") in page


def test_an_unknown_score_is_flagged_too():
    predictions = predict_raw("ruled", TEXT, RULES)
    page = render_html("ruled", TEXT, predictions,
                       {"stance": ModelInfo("stance", "folder /hand-made")})
    assert "<td>unknown</td><td>unknown</td>" in page
    assert "⚠ score unknown" in page
    assert "the benchmark macro-F1 of folder /hand-made is unknown" in page


def test_every_label_shows_its_confidence_and_low_ones_are_marked(ruled):
    predictions, page = ruled
    assert LOW_CONFIDENCE == 0.6
    badges = re.findall(r'<span class="badge([^"]*)"[^>]*title="(\w+)">(\w+) ([\d.]+)( \?)?'
                        r"</span>", page.split("<article>")[1])
    shown = sorted((task, label, float(score)) for _, task, label, score, _ in badges)
    assert shown == sorted((p.task, p.label, round(p.score, 2)) for p in predictions)
    for classes, _, _, score, mark in badges:
        low = float(score) < LOW_CONFIDENCE
        assert ("low" in classes.split()) is low and bool(mark) is low
    # The sentence that says "maybe": both its labels at 0.40, marked.
    assert '>quantity 0.40 ?</span>' in page


def test_summary_counts(ruled):
    predictions, page = ruled
    s = summarize(predictions)
    assert (s.blocks, s.boilerplate, s.sentences) == (4, 2, 4)
    assert s.boilerplate_share == 0.5
    assert s.stance == {"promotional": 1, "critical": 1, "neutral": 2}
    assert s.claim_type == {"legal_regulatory": 1, "quantity": 1, "self_assertion": 0,
                            "reported_event": 0, "opinion": 0, "no_claim": 2}
    # The block and the sentence that say "maybe".
    assert s.low_confidence == {"boilerplate": 1, "stance": 1, "claim_type": 1}
    assert "4 blocks, 2 boilerplate (50%); 4 content sentences." in page
    assert "stance: promotional 1 (25%), critical 1 (25%), neutral 2 (50%)" in page
    assert "claim types: legal_regulatory 1, quantity 1, self_assertion 0" in page
    assert "low-confidence labels (below 0.60): boilerplate 1, stance 1, claim_type 1" in page


def test_legend_states_colours_confidence_and_thresholds(ruled):
    _, page = ruled
    legend = page.split('<section class="legend">')[1].split("</section>")[0]
    for needle in ("promotional", "critical", "neutral", "claim type", "boilerplate",
                   "calibrated confidence", "low confidence, below 0.60",
                   "below macro-F1 0.60 in the benchmark"):
        assert needle in legend, needle


def test_hostile_names_are_escaped_and_no_script_gets_in():
    hostile = '<script>alert(1)</script>" onmouseover="x'
    text = f"{hostile}\nWe are proud. <img src=x onerror=alert(1)>\n"
    predictions = predict_raw("t", text, RULES)
    page = render_html(hostile, text, predictions,
                       {"stance": ModelInfo("stance", f"folder {hostile}", hostile, 0.7, 0.1)})
    assert_no_script(page)
    assert str(escape(hostile)) in page  # as Jinja2 escapes
    assert '<span class="sentence" style="background:#d9f2d9" title="stance: promotional' in page
    rows = [IndexRow(hostile, _path("javascript:alert(1).html"), _path("x.jsonl"),
                     summarize(predictions))]
    index = render_index(rows, {})
    assert_no_script(index)
    assert 'href="./javascript%3Aalert%281%29.html"' in index


def _path(name: str) -> Path:
    return Path("/out") / name


def test_index_links_every_page_with_its_counts(ruled):
    predictions, _ = ruled
    rows = [IndexRow("a b", _path("a b.html"), _path("a b.predictions.jsonl"),
                     summarize(predictions))]
    index = render_index(rows, INFOS)
    assert '<a href="./a%20b.html">a b</a>' in index
    assert '<a href="./a%20b.predictions.jsonl">JSONL</a>' in index
    assert "<td>4</td><td>2 (50%)</td><td>4</td>" in index
    assert "crypto-news-bench-stance v3 @champion" in index
    assert '<section class="legend">' in index


# --- a real browser ------------------------------------------------------------------------

# What the planted payloads would do if they ran: set attributes on <body> and the title.
PAYLOAD = ("Binance said users are safe. <script>document.body.setAttribute('data-ran', "
           "'script'); document.title = 'PWNED'</script> The SEC disagreed.\n"
           "<img src=x onerror=\"document.body.setAttribute('data-ran', 'onerror')\"> "
           "<a href=\"javascript:document.title='PWNED'\">link</a>\n")


def chromium() -> str:
    """Debian's chromium; in CI (``CI`` set) its absence is a failure, not a skip."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs it (apt-get install -y "
                    "chromium); the page test must run in CI")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def headless(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=True)


# Slow: three browser starts, 3.4 to 9 s measured on the shared 2-core CPU.
@pytest.mark.slow
def test_page_in_headless_chromium(tmp_path, capsys):
    browser = chromium()
    folder = write_cheap_model(tmp_path / "stance-model", "stance", 0.55, 0.1)
    article = tmp_path / "hostile.txt"
    article.write_text(PAYLOAD, encoding="utf-8")
    assert cli.main(["predict", str(article), "--models", f"stance={folder}",
                     "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    page = (tmp_path / "out" / "hostile.html").as_uri()
    dom = headless(browser, tmp_path, "--dump-dom", page).stdout
    # It rendered: the dumped DOM is the page's, models table, legend and article included.
    assert "<title>hostile</title>" in dom
    assert f"folder {folder}" in dom
    assert "Legend" in dom and "low confidence, below 0.60" in dom
    assert "⚠ below the 0.60 floor" in dom
    # The payloads are text on the page, not elements, and none of them ran.
    assert "&lt;script&gt;document.body.setAttribute('data-ran', 'script')" in dom
    assert "&lt;img src=x onerror=" in dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "data-ran=" not in dom and "PWNED</title>" not in dom
    shot = tmp_path / "page.png"
    headless(browser, tmp_path, f"--screenshot={shot}", "--window-size=1000,800", page)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    index = headless(browser, tmp_path, "--dump-dom",
                     (tmp_path / "out" / "index.html").as_uri()).stdout
    assert '<a href="./hostile.html">hostile</a>' in index and "Legend" in index
