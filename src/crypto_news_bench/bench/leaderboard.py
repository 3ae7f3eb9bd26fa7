"""Experiment comparison: read parent runs back from MLflow and rank them per task.

Runs of the same config with different seeds are one row: the mean over seeds with its
standard deviation (the latest run of each seed counts). ``all_runs`` lists every run instead.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.schema import TASKS
from ..tracking import runs


@dataclass
class Row:
    task: str
    config: str
    model: str
    train_on: str  # real, synthetic or real+synthetic
    macro_f1: float  # mean over seeds
    macro_f1_sd: float  # standard deviation over seeds (0 for one seed)
    n_seeds: int
    ci_low: float  # 95% bootstrap interval of macro-F1, averaged over seeds
    ci_high: float
    # Expected calibration error of the calibrated out-of-fold confidence, mean over seeds;
    # NaN for runs that did not log it.
    ece: float
    secondary_metric: str
    secondary: float
    fit_seconds: float
    throughput: float  # out-of-fold inference, units per second
    run_id: str  # the run that holds the row's model (see ``_model_run``)
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
    holder = _model_run(runs)
    return Row(
        task=task, config=config, model=newest.data.tags.get("cnbench.model", ""),
        train_on=_trained_on(newest),
        macro_f1=_mean(f1s), macro_f1_sd=float(statistics.stdev(f1s)) if len(f1s) > 1 else 0.0,
        n_seeds=len(runs), ci_low=_mean(m("macro_f1_ci_low")),
        ci_high=_mean(m("macro_f1_ci_high")), ece=_mean(m("ece")), secondary_metric=secondary,
        secondary=_mean(m(secondary)), fit_seconds=_mean(m("fit_seconds")),
        throughput=_mean(m("throughput")), run_id=holder.info.run_id,
        start_time=newest.info.start_time,
        per_class_f1={lab: _mean(m(f"f1_{lab}")) for lab in TASKS[task].labels},
    )


def _model_run(runs: list):
    """The newest of ``runs`` that holds a final model (tag ``cnbench.model_uri``), so that
    ``cnbench publish <run id>`` works for every row: the bench logs the model with a
    config's first seed only. The newest run when none holds one."""
    with_model = [r for r in runs if r.data.tags.get("cnbench.model_uri")]
    return max(with_model or runs, key=lambda r: r.info.start_time)


def _trained_on(run) -> str:
    """What the row's model learnt from: ``real``, ``synthetic``, ``real+synthetic``, or
    ``untrained`` for the rule-based tools (jusText, VADER), which learn from nothing."""
    from ..models import MODELS

    spec = MODELS.get(run.data.tags.get("cnbench.model", ""))
    if spec is not None and not spec.trainable:
        return "untrained"
    # Runs from before the synthetic corpus trained on the real pages only.
    return run.data.tags.get("cnbench.train_on", "real")


def collect(task: str | None = None, all_runs: bool = False) -> dict[str, list[Row]]:
    """Rows per task, best mean macro-F1 first."""
    out: dict[str, list[Row]] = {}
    for name in [task] if task else list(TASKS):
        found = runs.finished_parent_runs(name)
        if not found and task is None:
            continue
        if all_runs:
            rows = [_row(name, r.data.tags.get("cnbench.config", r.info.run_name), [r])
                    for r in found]
        else:
            rows = [_row(name, config, rs)
                    for config, rs in runs.latest_per_seed(found).items()]
        out[name] = sorted(rows, key=lambda r: (-r.macro_f1, r.config, -r.start_time))
    return out


def render(boards: dict[str, list[Row]], fmt: str = "md") -> str:
    """The boards as markdown tables (an undefined ECE shows as "—"), CSV, or JSON (where an
    undefined number is ``null``)."""
    if fmt == "json":
        return json.dumps({t: [_nan_to_none(asdict(r)) for r in rows]
                           for t, rows in boards.items()}, indent=2)
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
                 f"| rank | model | trained on | macro-F1 [95% CI] | ± sd (seeds) | ECE | "
                 f"{secondary} | fit time (s) | units/s | run id |",
                 "|---:|---|---|---|---|---:|---:|---:|---:|---|"]
        for i, r in enumerate(rows, 1):
            ece = "—" if math.isnan(r.ece) else f"{r.ece:.3f}"
            lines.append(
                f"| {i} | {r.config} | {r.train_on} | "
                f"{r.macro_f1:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | "
                f"± {r.macro_f1_sd:.3f} ({r.n_seeds}) | {ece} | {r.secondary:.3f} | "
                f"{r.fit_seconds:.2f} | {r.throughput:,.0f} | `{r.run_id}` |"
            )
        if not rows:
            lines.append("| | (no finished runs) | | | | | | | | |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _nan_to_none(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


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


def _oof(run_id: str) -> dict[str, tuple[str, str]]:
    """{unit id: (gold, predicted)} from a run's out-of-fold predictions."""
    import mlflow

    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="oof_predictions.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["id"]: (r["gold"], r["predicted"]) for r in csv.DictReader(fh)}


def runs_per_seed(task: str, config: str) -> dict[str, object]:
    """The latest finished run per seed of a config: {seed: run}."""
    found = {}
    for r in runs.finished_parent_runs(task):
        if r.data.tags.get("cnbench.config") == config:
            found.setdefault(r.data.tags.get("cnbench.seed", "0"), r)
    return found


def paired_comparison(task: str, config_a: str, config_b: str, n_resamples: int = 1000,
                      seed: int = 0) -> dict:
    """Paired bootstrap of macro-F1 (A - B) on the two models' out-of-fold predictions of the
    same units (the same seed of each where they share one)."""
    from ..errors import ConfigError
    from ..evaluation.metrics import paired_bootstrap

    runs_a, runs_b = runs_per_seed(task, config_a), runs_per_seed(task, config_b)
    for name, found in ((config_a, runs_a), (config_b, runs_b)):
        if not found:
            raise ConfigError(f"no finished {task} run of config {name!r} in the store")
    common = sorted(set(runs_a) & set(runs_b), key=int)
    run_a = runs_a[common[0]] if common else next(iter(runs_a.values()))
    run_b = runs_b[common[0]] if common else next(iter(runs_b.values()))
    a, b = _oof(run_a.info.run_id), _oof(run_b.info.run_id)
    differ = (set(a) ^ set(b)) | {k for k in set(a) & set(b) if a[k][0] != b[k][0]}
    if differ:
        raise ConfigError(
            f"runs {run_a.info.run_id} and {run_b.info.run_id} were not scored on the same "
            f"gold units: {len(differ)} of {len(set(a) | set(b))} differ, e.g. "
            f"{sorted(differ)[0]} (different dataset versions?)")
    labels = list(TASKS[task].labels)
    ids = sorted(a)
    result = paired_bootstrap([labels.index(a[i][0]) for i in ids],
                              [labels.index(a[i][1]) for i in ids],
                              [labels.index(b[i][1]) for i in ids], n_resamples=n_resamples,
                              seed=seed)
    return {"task": task, "a": config_a, "b": config_b, "run_a": run_a.info.run_id,
            "run_b": run_b.info.run_id, **result}
