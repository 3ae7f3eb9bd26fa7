"""crypto_news_bench.data.units: blocks and sentences with exact offsets and stable ids, on the
real corpus, on hand-made lines, and on any text (hypothesis)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fuzzing import FAST
from hypothesis import given
from hypothesis import strategies as st

from crypto_news_bench.data.corpus import load_corpus
from crypto_news_bench.data.units import blocks, sentences, split_sentences


@pytest.fixture(scope="module")
def real_units():
    docs = load_corpus(Path(__file__).parents[2] / "data" / "raw")
    return [(d, blocks(d.id, d.text), sentences(blocks(d.id, d.text))) for d in docs]


# --- the real corpus --------------------------------------------------------------------


def test_real_offsets_round_trip(real_units):
    n = 0
    for doc, bl, se in real_units:
        assert bl and se
        for u in bl + se:
            assert doc.text[u.start:u.end] == u.text, u.id
            assert u.text == u.text.strip() and u.text, u.id
            n += 1
    assert n > 100


def test_real_ids_format_and_line_numbers(real_units):
    for doc, bl, se in real_units:
        raw_lines = doc.text.split("\n")
        for b in bl:
            assert re.fullmatch(rf"{re.escape(doc.id)}:L\d+", b.id)
            assert b.id == f"{doc.id}:L{b.line}" and b.block_id == b.id
            assert (b.doc_id, b.kind) == (doc.id, "block")
            assert b.text in raw_lines[b.line - 1]
        for s in se:
            assert re.fullmatch(rf"{re.escape(doc.id)}:L\d+:S\d+", s.id)
            assert s.id.startswith(f"{s.block_id}:S") and s.kind == "sentence"
        assert [b.position for b in bl] == list(range(len(bl)))
        assert [s.position for s in se] == list(range(len(se)))
        assert len({u.id for u in bl + se}) == len(bl) + len(se)


def test_real_sentences_lie_inside_their_block_in_order(real_units):
    for _, bl, se in real_units:
        by_id = {b.id: b for b in bl}
        per_block: dict[str, list] = {}
        for s in se:
            per_block.setdefault(s.block_id, []).append(s)
        assert list(per_block) == [b.id for b in bl]  # every block has a sentence, in order
        for bid, ss in per_block.items():
            block = by_id[bid]
            assert [s.id for s in ss] == [f"{bid}:S{n}" for n in range(1, len(ss) + 1)]
            assert all(s.line == block.line for s in ss)
            assert block.start <= ss[0].start and ss[-1].end <= block.end
            for a, b in zip(ss, ss[1:], strict=False):
                assert a.end <= b.start


def test_segmentation_is_stable(real_units):
    for doc, bl, se in real_units:
        again = blocks(doc.id, doc.text)
        assert again == bl
        assert sentences(again) == se


# --- hand-made input --------------------------------------------------------------------


def test_bullet_and_white_space_are_stripped():
    raw = "  • item\n"
    (b,) = blocks("d", raw)
    assert (b.id, b.line, b.text, b.start, b.end) == ("d:L1", 1, "item", 4, 8)
    assert raw[b.start:b.end] == "item"


@pytest.mark.parametrize("line,text", [
    ("\t- first item  ", "first item"),
    ("* second item", "second item"),
    ("–  third item\t", "third item"),
    ("•item", "item"),
    ("   ▪ ◦ nested", "nested"),
    ("- -5% on the day", "-5% on the day"),  # a minus sign is not a bullet
    ("-5% on the day", "-5% on the day"),
    ("*Update* prices fell", "*Update* prices fell"),
    ("a - b", "a - b"),
])
def test_bullet_forms(line, text):
    raw = "intro\n" + line + "\n"
    b = blocks("d", raw)[1]
    assert b.text == text
    assert raw[b.start:b.end] == text
    assert b.line == 2


@pytest.mark.parametrize("line", ["", "   ", "\t", "  •  ", "---", " * "])
def test_lines_without_text_give_no_block(line):
    raw = f"first\n{line}\nthird\n"
    assert [(b.id, b.line, b.text) for b in blocks("d", raw)] == [
        ("d:L1", 1, "first"), ("d:L3", 3, "third")]


def test_blank_lines_keep_raw_line_numbers():
    raw = "\n\nAlpha line.\n\n\n  Beta line.  \nGamma"
    got = blocks("doc", raw)
    assert [(b.id, b.line, b.position, b.text) for b in got] == [
        ("doc:L3", 3, 0, "Alpha line."),
        ("doc:L6", 6, 1, "Beta line."),
        ("doc:L7", 7, 2, "Gamma"),  # the last line needs no newline
    ]
    for b in got:
        assert raw[b.start:b.end] == b.text


def test_crlf_input():
    raw = "Title here\r\n\r\n  • One fact. Another fact.\r\nEnd.\r\n"
    bl = blocks("w", raw)
    assert [(b.id, b.text) for b in bl] == [
        ("w:L1", "Title here"), ("w:L3", "One fact. Another fact."), ("w:L4", "End.")]
    se = sentences(bl)
    assert [(s.id, s.text) for s in se] == [
        ("w:L1:S1", "Title here"), ("w:L3:S1", "One fact."), ("w:L3:S2", "Another fact."),
        ("w:L4:S1", "End.")]
    for u in bl + se:
        assert raw[u.start:u.end] == u.text
        assert "\r" not in u.text
    # the offsets count the \r characters
    assert bl[1].start == len("Title here\r\n\r\n  • ")


def test_split_sentences_spans():
    text = "Prices rose 5% on Monday.  Analysts were surprised! Was it real?"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Prices rose 5% on Monday.", "Analysts were surprised!", "Was it real?"]
    assert spans[0] == (0, 25)


def test_sentences_offsets_and_positions_across_blocks():
    raw = "Head.\nFirst one. Second one.\n"
    bl = blocks("x", raw)
    se = sentences(bl)
    assert [(s.id, s.block_id, s.line, s.start, s.end, s.position) for s in se] == [
        ("x:L1:S1", "x:L1", 1, 0, 5, 0),
        ("x:L2:S1", "x:L2", 2, 6, 16, 1),
        ("x:L2:S2", "x:L2", 2, 17, 28, 2),
    ]
    assert sentences(bl[1:])[0].id == "x:L2:S1"  # ids do not depend on which blocks are passed


def test_same_text_twice_gives_same_ids(tiny_docs):
    text = tiny_docs["a01"]
    first = [u.id for u in sentences(blocks("a01", text))]
    second = [u.id for u in sentences(blocks("a01", text))]
    assert first == second == ["a01:L1:S1", "a01:L2:S1", "a01:L3:S1", "a01:L3:S2", "a01:L5:S1"]


def test_only_newline_ends_a_line():
    # U+2028 and form feed are text inside a line, as editors and `grep -n` count lines;
    # str.splitlines would split there and shift every later line number.
    raw = "first\u2028still first\nsecond\x0cstill second\nthird"
    got = blocks("d", raw)
    assert [b.id for b in got] == ["d:L1", "d:L2", "d:L3"]
    assert [raw[b.start:b.end] for b in got] == [b.text for b in got]
    assert got[2].text == "third"


def test_byte_order_mark_is_not_part_of_the_first_block():
    raw = "\ufeffHeadline\nBody."
    got = blocks("d", raw)
    assert got[0].text == "Headline" and got[0].start == 1


# --- any text (hypothesis) -------------------------------------------------------------

# Text with the characters that trouble segmenters: line and paragraph separators, bullets,
# quotes, dots, CR, tabs, non-BMP symbols, combining marks, zero-width joiners.
TRICKY = "\n\r\t \u2028\u2029\u00a0•·–-*.!?…\"'“”‘’()[]:;$%0123456789\u200d\u0301\U0001F600"
texts = st.text(alphabet=st.one_of(st.sampled_from(list(TRICKY)),
                                   st.characters(codec="utf-8")), max_size=300)


@FAST
@given(texts)
def test_segmentation_offsets_round_trip(text):
    doc_blocks = blocks("d", text)
    for b in doc_blocks:
        assert text[b.start:b.end] == b.text and b.text == b.text.strip()
        assert b.text and b.line == int(b.id.split(":L")[1])
    assert len({b.id for b in doc_blocks}) == len(doc_blocks)
    for s in sentences(doc_blocks):
        assert text[s.start:s.end] == s.text
        block = next(b for b in doc_blocks if b.id == s.block_id)
        assert block.start <= s.start <= s.end <= block.end
