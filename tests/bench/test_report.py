"""crypto_news_bench.bench.report: the files a bench writes under its results folder (the
leaderboard with its charts, from conftest's ``bench``), and the README's results section
refreshed from bench/results/leaderboard.md."""

from __future__ import annotations

from conftest import STANCE_KEYS

from crypto_news_bench.bench.report import END, START, update_readme

PNG = b"\x89PNG\r\n\x1a\n"


def test_update_readme_replaces_only_the_results_section(tmp_path):
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    (results / "leaderboard.md").write_text(
        "# Leaderboard\n\nIntro.\n\n### stance\n\n| a |\n\n![stance](stance.png)\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{START}\nold table\n{END}\n\nAfter.\n")
    assert update_readme(readme, results)
    text = readme.read_text()
    assert "old table" not in text
    assert text.startswith("# Title\n\nBefore.\n\n")
    assert text.endswith(f"{END}\n\nAfter.\n")
    # Headings sit one level under the README's section; image links point into results/.
    assert "#### stance" in text and "### stance" not in text.replace("#### stance", "")
    assert "![stance](bench/results/stance.png)" in text
    # Running it again changes nothing: the section is replaced, not appended.
    assert update_readme(readme, results)
    assert readme.read_text() == text


def test_update_readme_without_markers_leaves_the_file(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "leaderboard.md").write_text("# Leaderboard\n\nx\n")
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert not update_readme(readme, results)
    assert readme.read_text() == "# Title\n"


def test_report_files(bench):
    results = bench.results
    assert (results / "stance.png").read_bytes().startswith(PNG)
    assert (results / "per_class_f1.png").read_bytes().startswith(PNG)
    # No cell of the other tasks ran: no chart for them.
    assert not (results / "boilerplate.png").exists()
    assert not (results / "claim_type.png").exists()
    text = (results / "leaderboard.md").read_text(encoding="utf-8")
    assert "### stance" in text
    assert "### boilerplate" not in text and "### claim_type" not in text
    assert "![stance](stance.png)" in text
    assert "![per-class F1](per_class_f1.png)" in text

    lines = text.splitlines()
    start = lines.index("### stance")
    table = [ln for ln in lines[start + 4:] if ln.startswith("| ")]
    assert len(table) == len(STANCE_KEYS)
    runs = sorted(bench.first.values(), key=lambda r: -r.data.metrics["macro_f1"])
    for rank, (line, run) in enumerate(zip(table, runs, strict=True), 1):
        m = run.data.metrics
        untrained = run.data.tags["cnbench.model"] in ("vader", "justext")
        assert line.startswith(
            f"| {rank} | {run.data.tags['cnbench.config']} | "
            f"{'untrained' if untrained else 'real+synthetic'} | {m['macro_f1']:.3f} "
            f"[{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}] | ± 0.000 (1) | ")
        assert line.endswith(f"| `{run.info.run_id}` |")
