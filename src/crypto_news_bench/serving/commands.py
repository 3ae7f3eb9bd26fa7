"""``cnbench predict``: the subcommand's parser and its thin handler, kept beside the stage
they drive. Heavy imports stay inside the handler."""

from __future__ import annotations

import argparse
import sys

from ..errors import DataError

DEFAULT_MODELS = "boilerplate=champion,stance=champion,claim_type=champion"


def parse_models(groups: list[str] | None) -> dict[str, str]:
    """{task: reference} from ``--models`` options (each TASK=REF[,TASK=REF...])."""
    from ..data.schema import TASKS

    refs: dict[str, str] = {}
    items = [i.strip() for group in groups or [DEFAULT_MODELS] for i in group.split(",")]
    for item in items:
        task, sep, ref = item.partition("=")
        if not sep or task not in TASKS:
            raise DataError(f"--models takes TASK=REF with TASK one of {', '.join(TASKS)}; "
                            f"got {item!r}")
        if task in refs:
            raise DataError(f"--models names {task} twice ({refs[task]!r} and {ref!r})")
        refs[task] = ref
    return refs


def run(args: argparse.Namespace) -> None:
    from . import batch
    from .predict import load_models

    refs = parse_models(args.models)
    # Every article read and every output checked before any model loads (or any store is
    # opened): a bad file fails in a second and nothing is written.
    articles = batch.prepare(args.articles, args.out, args.overwrite)
    models = load_models(refs, args.precision, args.tracking_uri)
    for model in models.values():
        print(model.info.summary())
    rows, index = batch.predict_files(articles, models, args.out)
    for row, article in zip(rows, articles, strict=True):
        print(f"{article.path}: {_count(row)} predictions: {row.jsonl}\n  page: {row.page}")
    print(f"index: {index}")
    # After the progress bar, where they are seen.
    for model in models.values():
        if model.info.warning:
            print(f"warning: {model.info.warning}", file=sys.stderr)


def _count(row) -> int:
    """Predictions of one article: a label per block and per task of each content sentence."""
    s = row.summary
    return s.blocks + sum(s.stance.values()) + sum(s.claim_type.values())


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the ``cnbench`` subparsers ``sub``."""
    from .predictor import PRECISIONS

    p = sub.add_parser("predict", help="label new articles: a JSONL and an HTML page each, and "
                                       "an index page")
    p.add_argument("articles", nargs="+", metavar="ARTICLE",
                   help="plain-text articles (UTF-8, one block a line) and/or folders of them "
                        "(their *.txt files)")
    p.add_argument("--models", action="append", metavar="TASK=REF[,TASK=REF...]",
                   help="per task: a published folder, models:/NAME@ALIAS (NAME is "
                        "crypto-news-bench-TASK), runs:/ID/model, champion or challenger "
                        f"(default: {DEFAULT_MODELS})")
    p.add_argument("--out", default="predictions", help="output folder (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of an earlier prediction into the same folder")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="arithmetic of transformer models: bfloat16 is faster on CPUs with "
                        "native bf16 and may flip near-tied labels (default: %(default)s)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="the MLflow tracking store of champion, challenger and MLflow URIs "
                        "(default: MLFLOW_TRACKING_URI, else mlruns/mlflow.db here); read, "
                        "never created")
    p.set_defaults(func=run)
