"""Experiment comparison: read parent runs back from MLflow and rank them per task.

Runs of the same config with different seeds are one row: the mean over seeds with its
standard deviation (the latest run of each seed counts). ``all_runs`` lists every run instead.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import tracking
from .schema import TASKS


@dataclass
class Row:
    task: str
    config: str
    model: str
    macro_f1: float  # mean over seeds
    macro_f1_sd: float  # standard deviation over seeds (0 for one seed)
    n_seeds: int
    ci_low: float  # 95% bootstrap interval of macro-F1, averaged over seeds
    ci_high: float
    secondary_metric: str
    secondary: float
    fit_seconds: float
    throughput: float  # out-of-fold inference, units per second
    run_id: str  # the newest run of the row
    start_time: int
    per_class_f1: dict[str, float] = field(default_factory=dict)


def _mean(values: list[float]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def _row(task: str, config: str, runs: list) -> Row:
    secondary = TASKS[task].secondary_metric
    nan = float("nan")

    def m(name: str) -> list[float]:
        return [r.data.metrics.get(name, nan) for r in runs]

    f1s = m("macro_f1")
    newest = max(runs, key=lambda r: r.info.start_time)
    return Row(
        task=task, config=config, model=newest.data.tags.get("cnbench.model", ""),
        macro_f1=_mean(f1s), macro_f1_sd=float(statistics.stdev(f1s)) if len(f1s) > 1 else 0.0,
        n_seeds=len(runs), ci_low=_mean(m("macro_f1_ci_low")),
        ci_high=_mean(m("macro_f1_ci_high")), secondary_metric=secondary,
        secondary=_mean(m(secondary)), fit_seconds=_mean(m("fit_seconds")),
        throughput=_mean(m("throughput")), run_id=newest.info.run_id,
        start_time=newest.info.start_time,
        per_class_f1={lab: _mean(m(f"f1_{lab}")) for lab in TASKS[task].labels},
    )


def finished_parent_runs(task: str) -> list:
    """Every FINISHED parent run of the task's experiment, newest first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(tracking.experiment_name(task))
    if exp is None:
        return []
    return client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{tracking.KIND_TAG}` = 'parent' and attributes.status = "
                      "'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=50000,
    )


def collect(task: str | None = None, all_runs: bool = False) -> dict[str, list[Row]]:
    """Rows per task, best mean macro-F1 first."""
    out: dict[str, list[Row]] = {}
    for name in [task] if task else list(TASKS):
        runs = finished_parent_runs(name)
        if not runs and task is None:
            continue
        if all_runs:
            rows = [_row(name, r.data.tags.get("cnbench.config", r.info.run_name), [r])
                    for r in runs]
        else:
            latest: dict[tuple[str, str], object] = {}
            for r in runs:  # newest first: the first run of a (config, seed) wins
                config = r.data.tags.get("cnbench.config", r.info.run_name)
                latest.setdefault((config, r.data.tags.get("cnbench.seed", "0")), r)
            by_config: dict[str, list] = {}
            for (config, _), r in latest.items():
                by_config.setdefault(config, []).append(r)
            rows = [_row(name, config, rs) for config, rs in by_config.items()]
        out[name] = sorted(rows, key=lambda r: (-r.macro_f1, r.config, -r.start_time))
    return out


def render(boards: dict[str, list[Row]], fmt: str = "md") -> str:
    if fmt == "json":
        return json.dumps({t: [asdict(r) for r in rows] for t, rows in boards.items()},
                          indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        fields = [f for f in Row.__dataclass_fields__ if f != "per_class_f1"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n",
                                extrasaction="ignore")
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
                 f"| rank | model | macro-F1 [95% CI] | ± sd (seeds) | {secondary} | "
                 "fit time (s) | units/s | run id |",
                 "|---:|---|---|---|---:|---:|---:|---|"]
        for i, r in enumerate(rows, 1):
            lines.append(
                f"| {i} | {r.config} | {r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
                f"± {r.macro_f1_sd:.3f} ({r.n_seeds}) | {r.secondary:.3f} | "
                f"{r.fit_seconds:.2f} | {r.throughput:,.0f} | `{r.run_id}` |"
            )
        if not rows:
            lines.append("| | (no finished runs) | | | | | | |")
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
        errors = [[max(r.macro_f1 - r.ci_low, 0) for r in rows],
                  [max(r.ci_high - r.macro_f1, 0) for r in rows]]
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
