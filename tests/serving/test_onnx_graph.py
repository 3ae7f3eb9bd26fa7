"""crypto_news_bench.serving.onnx_graph: a published folder carries its encoder as an ONNX graph
that gives torch's outputs; the graph runs only while it matches the weights beside it; a graph
that does not reproduce torch is not written; and ``cnbench predict`` on published folders runs
without importing torch or transformers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ARTICLE, models_arg

from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.serving import onnx_graph
from crypto_news_bench.serving.flavours import transformers as tf_flavour
from crypto_news_bench.serving.flavours.encoder_head import EncoderHeadPredictor, load_head
from crypto_news_bench.serving.predict import load_predictor

# Transformer models here: no hub lookups, one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("offline_one_thread")

STANCE = list(TASKS["stance"].labels)
# Lengths from two tokens to past the tiny BERT's 128 positions, so batches pad and truncate.
TEXTS = ["", "Share", "Binance said it holds all customer assets in segregated accounts.",
         "The SEC sued the exchange; critics called the claim misleading. " * 20,
         "Régulateurs: 3 enquêtes, 1 amende, 4.3 milliards de dollars."]


def test_budget_batches_keep_the_token_budget_and_every_index_once():
    from crypto_news_bench.models.encoder import budget_batches

    lengths = [5, 30, 2, 12, 12, 7, 30]
    got = [list(b) for b in budget_batches(lengths, max_tokens=30, max_batch=3)]
    # Shortest first; a batch's padded size (its count x its longest) stays within 30.
    assert got == [[2, 0, 5], [3, 4], [1], [6]]
    assert sorted(i for b in got for i in b) == list(range(len(lengths)))


def test_published_classifier_runs_its_graph_with_torchs_scores(published):
    folder = published["tiny-finetune"]
    record = json.loads((folder / "onnx" / "export.json").read_text(encoding="utf-8"))
    assert record["output"] == "logits" and record["max_length"] == 128
    assert record["weights_sha256"] == onnx_graph.sha256(folder / "model.safetensors")
    assert record["tokenizer_sha256"] == onnx_graph.sha256(folder / "tokenizer.json")
    assert record["max_abs_diff_vs_torch"] <= onnx_graph.TOLERANCE

    predictor = load_predictor(str(folder), "stance")
    assert isinstance(predictor, tf_flavour.OnnxClassifierPredictor)
    assert predictor.labels == STANCE
    torch_side = tf_flavour.TransformersPredictor.from_folder(folder)
    np.testing.assert_allclose(predictor.probabilities(TEXTS),
                               torch_side.probabilities(TEXTS), atol=1e-5)
    assert [lab for lab, _ in predictor.predict(TEXTS)] == \
        [lab for lab, _ in torch_side.predict(TEXTS)]
    assert predictor.predict([]) == [] and predictor.probabilities([]).shape == (0, 3)
    # bfloat16 is torch's: the graph is float32 only.
    assert isinstance(load_predictor(str(folder), "stance", precision="bfloat16"),
                      tf_flavour.TransformersPredictor)


def test_published_encoder_head_runs_its_graph_with_torchs_scores(published):
    from crypto_news_bench.models.frozen import head_probabilities
    from crypto_news_bench.serving.safe_load import load_sentence_transformer

    folder = published["tiny-setfit"]
    record = json.loads((folder / "onnx" / "export.json").read_text(encoding="utf-8"))
    assert record["output"] == "sentence_embedding"
    predictor = load_predictor(str(folder), "stance")
    assert isinstance(predictor, EncoderHeadPredictor)
    assert predictor.onnx is not None and predictor.body is None
    head, _, inputs = load_head(folder)
    expected = head_probabilities(load_sentence_transformer(folder), head, TEXTS, inputs=inputs)
    got = predictor.predict(TEXTS)
    assert [lab for lab, _ in got] == [STANCE[int(head.classes_[i])]
                                       for i in expected.argmax(axis=1)]
    assert [s for _, s in got] == pytest.approx(expected.max(axis=1), abs=1e-5)
    assert predictor.predict([]) == []


def flip_last_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # a weight's last bit: the file still loads, with other weights
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("change, why", [
    (lambda f: flip_last_byte(f / "model.safetensors"),
     "exported with another model.safetensors than the folder holds now"),
    (lambda f: (f / "tokenizer.json").write_text(
        (f / "tokenizer.json").read_text("utf-8") + "\n", "utf-8"),
     "exported with another tokenizer.json than the folder holds now"),
    (lambda f: (f / "onnx" / "model.onnx").write_bytes(b"not a graph"), "cannot be loaded"),
    (lambda f: (f / "onnx" / "export.json").write_text("{", "utf-8"), "not an export record"),
    (lambda f: (f / "onnx" / "export.json").write_text(json.dumps({
        **json.loads((f / "onnx" / "export.json").read_text("utf-8")), "max_length": 0}),
        "utf-8"), "max_length 0 is not between 1 and"),
])
def test_a_stale_or_broken_graph_is_not_used(published, tmp_path, change, why):
    folder = tmp_path / "model"
    shutil.copytree(published["tiny-finetune"], folder)
    change(folder)
    with pytest.warns(UserWarning, match=re.escape(why) + ".*running the model on torch"):
        predictor = load_predictor(str(folder), "stance")
    assert isinstance(predictor, tf_flavour.TransformersPredictor)
    assert predictor.predict(TEXTS[:2])  # and torch runs it


def test_transformer_weights_follow_modules_json_inside_the_folder(tmp_path):
    (tmp_path / "0_Transformer").mkdir()
    (tmp_path / "0_Transformer" / "model.safetensors").write_bytes(b"x")
    modules = [{"idx": 0, "path": "0_Transformer",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    assert onnx_graph.transformer_weights(tmp_path) == \
        tmp_path / "0_Transformer" / "model.safetensors"
    # A module path that leaves the folder is never followed.
    modules[0]["path"] = "../elsewhere"
    (tmp_path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    assert onnx_graph.transformer_weights(tmp_path) is None


def test_an_export_that_does_not_reproduce_torch_is_not_written(published, tmp_path,
                                                                monkeypatch):
    folder = tmp_path / "model"
    shutil.copytree(published["tiny-finetune"], folder)
    shutil.rmtree(folder / "onnx")
    monkeypatch.setattr(onnx_graph, "TOLERANCE", -1.0)  # no graph can be that close
    with pytest.warns(UserWarning, match=r"differs from torch by .* not written"):
        assert onnx_graph.export_classifier(folder) is None
    assert not (folder / "onnx").exists()
    assert isinstance(load_predictor(str(folder), "stance"), tf_flavour.TransformersPredictor)


def test_an_export_that_fails_leaves_no_graph_and_says_why(published, tmp_path, monkeypatch):
    import torch

    folder = tmp_path / "model"
    shutil.copytree(published["tiny-finetune"], folder)
    shutil.rmtree(folder / "onnx")

    def refuse(*args, **kwargs):
        raise RuntimeError("exporter gave up\nsecond line")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.warns(UserWarning, match=r"no ONNX export \(RuntimeError: exporter gave up\); "
                                         "the folder runs on torch"):
        assert onnx_graph.export_classifier(folder) is None
    assert not (folder / "onnx").exists()


NO_TORCH = r"""
import sys
from crypto_news_bench import cli
code = cli.main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print("IMPORTED:" + ",".join(heavy))
sys.exit(code)
"""


def test_predict_on_published_folders_imports_no_torch(model_dirs, tmp_path):
    """The cold start of ``cnbench predict`` is the imports: with the graphs, neither torch
    nor transformers is imported, for a fine-tuned, an encoder + head and a TF-IDF folder."""
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "predict", str(article), "--models",
         models_arg(model_dirs), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "IMPORTED:"
    records = (tmp_path / "out" / "article.predictions.jsonl").read_text(encoding="utf-8")
    assert {json.loads(line)["task"] for line in records.splitlines()} == set(TASKS)


def test_the_model_card_names_the_graph_only_where_there_is_one(published):
    assert "`onnx/model.onnx`" in (published["tiny-finetune"] / "README.md").read_text("utf-8")
    assert "`onnx/model.onnx`" in (published["tiny-setfit"] / "README.md").read_text("utf-8")
    assert "onnx" not in (published["tfidf_word_lr"] / "README.md").read_text("utf-8")
