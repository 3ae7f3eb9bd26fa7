"""crypto_news_bench.serving.commands (``cnbench predict``'s parser and handler): each task's
model named with its scores on stdout, a task below the floor warned about on stderr, and
``--models`` parsed, a task named twice or an unknown one refused before anything is read."""

from __future__ import annotations

import pytest
from conftest import models_arg

from crypto_news_bench import cli
from crypto_news_bench.errors import DataError
from crypto_news_bench.serving.commands import DEFAULT_MODELS, parse_models


def test_models_and_warnings_are_printed(cheap_models, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Share this article\nThe SEC sued the exchange.\n", encoding="utf-8")
    assert cli.main(["predict", str(article), "--models", models_arg(cheap_models),
                     "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    bp, stance, claim = (cheap_models[t] for t in ("boilerplate", "stance", "claim_type"))
    assert out.splitlines()[:3] == [
        f"boilerplate: folder {bp} (tfidf_word_lr), macro-F1 0.810, ECE 0.050",
        f"stance: folder {stance} (tfidf_word_lr), macro-F1 0.650, ECE 0.080",
        f"claim_type: folder {claim} (tfidf_word_lr), macro-F1 0.450, ECE 0.120",
    ]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: claim_type: folder {claim} scored macro-F1 0.450 in the "
                        "benchmark, below the floor of 0.60; treat its labels as hints to check"]


def test_parse_models():
    assert parse_models(None) == parse_models([DEFAULT_MODELS]) == {
        "boilerplate": "champion", "stance": "champion", "claim_type": "champion"}
    assert parse_models(["stance=a, claim_type=b", "boilerplate=c"]) == {
        "stance": "a", "claim_type": "b", "boilerplate": "c"}


def test_a_task_named_twice_is_refused(tmp_path, capsys):
    for groups in (["stance=a,stance=b"], ["stance=a", "stance=b"]):
        with pytest.raises(DataError, match=r"^--models names stance twice \('a' and 'b'\)$"):
            parse_models(groups)
    code = cli.main(["predict", str(tmp_path / "missing.txt"), "--models", "stance=a",
                     "--models", "stance=b"])
    assert (code, capsys.readouterr().err) == (
        2, "error: --models names stance twice ('a' and 'b')\n")


@pytest.mark.parametrize("item", ["sentiment=x", "stance", "=x"])
def test_unknown_task_is_refused(item):
    with pytest.raises(DataError) as exc:
        parse_models([item])
    assert str(exc.value) == ("--models takes TASK=REF with TASK one of boilerplate, stance, "
                              f"claim_type; got {item!r}")
