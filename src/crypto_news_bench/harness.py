"""The benchmark harness behind ``cnbench bench`` / ``make bench``: build the dataset, run every
unfinished cell of the grid with tracking, and write the report under ``bench/results/``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import dataset, grid, report, tracking
from .train import train

RESULTS_DIR = Path("bench/results")


@dataclass
class BenchSummary:
    ran: list[str]
    skipped: list[str]
    seconds: float
    # The leaderboard the report was written from (empty when no report was asked for).
    boards: dict = field(default_factory=dict)


def run_bench(grid_path: Path | str = grid.CONFIG_DIR / grid.GRID_FILE,
              data_dir: Path | str = dataset.DATA_DIR, force: bool = False,
              shard: tuple[int, int] | None = None,
              results_dir: Path | str | None = RESULTS_DIR, progress: bool = True,
              tracking_uri: str | None = None,
              readme: Path | str | None = None) -> BenchSummary:
    from tqdm.auto import tqdm

    start = time.perf_counter()
    cells = grid.load_grid(grid_path)
    if shard is not None:
        cells = grid.shard(cells, *shard)
    dataset.build(data_dir)
    tracking.setup(tracking_uri)
    hashes = {t: dataset.dataset_hash(t, data_dir) for t in {c.task for c in cells}}
    done = set() if force else grid.finished_keys(cells, hashes)
    todo = [c for c in cells if c.key not in done]
    skipped = [c.key for c in cells if c.key in done]
    if skipped:
        print(f"skipping {len(skipped)} finished cell(s) (same config, data and version); "
              "--force reruns them", flush=True)
    bar = tqdm(todo, desc="grid", unit="cell", disable=not progress, position=0)
    for cell in bar:
        bar.set_postfix_str(cell.key)
        cell_start = time.perf_counter()
        result = train(cell.config, cell.task, data_dir, tracking_uri=tracking_uri,
                       final_model=cell.final_model)
        ev = result.evaluation
        # Seconds include the final fit and model logging: where the grid's time goes.
        bar.write(f"{cell.key:<40} macro-F1 {ev.metrics['macro_f1']:.3f} "
                  f"[{ev.ci[0]:.3f}, {ev.ci[1]:.3f}]  {time.perf_counter() - cell_start:5.1f} s")
    bar.close()
    seconds = time.perf_counter() - start
    boards = {}
    if results_dir is not None:
        boards = report.write_report(results_dir)
        if readme is not None and Path(readme).exists():
            report.update_readme(readme, results_dir)
    return BenchSummary([c.key for c in todo], skipped, seconds, boards)
