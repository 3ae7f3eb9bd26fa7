"""crypto_news_bench.models.layout_features on a hand-made page: each block's shape, its place
against the page's run of long blocks, its neighbours, and pages kept apart by group."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_news_bench.models import layout_features as lf

BODY = ("The exchange said on Tuesday that it had settled the case with the regulator and that "
        "customer funds were never at risk, according to a statement seen by reporters.")
PAGE = [
    "Home | Markets | Crypto | Opinion",                  # 0 navigation
    "By Jane Roe · 12 March 2024, 10:45",                 # 1 byline with date and time
    BODY,                                                 # 2 body
    BODY.replace("Tuesday", "Monday"),                    # 3 body
    "Read more:",                                         # 4 ends with a colon
    "- Share on X",                                       # 5 list marker
    "© 2024 Example Media. Visit www.example.com",        # 6 copyright and URL
]


def col(name: str) -> int:
    names = lf.BLOCK_FEATURES + lf.POSITION_FEATURES
    return names.index(name)


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return lf.page_layout(PAGE)


def test_one_row_per_block_and_named_columns(page):
    width = len(lf.BLOCK_FEATURES) + len(lf.POSITION_FEATURES) \
        + len(lf.NEIGHBOUR_OF) * len(lf.NEIGHBOUR_OFFSETS)
    assert page.shape == (len(PAGE), width)


def test_block_shape(page):
    assert page[2, col("log_words")] == pytest.approx(np.log1p(len(BODY.split())))
    assert page[:, col("ends_terminal")].tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert page[:, col("ends_colon")].tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert page[:, col("has_date")].tolist() == [0, 1, 0, 0, 0, 0, 1]
    assert page[:, col("has_url")].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert page[:, col("has_copyright")].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert page[:, col("list_marker")].tolist() == [0, 0, 0, 0, 0, 1, 0]
    # "Home | Markets | Crypto | Opinion": 3 separators for 4 words, all capitalised.
    assert page[0, col("separators_per_word")] == pytest.approx(3 / 4)
    assert page[0, col("capitalised_share")] == pytest.approx(1.0)
    assert page[0, col("stopword_share")] < 0.3 < page[2, col("stopword_share")]


def test_position_against_the_body_span(page):
    # The long blocks are 2 and 3: only they are inside the span.
    assert page[:, col("inside_body_span")].tolist() == [0, 0, 1, 1, 0, 0, 0]
    assert page[:, col("relative_position")].tolist() == pytest.approx(
        [i / 6 for i in range(7)])
    # Before the first long block the distance is negative, after the last positive.
    before = page[0, col("signed_log_distance_to_first_long")]
    after = page[6, col("signed_log_distance_to_last_long")]
    assert before == pytest.approx(-np.log1p(2))
    assert after == pytest.approx(np.log1p(3))


def test_neighbours_are_the_blocks_around(page):
    base = len(lf.BLOCK_FEATURES) + len(lf.POSITION_FEATURES)
    k = len(lf.NEIGHBOUR_OF)
    prev_words = base + lf.NEIGHBOUR_OFFSETS.index(-1) * k + lf.NEIGHBOUR_OF.index("log_words")
    next_terminal = base + lf.NEIGHBOUR_OFFSETS.index(1) * k \
        + lf.NEIGHBOUR_OF.index("ends_terminal")
    # Block 3's previous block is the body paragraph 2; block 0 has none (0 past the edge).
    assert page[3, prev_words] == page[2, col("log_words")]
    assert page[0, prev_words] == 0.0
    # Block 1 is followed by a body paragraph that ends with a full stop.
    assert page[1, next_terminal] == 1.0
    assert page[6, next_terminal] == 0.0


def test_similarity_to_the_long_blocks_centroid():
    emb = np.eye(len(PAGE))[:, :4].astype(float)
    emb[2] = emb[3] = [0, 0, 0, 1.0]  # the body paragraphs point one way
    emb[0] = [1.0, 0, 0, 0]
    sim = lf.page_similarity(PAGE, emb)
    assert sim[2, 0] == pytest.approx(1.0)   # a body block is its page's centroid
    assert sim[0, 0] == pytest.approx(0.0)   # navigation is orthogonal to it
    assert sim[1, 1] == pytest.approx(0.0)   # block 1's previous one is block 0
    assert sim[1, 2] == pytest.approx(1.0)   # and its next one is body


def test_groups_keep_pages_apart():
    emb = np.ones((len(PAGE) * 2, 3)) / np.sqrt(3)
    both = lf.layout_features(PAGE + PAGE, emb, groups=["a"] * 7 + ["b"] * 7)
    alone = lf.layout_features(PAGE, emb[:7])
    assert both.shape == (14, alone.shape[1])
    # The second page's first block has no previous neighbour: pages do not bleed.
    assert np.array_equal(both[7:], alone)
    assert np.array_equal(both[:7], alone)


def test_groups_must_match_the_blocks():
    with pytest.raises(ValueError, match="2 groups for 7 blocks"):
        lf.layout_features(PAGE, np.zeros((7, 3)), groups=["a", "b"])


def test_an_empty_page():
    assert lf.page_layout([]).shape[0] == 0
    assert lf.layout_features([], np.zeros((0, 3))).shape[0] == 0
