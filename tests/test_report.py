"""The README's results section is refreshed from bench/results/leaderboard.md."""

from __future__ import annotations

from crypto_news_bench.bench.report import END, START, update_readme


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
