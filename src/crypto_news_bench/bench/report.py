"""The results people read: ``bench/results/leaderboard.md``, a bar chart per task and a
per-class F1 heatmap, all from the tracked runs."""

from __future__ import annotations

from pathlib import Path

from ..data.schema import TASKS
from . import leaderboard


def per_class_heatmap(boards: dict[str, list[leaderboard.Row]], path: Path | str) -> Path:
    """Rows: models; columns: task/label; cells: per-class F1 (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns = [(t, lab) for t in boards for lab in TASKS[t].labels]
    models = sorted({r.config for rows in boards.values() for r in rows})
    grid = np.full((len(models), len(columns)), np.nan)
    for rows in boards.values():
        for r in rows:
            for j, (t, lab) in enumerate(columns):
                if t == r.task:
                    grid[models.index(r.config), j] = r.per_class_f1.get(lab, np.nan)
    fig, ax = plt.subplots(figsize=(0.7 * len(columns) + 3, 0.45 * len(models) + 2))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), [f"{t}\n{lab}" for t, lab in columns], rotation=60,
                  ha="right", fontsize=7)
    ax.set_yticks(range(len(models)), models, fontsize=8)
    for i in range(len(models)):
        for j in range(len(columns)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if grid[i, j] < 0.5 else "black")
    ax.set_title("Per-class F1 (leave-one-document-out, mean over seeds); blank: not run")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(results_dir: Path | str) -> dict[str, list[leaderboard.Row]]:
    """leaderboard.md (with the charts linked), ``<task>.png`` and ``per_class_f1.png``;
    returns the boards it was written from."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    boards = leaderboard.collect()
    charts = []
    for task, rows in boards.items():
        if rows:
            leaderboard.bar_chart({task: rows}, results_dir / f"{task}.png")
            charts.append(f"![{task}]({task}.png)")
    per_class_heatmap(boards, results_dir / "per_class_f1.png")
    text = (
        "# Leaderboard\n\n"
        "Leave-one-document-out over the three documents; macro-F1 on the pooled out-of-fold "
        "predictions with its 95% bootstrap interval (averaged over seeds), ± the standard "
        "deviation over seeds (their number in brackets); ECE is the expected calibration "
        "error of the calibrated out-of-fold confidence (10 equal-width bins; lower is "
        "better), averaged over seeds; units/s is out-of-fold inference speed; the run id is "
        "the run that holds the model (`cnbench publish RUN_ID`). Written by `cnbench bench` "
        "from the tracked runs.\n\n"
        + leaderboard.render(boards, "md") + "\n" + "\n".join(charts)
        + "\n\n![per-class F1](per_class_f1.png)\n"
    )
    (results_dir / "leaderboard.md").write_text(text, encoding="utf-8")
    return boards


START, END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme: Path | str, results_dir: Path | str) -> bool:
    """Put the leaderboard and charts between the README's results markers (if it has them).

    Links are made relative to the README, so the page shows the charts on a forge too.
    """
    readme, results_dir = Path(readme), Path(results_dir)
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    board = (results_dir / "leaderboard.md").read_text(encoding="utf-8")
    body = board.split("\n", 2)[2] if board.startswith("# ") else board
    rel = Path(*results_dir.resolve().relative_to(readme.resolve().parent).parts).as_posix()
    body = body.replace("](", f"]({rel}/").replace("### ", "#### ")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{body.strip()}\n{END}{tail}", encoding="utf-8")
    return True
