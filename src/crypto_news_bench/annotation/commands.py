"""``cnbench annotate config|export|import``: the subcommand's parser and its thin handler,
kept beside the stage they drive. Heavy imports stay inside the handler."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> None:
    from . import exporter, importer, label_studio

    if args.action == "config":
        print(label_studio.interface_xml(args.task), end="")
    elif args.action == "export":
        report = exporter.export_tasks(args.task, args.data_dir, args.out, args.docs,
                                       args.models)
        print(report.summary())
    else:
        report = importer.import_exports(args.exports, args.data_dir, args.annotator,
                                         replace=args.replace)
        print(report.summary())


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``annotate`` and its three actions to the ``cnbench`` subparsers ``sub``."""
    from ..data.schema import TASKS

    p = sub.add_parser("annotate", help="label the real pages in Label Studio: its interface, "
                                        "tasks to label, its exports imported")
    acts = p.add_subparsers(dest="action", required=True)
    a = acts.add_parser("config", help="print the Label Studio labelling interface (XML)")
    a.add_argument("--task", required=True, choices=list(TASKS))
    a.set_defaults(func=run)
    a = acts.add_parser("export", help="write Label Studio tasks for the units that lack a "
                                       "label, pre-annotated, least confident first")
    a.add_argument("--task", required=True, choices=list(TASKS))
    a.add_argument("--out", required=True, help="the JSON file to write")
    a.add_argument("--docs", nargs="+", metavar="ID",
                   help="only these documents (default: all real pages)")
    a.add_argument("--models", metavar="REF", default=None,
                   help="pre-annotate with this model: champion, challenger, a published folder "
                        "or an MLflow model URI (default: no predictions)")
    a.add_argument("--data-dir", default="data")
    a.set_defaults(func=run)
    a = acts.add_parser("import", help="check Label Studio JSON exports and write their labels "
                                       "into data/annotations/; two annotators: kappa")
    a.add_argument("exports", nargs="+", metavar="EXPORT.json")
    a.add_argument("--annotator", action="append", metavar="NAME",
                   help="who labelled an export, once per export in order (default: Label "
                        "Studio's completed_by)")
    a.add_argument("--replace", action="store_true",
                   help="overwrite labels that differ from the export's")
    a.add_argument("--data-dir", default="data")
    a.set_defaults(func=run)
