"""crypto_news_bench.serving.store_check: the reading commands (``predict``, ``compare``,
``publish``) and the Python API never create a tracking store. With none where they look they
say where that was and how to point them at one, exit 2, and leave the folder as it was;
``--tracking-uri`` wins over ``MLFLOW_TRACKING_URI``; folder models need no store at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import models_arg

from crypto_news_bench import cli
from crypto_news_bench.errors import TrackingError
from crypto_news_bench.serving.store_check import require_existing_store

HOW = "point at one with MLFLOW_TRACKING_URI=URI or --tracking-uri URI"


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch) -> Path:
    """An empty working folder (but for article.txt), with no MLFLOW_TRACKING_URI."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "article.txt").write_text("Binance said users are safe.\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


@pytest.mark.parametrize("argv", [
    ["predict", "article.txt"],
    ["predict", "article.txt", "--models", "stance=runs:/0123/model"],
    ["compare"],
    ["compare", "--vs", "tfidf_word_lr", "majority"],
    ["publish", "0123456789abcdef", "--out", "published"],
])
def test_no_store_here_is_one_line_and_creates_nothing(empty_cwd, capsys, argv):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    db = Path.cwd() / "mlruns" / "mlflow.db"
    assert out == ""
    assert err == (f"error: no MLflow tracking store at sqlite:///{db} (MLFLOW_TRACKING_URI is "
                   "not set, so the default: mlruns/mlflow.db in the current folder), and "
                   f"reading commands create none; {HOW} (a server http://HOST:PORT, or "
                   "sqlite:////ABSOLUTE/PATH/mlruns/mlflow.db), or run from the folder that "
                   "holds mlruns/\n")
    assert sorted(os.listdir(empty_cwd)) == ["article.txt"]


@pytest.mark.slow  # a fresh interpreter: about 5 s on the shared 2-core CPU
def test_no_store_in_a_fresh_process(empty_cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run([str(Path(sys.executable).parent / "cnbench"), "predict",
                           "article.txt"], capture_output=True, text=True, env=env,
                          cwd=empty_cwd, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: no MLflow tracking store at sqlite:///{empty_cwd}")
    assert proc.stderr.count("\n") == 1 and HOW in proc.stderr
    assert sorted(os.listdir(empty_cwd)) == ["article.txt"]


def test_a_missing_store_named_by_the_environment_or_the_option(empty_cwd, tmp_path,
                                                                monkeypatch, capsys):
    missing = tmp_path / "nowhere" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    assert cli.main(["compare"]) == 2
    assert (f"no MLflow tracking store at sqlite:///{missing} (from MLFLOW_TRACKING_URI)"
            in capsys.readouterr().err)
    other = tmp_path / "other" / "mlflow.db"
    assert cli.main(["compare", "--tracking-uri", f"sqlite:///{other}"]) == 2
    assert (f"no MLflow tracking store at sqlite:///{other} (given as --tracking-uri)"
            in capsys.readouterr().err)
    assert not missing.parent.exists() and not other.parent.exists()


def test_an_unknown_scheme_is_refused(empty_cwd, capsys):
    assert cli.main(["compare", "--tracking-uri", "file:///tmp/mlruns"]) == 2
    assert "tracking URI 'file:///tmp/mlruns': unknown scheme 'file'" in capsys.readouterr().err


@pytest.fixture
def keep_mlflow_uri():
    """The commands point MLflow's client at the store they read; put it back after."""
    import mlflow

    before = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(before)


def test_the_option_wins_over_the_environment(store, empty_cwd, tmp_path, monkeypatch, capsys,
                                              keep_mlflow_uri):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    uri = ["--tracking-uri", store.uri]
    assert cli.main(["compare", "--task", "stance", "--chart", str(tmp_path / "c.png"),
                     *uri]) == 0
    assert "tfidf_word_lr" in capsys.readouterr().out
    assert cli.main(["publish", store.first.run_id, "--out", str(tmp_path / "pub"), *uri]) == 0
    assert (tmp_path / "pub" / "model.skops").is_file()
    capsys.readouterr()
    assert cli.main(["predict", "article.txt", "--models", "stance=champion",
                     "--out", str(tmp_path / "out"), *uri]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stance: crypto-news-bench-stance v")
    assert "@champion (tfidf_word_lr), macro-F1 0." in out
    assert sorted(os.listdir(empty_cwd)) == ["article.txt"]


def test_folder_models_need_no_store(cheap_models, empty_cwd, capsys):
    assert cli.main(["predict", "article.txt", "--models", models_arg(cheap_models)]) == 0
    assert sorted(os.listdir(empty_cwd)) == ["article.txt", "predictions"]


def test_the_python_api_creates_no_store_either(empty_cwd):
    from crypto_news_bench.serving.predict import predict_text

    with pytest.raises(TrackingError, match="no MLflow tracking store at sqlite:///"):
        predict_text("Binance said users are safe.")
    assert sorted(os.listdir(empty_cwd)) == ["article.txt"]


def test_require_existing_store_returns_what_exists(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    assert require_existing_store() == store.uri
    assert require_existing_store(store.uri) == store.uri
