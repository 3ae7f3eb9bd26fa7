"""``cnbench``: one command, subcommands thin over the library. Heavy imports stay inside."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import CnbenchError, ConfigError, DataError


def _data(args: argparse.Namespace) -> None:
    from .data import dataset

    if args.action == "build":
        out = dataset.build(args.data_dir)
        print(f"wrote {out}")
        print(dataset.splits_markdown(dataset.gold_splits(args.data_dir)))
    elif args.action == "stats":
        print(dataset.splits_markdown(dataset.gold_splits(args.data_dir),
                                      synthetic_per_document=args.per_document), end="")
    else:
        from .data.checks import check_data
        from .models.encoder import sentence_encoder

        report = check_data(args.data_dir, sentence_encoder())
        print(report.summary())


def _train(args: argparse.Namespace) -> None:
    from .config import load_config, tasks_to_run
    from .train import is_main_process, train

    overrides = {"seed": args.seed} if args.seed is not None else None
    config = load_config(args.config, overrides)
    for task in tasks_to_run(config, args.task):
        result = train(config, task, args.data_dir, track=not args.no_track)
        if not is_main_process():  # under torchrun, rank 0 reports
            continue
        ev = result.evaluation
        print(f"{task:<12} {config.name:<16} macro-F1 {ev.metrics['macro_f1']:.3f} "
              f"[{ev.ci[0]:.3f}, {ev.ci[1]:.3f}]  run {result.run_id or '-'}")
        for note in ev.notes:
            print(f"  note: {note}")


def _compare(args: argparse.Namespace) -> None:
    from .bench import leaderboard
    from .tracking import store

    store.setup()
    if args.vs:
        _compare_pair(args)
        return
    boards = leaderboard.collect(args.task, all_runs=args.all)
    print(leaderboard.render(boards, args.format), end="")
    if args.chart:
        path = leaderboard.bar_chart(boards, args.chart)
        print(f"chart: {path}", file=sys.stderr)


def _compare_pair(args: argparse.Namespace) -> None:
    import json

    from .bench import leaderboard
    from .data.schema import TASKS

    a, b = args.vs
    tasks = [args.task] if args.task else [
        t for t in TASKS if leaderboard.runs_per_seed(t, a) and leaderboard.runs_per_seed(t, b)]
    if not tasks:
        raise ConfigError(f"no task has finished runs of both {a!r} and {b!r}")
    results = [leaderboard.paired_comparison(t, a, b) for t in tasks]
    if args.format == "json":
        print(json.dumps(results, indent=2))
        return
    for r in results:
        verdict = "A better" if r["low"] > 0 else "B better" if r["high"] < 0 else "no clear winner"
        print(f"{r['task']:<12} {a} - {b}: macro-F1 difference {r['diff']:+.3f} "
              f"[95% CI {r['low']:+.3f}, {r['high']:+.3f}], p(A <= B) = {r['p_value']:.3f} "
              f"({verdict}; paired bootstrap, {r['n_resamples']} resamples)")


def _bench(args: argparse.Namespace) -> None:
    from .bench import leaderboard
    from .bench.grid import parse_shard
    from .bench.harness import run_bench
    from .data import dataset

    shard = parse_shard(args.shard) if args.shard else None
    summary = run_bench(args.grid, args.data_dir, force=args.force, shard=shard,
                        results_dir=args.results, readme=args.readme, jobs=args.jobs)
    print(dataset.splits_markdown(dataset.gold_splits(args.data_dir)))
    boards = summary.boards or leaderboard.collect()
    print(leaderboard.render(boards, "md"), end="")
    print(f"\n{len(summary.ran)} cell(s) run, {len(summary.skipped)} skipped, "
          f"{summary.seconds:.0f} s; report: {args.results}/leaderboard.md")


def _publish(args: argparse.Namespace) -> None:
    from .serving.publish import publish

    out = publish(args.run_id, args.out, overwrite=args.overwrite)
    print(f"published {args.run_id} to {out}")


DEFAULT_MODELS = "boilerplate=champion,stance=champion,claim_type=champion"


def _predict(args: argparse.Namespace) -> None:
    from .data.schema import TASKS
    from .serving.predict import load_predictor, predict_article, write_outputs

    refs = {}
    items = [i.strip() for group in args.models or [DEFAULT_MODELS] for i in group.split(",")]
    for item in items:
        task, sep, ref = item.partition("=")
        if not sep or task not in TASKS:
            raise DataError(f"--models takes TASK=REF with TASK one of {', '.join(TASKS)}; "
                            f"got {item!r}")
        if task in refs:
            raise DataError(f"--models names {task} twice ({refs[task]!r} and {ref!r})")
        refs[task] = ref
    # Read the article and check the outputs before loading any model: a bad file should
    # fail in a second.
    from .data.corpus import decode_text
    from .serving.predict import check_outputs

    article = Path(args.article)
    if article.is_dir():
        raise DataError(f"{article}: is a folder; predict takes a plain-text article file")
    decode_text(article)
    check_outputs(article, args.out, args.overwrite)
    predictors = {task: load_predictor(ref, task, args.precision) for task, ref in refs.items()}
    raw, predictions = predict_article(article, predictors)
    jsonl, page = write_outputs(article, raw, predictions, args.out)
    print(f"{len(predictions)} predictions: {jsonl}\npage: {page}")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .serving.predict import PRECISIONS

    parser = argparse.ArgumentParser(
        prog="cnbench", description="crypto-news-bench: dataset, training, comparison.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="check the corpus (hashes, labels, leakage, duplicates); "
                                    "build the dataset; print stats")
    p.add_argument("action", nargs="?", choices=["check", "build", "stats"], default="check")
    p.add_argument("--data-dir", default="data",
                   help="folder with raw/, annotations/ and synthetic/ (default: %(default)s)")
    p.add_argument("--per-document", action="store_true",
                   help="stats: a row per synthetic document too, not only totals")
    p.set_defaults(func=_data)

    p = sub.add_parser("train", help="run the protocol for a config and log it to MLflow")
    p.add_argument("config", help="a YAML file under configs/")
    p.add_argument("--task", default="all", help="a task name, or all (default)")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--no-track", action="store_true", help="evaluate without logging")
    p.set_defaults(func=_train)

    p = sub.add_parser("compare", help="leaderboard per task from the tracked runs")
    p.add_argument("--task", default=None)
    p.add_argument("--format", choices=["md", "csv", "json"], default="md")
    p.add_argument("--all", action="store_true", help="every run, not the latest per config")
    p.add_argument("--vs", nargs=2, metavar=("A", "B"),
                   help="paired bootstrap test of config A against config B")
    p.add_argument("--chart", default="mlruns/leaderboard.png",
                   help="where to write the bar chart PNG (default: %(default)s)")
    p.set_defaults(func=_compare)

    p = sub.add_parser("bench", help="build the dataset, run the grid, write the report")
    p.add_argument("--grid", default="configs/bench.yaml")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--force", action="store_true", help="rerun cells that already finished")
    p.add_argument("--shard", metavar="I/N", help="run every N-th cell from the I-th (1-based)")
    p.add_argument("--results", default="bench/results", help="report folder (%(default)s)")
    p.add_argument("--readme", default="README.md",
                   help="README whose results section is refreshed (%(default)s)")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="cells run at once, each in its own process with cores/N threads "
                        "(default: %(default)s; make bench uses 2)")
    p.set_defaults(func=_bench)

    p = sub.add_parser("publish", help="export a run's final model as a standalone folder")
    p.add_argument("run_id")
    p.add_argument("--out", required=True, help="the folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty folder")
    p.set_defaults(func=_publish)

    p = sub.add_parser("predict", help="label a new article: JSONL and an HTML page")
    p.add_argument("article", help="a plain-text article, UTF-8")
    p.add_argument("--models", action="append", metavar="TASK=REF[,TASK=REF...]",
                   help="per task: a published folder, models:/NAME@ALIAS, runs:/ID/model, or "
                        f"champion (default: {DEFAULT_MODELS})")
    p.add_argument("--out", default="predictions", help="output folder (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of an earlier prediction of the same article name")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="arithmetic of transformer models: bfloat16 is faster on CPUs with "
                        "native bf16 and may flip near-tied labels (default: %(default)s)")
    p.set_defaults(func=_predict)
    return parser


# Progress bars and load reports of the libraries drown the lines people read; our own
# progress goes through tqdm in the bench.
QUIET_ENV = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        args.func(args)
    except CnbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
