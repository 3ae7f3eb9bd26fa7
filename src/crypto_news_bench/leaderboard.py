"""Experiment comparison: read parent runs back from MLflow and rank them per task."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from . import tracking
from .schema import TASKS


@dataclass
class Row:
    task: str
    config: str
    model: str
    macro_f1: float
    ci_low: float
    ci_high: float
    secondary_metric: str
    secondary: float
    fit_seconds: float
    throughput: float
    run_id: str
    start_time: int


def collect(task: str | None = None, all_runs: bool = False) -> dict[str, list[Row]]:
    """Finished parent runs per task, best macro-F1 first; by default the latest per config."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    tasks = [task] if task else list(TASKS)
    out: dict[str, list[Row]] = {}
    for name in tasks:
        exp = client.get_experiment_by_name(tracking.experiment_name(name))
        if exp is None:
            continue
        runs = client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`{tracking.KIND_TAG}` = 'parent' and attributes.status = "
                          "'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=5000,
        )
        secondary = TASKS[name].secondary_metric
        rows, seen = [], set()
        for run in runs:
            config = run.data.tags.get("cnbench.config", run.info.run_name)
            if not all_runs and config in seen:
                continue
            seen.add(config)
            m = run.data.metrics
            rows.append(Row(
                task=name, config=config, model=run.data.tags.get("cnbench.model", ""),
                macro_f1=m.get("macro_f1", float("nan")),
                ci_low=m.get("macro_f1_ci_low", float("nan")),
                ci_high=m.get("macro_f1_ci_high", float("nan")),
                secondary_metric=secondary, secondary=m.get(secondary, float("nan")),
                fit_seconds=m.get("fit_seconds", float("nan")),
                throughput=m.get("throughput", float("nan")),
                run_id=run.info.run_id, start_time=run.info.start_time,
            ))
        out[name] = sorted(rows, key=lambda r: (-r.macro_f1, r.config))
    return out


def render(boards: dict[str, list[Row]], fmt: str = "md") -> str:
    if fmt == "json":
        return json.dumps({t: [asdict(r) for r in rows] for t, rows in boards.items()},
                          indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        fields = list(Row.__dataclass_fields__)
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for rows in boards.values():
            writer.writerows(asdict(r) for r in rows)
        return buf.getvalue()
    if fmt != "md":
        raise ValueError(f"unknown format {fmt!r}; valid formats: md, csv, json")
    parts = []
    for task, rows in boards.items():
        secondary = TASKS[task].secondary_metric
        lines = [f"### {task}", "",
                 f"| rank | model | macro-F1 [95% CI] | {secondary} | fit time (s) | run id |",
                 "|---:|---|---|---:|---:|---|"]
        for i, r in enumerate(rows, 1):
            lines.append(
                f"| {i} | {r.config} | {r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
                f"{r.secondary:.3f} | {r.fit_seconds:.2f} | `{r.run_id}` |"
            )
        if not rows:
            lines.append("| | (no finished runs) | | | | |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def bar_chart(boards: dict[str, list[Row]], path: Path | str) -> Path:
    """Macro-F1 per model with the bootstrap interval as error bars, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t, rows in boards.items() if rows]
    path = Path(path)
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(5 * max(len(tasks), 1), 4),
                             squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=False):
        rows = boards[task]
        names = [r.config for r in rows]
        values = [r.macro_f1 for r in rows]
        errors = [[r.macro_f1 - r.ci_low for r in rows], [r.ci_high - r.macro_f1 for r in rows]]
        ax.barh(names[::-1], values[::-1], xerr=[e[::-1] for e in errors], capsize=3,
                color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.set_xlabel("macro-F1 (95% bootstrap CI)")
        ax.set_title(task)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
