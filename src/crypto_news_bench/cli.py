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
    elif args.action == "audit":
        _audit(args)
    elif args.action == "add":
        _add(args)
    else:
        from .data.checks import check_data
        from .models.encoder import sentence_encoder

        report = check_data(args.data_dir, sentence_encoder())
        print(report.summary())


def _add(args: argparse.Namespace) -> None:
    from .data.add import add_document, next_steps

    if args.file is None or args.publisher is None or args.title is None:
        raise DataError("data add needs FILE, --publisher and --title (--url and --date are "
                        "optional)")
    added = add_document(args.file, args.data_dir, args.publisher, args.title, args.url,
                         args.date)
    print(next_steps(added, args.data_dir))


def _audit(args: argparse.Namespace) -> None:
    from .config import CONFIG_DIR, load_config
    from .data.schema import TASKS, get_task
    from .evaluation import audit

    if args.task is None:
        raise DataError(f"data audit needs --task: one of {', '.join(TASKS)}")
    get_task(args.task)
    if args.split not in audit.AUDIT_SPLITS:
        raise DataError(f"unknown split {args.split!r}; valid splits: "
                        f"{', '.join(audit.AUDIT_SPLITS)}")
    # Refuse an existing CSV before minutes of training, not after.
    out = audit.check_output(args.out or f"audit-{args.task}.csv", args.overwrite)
    given = Path(args.config)  # a file, or the name of one under configs/
    is_file = given.suffix in (".yaml", ".yml") or len(given.parts) > 1
    config = load_config(given if is_file else CONFIG_DIR / f"{args.config}.yaml")
    result = audit.audit_dataset(
        config, args.task, args.data_dir, args.split,
        on_fold=lambda i, n, n_train: print(f"fold {i}/{n}: fitting {config.name} on "
                                            f"{n_train} units", file=sys.stderr))
    audit.write_csv(result, out, overwrite=args.overwrite)
    print(audit.render_table(result, args.top), end="")
    print(f"\nall {len(result.rows)} units, ranked: {out}")


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
    from .serving.store_check import require_existing_store
    from .tracking import store

    store.setup(require_existing_store(args.tracking_uri))  # read, never created
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
    from .models.frozen import EMBEDDING_CACHE_ENV

    shard = parse_shard(args.shard) if args.shard else None
    if args.embedding_cache:
        # Inherited by the worker processes: they share the frozen encoder's embeddings.
        os.environ[EMBEDDING_CACHE_ENV] = str(Path(args.embedding_cache).resolve())
    summary = run_bench(args.grid, args.data_dir, force=args.force, shard=shard,
                        results_dir=args.results, readme=args.readme, jobs=args.jobs)
    print(dataset.splits_markdown(dataset.gold_splits(args.data_dir)))
    boards = summary.boards or leaderboard.collect()
    print(leaderboard.render(boards, "md"), end="")
    print(f"\n{len(summary.ran)} cell(s) run, {len(summary.skipped)} skipped, "
          f"{summary.seconds:.0f} s; report: {args.results}/leaderboard.md")


def _publish(args: argparse.Namespace) -> None:
    from .serving.publish import publish
    from .serving.store_check import require_existing_store

    out = publish(args.run_id, args.out, tracking_uri=require_existing_store(args.tracking_uri),
                  overwrite=args.overwrite)
    print(f"published {args.run_id} to {out}")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="cnbench", description="crypto-news-bench: dataset, training, comparison.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="check the corpus (hashes, labels, leakage, duplicates); "
                                    "build the dataset; print stats; audit labels")
    p.add_argument("action", nargs="?", choices=["check", "build", "stats", "audit", "add"],
                   default="check")
    p.add_argument("file", nargs="?", default=None,
                   help="add: a real page as plain UTF-8 text, one block a line")
    p.add_argument("--data-dir", default="data",
                   help="folder with raw/, annotations/ and synthetic/ (default: %(default)s)")
    p.add_argument("--per-document", action="store_true",
                   help="stats: a row per synthetic document too, not only totals")
    p.add_argument("--task", default=None, help="audit: the task whose labels to audit")
    p.add_argument("--config", default="tfidf_word_lr",
                   help="audit: the model, a config name under configs/ or a YAML file "
                        "(default: %(default)s)")
    p.add_argument("--split", default="real", metavar="{real,synthetic,all}",
                   help="audit: the split(s) whose labels to audit (default: %(default)s)")
    p.add_argument("--out", default=None,
                   help="audit: the ranked CSV of every unit (default: audit-TASK.csv)")
    p.add_argument("--top", type=_positive_int, default=20, metavar="N",
                   help="audit: rows of the ranking printed (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="audit: replace an existing CSV")
    p.add_argument("--publisher", help="add: the site or outlet the page comes from")
    p.add_argument("--title", help="add: the article's title")
    p.add_argument("--url", default=None, help="add: where the page was found (optional)")
    p.add_argument("--date", default=None, help="add: publication date, YYYY-MM-DD (optional)")
    p.set_defaults(func=_data)

    from .annotation.commands import add_parser as add_annotate_parser

    add_annotate_parser(sub)

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
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="the MLflow store to read (default: MLFLOW_TRACKING_URI, else "
                        "mlruns/mlflow.db here); never created")
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
    p.add_argument("--embedding-cache", default=".cache/embeddings", metavar="DIR",
                   help="folder where frozen-encoder embeddings persist between cells and runs "
                        "(%(default)s; '' for none)")
    p.set_defaults(func=_bench)

    p = sub.add_parser("publish", help="export a run's final model as a standalone folder")
    p.add_argument("run_id", help="a run that holds a model: the run id `cnbench compare` "
                                  "prints for a config")
    p.add_argument("--out", required=True, help="the folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty folder")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="the MLflow store to read (default: MLFLOW_TRACKING_URI, else "
                        "mlruns/mlflow.db here); never created")
    p.set_defaults(func=_publish)

    from .serving.commands import add_parser as add_predict_parser

    add_predict_parser(sub)
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
