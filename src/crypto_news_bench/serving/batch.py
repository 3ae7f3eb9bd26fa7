"""Many articles at once (``cnbench predict a.txt b.txt folder/``): inputs expanded and read,
outputs checked, all before any model loads, so that a bad file or a collision fails in a
second and writes nothing; then one JSONL and one page per article, and ``index.html``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.corpus import decode_text
from ..errors import DataError
from . import predict
from .page import IndexRow, render_index, summarize
from .predict import Model, predict_raw, write_outputs

INDEX = "index.html"


@dataclass(frozen=True)
class Article:
    path: Path
    text: str

    @property
    def name(self) -> str:
        return self.path.stem


def expand_inputs(inputs: Sequence[Path | str]) -> list[Path]:
    """Files as given and the ``*.txt`` files of folders (sorted by name), each once, in the
    order given; a folder without any is refused by name."""
    out: list[Path] = []
    seen: set[Path] = set()
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not found:
                raise DataError(f"{path}: a folder with no *.txt article in it; predict takes "
                                "plain-text articles (UTF-8, one block a line) and folders of "
                                "them")
        else:
            found = [path]
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def read_articles(paths: Sequence[Path]) -> list[Article]:
    """Each file read as UTF-8 (missing, empty and undecodable files refused by name); two
    files whose outputs would have the same name, or an article that would replace the
    index page, are refused too."""
    articles = [Article(p, decode_text(p)) for p in paths]
    by_name: dict[str, Path] = {}
    for a in articles:
        if a.name in by_name:
            raise DataError(f"{by_name[a.name]} and {a.path}: both would be written as "
                            f"{a.name}.html; rename one, or predict them into different --out "
                            "folders")
        if Path(INDEX).stem == a.name:
            raise DataError(f"{a.path}: an article named {a.name!r} would replace the index "
                            f"page {INDEX}; rename it")
        by_name[a.name] = a.path
    return articles


def check_outputs(articles: Sequence[Article], out_dir: Path | str, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file, and (without ``overwrite``) any output of an earlier
    prediction, the index included: it would be replaced without a word."""
    out = Path(out_dir)
    for a in articles:
        predict.check_outputs(a.path, out, overwrite)
    if (out / INDEX).exists() and not overwrite:
        raise DataError(f"{out / INDEX}: exists, from an earlier prediction; use --overwrite "
                        "to replace it, or another --out")


def prepare(inputs: Sequence[Path | str], out_dir: Path | str, overwrite: bool = False
            ) -> list[Article]:
    """Every check that needs no model: the articles, read, and their outputs."""
    articles = read_articles(expand_inputs(inputs))
    check_outputs(articles, out_dir, overwrite)
    return articles


def predict_files(articles: Sequence[Article], models: Mapping[str, Model],
                  out_dir: Path | str, progress: bool = True) -> tuple[list[IndexRow], Path]:
    """Predict every article with ``models``, writing each one's JSONL and page as it is done
    (an error later keeps the finished ones), then the index. Returns (rows, index path)."""
    from tqdm.auto import tqdm

    infos = {task: m.info for task, m in models.items()}
    rows = []
    for a in tqdm(articles, desc="articles", unit="article", file=sys.stderr,
                  disable=not progress):
        predictions = predict_raw(a.name, a.text, models)
        jsonl, page = write_outputs(a.path, a.text, predictions, out_dir, infos)
        rows.append(IndexRow(a.name, page, jsonl, summarize(predictions)))
    index = Path(out_dir) / INDEX
    index.write_text(render_index(rows, infos), encoding="utf-8")
    return rows, index
