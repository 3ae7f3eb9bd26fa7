#!/usr/bin/env python
"""Speed of crypto-news-bench, measured in one run, written to ``bench/results/perf.md``.

    python bench/perf.py                  # everything (about 20 minutes on 2 CPU cores)
    python bench/perf.py --scale 1,10     # other corpus multiples
    python bench/perf.py --skip-grid      # without the (long) whole-grid timing

(a) wall time of the whole default grid (``configs/bench.yaml``, forced, in a throwaway store);
(b) fine-tuning throughput, ours against a plain ``Trainer`` with default arguments;
(c) inference throughput of a published MiniLM checkpoint, the package's predictor against a
    plain ``transformers.pipeline`` with default arguments, on the same segments;
(d) the achieved share of the machine's measured float32 matrix-multiply peak;
(e) whether the default training budget starves the models (defaults against a longer
    budget, three seeds each);
(f) how dataset build, baseline training and inference time grow with a corpus repeated K
    times. That corpus is synthetic: built in a temporary folder, never mixed into results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crypto_news_bench import dataset, harness
from crypto_news_bench.config import load_config
from crypto_news_bench.models import MODELS
from crypto_news_bench.models.encoder import resolve_model
from crypto_news_bench.protocol import evaluate

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matmul on this machine."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = min(timed(lambda: a @ b)[1] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def corpus_texts() -> list[str]:
    """Every gold segment: the blocks and the sentences."""
    return list(dataset.load("boilerplate")["text"]) + list(dataset.load("stance")["text"])


def nonembedding_params(model) -> int:
    emb = sum(p.numel() for p in model.base_model.embeddings.parameters())
    return sum(p.numel() for p in model.parameters()) - emb


def finetune_throughput(epochs: float) -> dict:
    """Training examples per second on the stance data, as the Trainer times its own loop."""
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
    )

    data = dataset.load("stance")
    texts, y = list(data["text"]), list(data["label"])
    config = load_config(ROOT / "configs" / "finetune.yaml")
    ours = MODELS["finetune"].build("stance", 0, {**config.params, "epochs": epochs})
    ours.fit(texts, y)
    ours_eps = len(texts) * epochs / ours.train_seconds_

    path = resolve_model("default")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    train = Dataset.from_dict({"text": texts, "label": y}).map(
        lambda b: tok(b["text"], truncation=True), batched=True, remove_columns=["text"])
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=out,
                                                              num_train_epochs=epochs),
                          train_dataset=train, processing_class=tok)
        plain_seconds = trainer.train().metrics["train_runtime"]
    plain_eps = len(texts) * epochs / plain_seconds
    return {"examples": len(texts), "epochs": epochs, "ours_eps": ours_eps,
            "plain_eps": plain_eps, "ratio": ours_eps / plain_eps,
            "ours_params": {k: v for k, v in config.params.items()}}


def inference_throughput(texts: list[str], repeats: int = 2) -> dict:
    """A published MiniLM classification checkpoint: our predictor vs the default pipeline."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from crypto_news_bench.predict import TransformersPredictor

    with tempfile.TemporaryDirectory() as folder:
        path = resolve_model("default")
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=3, id2label={0: "promotional", 1: "critical", 2: "neutral"})
        model.save_pretrained(folder)
        AutoTokenizer.from_pretrained(path).save_pretrained(folder)
        ours = TransformersPredictor.from_folder(folder)
        plain = pipeline("text-classification", model=folder)
        ours.predict(texts[:8])
        plain(texts[:8])
        ours_s = min(timed(ours.predict, texts)[1] for _ in range(repeats))
        plain_s = min(timed(plain, texts)[1] for _ in range(repeats))
        a = [label for label, _ in ours.predict(texts)]
        b = [r["label"] for r in plain(texts)]
        # The lever left out: int8 weights, measured here to show what it would cost.
        import torch

        int8 = TransformersPredictor(torch.ao.quantization.quantize_dynamic(
            ours.model, {torch.nn.Linear}, dtype=torch.qint8), ours.tokenizer)
        int8.predict(texts[:8])
        int8_s = min(timed(int8.predict, texts)[1] for _ in range(repeats))
        int8_agree = float(np.mean([x == y for x, (y, _) in
                                    zip(a, int8.predict(texts), strict=True)]))
        tokens = sum(len(ids) for ids in ours.tokenizer(texts, truncation=True,
                                                        max_length=256)["input_ids"])
        flops = 2 * nonembedding_params(ours.model) * tokens
    return {"segments": len(texts), "ours_sps": len(texts) / ours_s,
            "plain_sps": len(texts) / plain_s, "ratio": plain_s / ours_s,
            "agree": float(np.mean([x == y for x, y in zip(a, b, strict=True)])),
            "ours_gflops": flops / ours_s / 1e9, "plain_gflops": flops / plain_s / 1e9,
            "int8_speedup": ours_s / int8_s, "int8_agree": int8_agree,
            "tokens": tokens}


def budget_check(task: str = "stance", seeds: tuple[int, ...] = (0, 1, 2)) -> list[dict]:
    """Default training budget against twice as long, scored by the protocol (no final fit)."""
    data = dataset.load(task)
    cols = (data["text"], data["label"], data["doc_id"], data["id"])
    rows = []
    for name, longer in (("finetune", {"epochs": 2}), ("setfit", {"num_iterations": 2})):
        base = load_config(ROOT / "configs" / f"{name}.yaml")
        for label, factor in (("default", None), ("longer", longer)):
            params = dict(base.params)
            if factor:
                params.update({k: params.get(k, 1) * v for k, v in factor.items()})
            scores = []
            for seed in seeds:
                cfg = dataclasses.replace(base, params=params, seed=seed)
                scores.append(evaluate(cfg, task, *cols, fit_final=False).metrics["macro_f1"])
            rows.append({"method": name, "budget": label, "params": params,
                         "mean": statistics.fmean(scores), "sd": statistics.stdev(scores),
                         "scores": scores})
    return rows


def synthetic_data_dir(k: int, out: Path) -> Path:
    """The corpus repeated k times under new document ids (marked synthetic)."""
    src = ROOT / "data"
    (out / "raw").mkdir(parents=True)
    (out / "annotations").mkdir()
    meta = [json.loads(x) for x in (src / "raw" / "documents.jsonl").read_text().splitlines()
            if x.strip()]
    new_meta = []
    for i in range(k):
        for m in meta:
            doc = f"synthetic{i:03d}_{m['id']}"
            (out / "raw" / f"{doc}.txt").write_bytes((src / "raw" / m["file"]).read_bytes())
            new_meta.append({**m, "id": doc, "file": f"{doc}.txt",
                             "title": f"[synthetic copy {i}] {m['title']}"})
    (out / "raw" / "documents.jsonl").write_text(
        "".join(json.dumps(m) + "\n" for m in new_meta))
    for task in ("boilerplate", "stance", "claim_type"):
        lines = [json.loads(x) for x in
                 (src / "annotations" / f"{task}.jsonl").read_text().splitlines() if x.strip()]
        rows = [{**r, "id": f"synthetic{i:03d}_{r['id']}"} for i in range(k) for r in lines]
        (out / "annotations" / f"{task}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return out


def scaling(ks: list[int], predictor) -> list[dict]:
    rows = []
    for k in ks:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = synthetic_data_dir(k, Path(tmp) / "data")
            _, build_s = timed(dataset.build, data_dir)
            data = dataset.load("stance", data_dir)
            texts, y = list(data["text"]), np.asarray(data["label"])
            model = MODELS["tfidf_word_lr"].build("stance", 0, {})
            _, fit_s = timed(model.fit, texts, y)
            segments = texts + list(dataset.load("boilerplate", data_dir)["text"])
            _, infer_s = timed(predictor.predict, segments)
            rows.append({"k": k, "units": len(segments), "build_s": build_s,
                         "baseline_fit_s": fit_s, "inference_s": infer_s})
    return rows


def grid_wall_time() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        summary = harness.run_bench(force=True, results_dir=None, progress=False,
                                    tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    return {"cells": len(summary.ran), "seconds": summary.seconds}


def render(r: dict) -> str:
    ft, inf = r["finetune"], r["inference"]
    peak = r["peak_gflops"]
    lines = [
        "# Performance", "",
        f"Measured by `bench/perf.py` in one run on {r['machine']}, "
        f"torch {r['torch']} with {r['threads']} threads, {r['date']}.", "",
        "| measure | value | target |", "|---|---|---|",
    ]
    if "grid" in r:
        g = r["grid"]
        ok = "met" if g["seconds"] < 600 else "**missed**"
        lines.append(f"| (a) whole default grid, {g['cells']} cells | {g['seconds'] / 60:.1f} min "
                     f"| < 10 min: {ok} |")
    lines += [
        f"| (b) fine-tuning, ours | {ft['ours_eps']:.1f} examples/s | |",
        f"| (b) fine-tuning, plain `Trainer` defaults | {ft['plain_eps']:.1f} examples/s | |",
        f"| (b) ratio | {ft['ratio']:.2f}x | >= 2x: "
        f"{'met' if ft['ratio'] >= 2 else '**missed**'} |",
        f"| (c) inference, package predictor | {inf['ours_sps']:.0f} segments/s | |",
        f"| (c) inference, `pipeline` defaults | {inf['plain_sps']:.0f} segments/s | |",
        f"| (c) ratio | {inf['ratio']:.2f}x | >= 3x: "
        f"{'met' if inf['ratio'] >= 3 else '**missed**'} |",
        f"| (d) float32 matmul peak (2048², best of 5) | {peak:.0f} GFLOP/s | |",
        f"| (d) predictor's achieved share of peak | {inf['ours_gflops']:.1f} GFLOP/s = "
        f"{inf['ours_gflops'] / peak:.0%} | |",
        "",
        f"(b) on the {ft['examples']} stance sentences, {ft['epochs']} epoch(s), timed by the "
        "Trainer (`train_runtime`). Ours: the shipped `configs/finetune.yaml` "
        f"({', '.join(f'{k}={v}' for k, v in ft['ours_params'].items())}). "
        "Plain: `TrainingArguments(output_dir, num_train_epochs)` and nothing else.",
        "",
        f"(c) on the {inf['segments']} gold segments (blocks and sentences), best of 2; both "
        f"predict the same label for {inf['agree']:.0%} of them. Why (c) stays far from 3x on "
        "this machine: the default pipeline already runs these short segments at "
        f"{inf['plain_gflops']:.0f} GFLOP/s, and even at the measured matmul peak the same "
        f"arithmetic would run only {peak / inf['plain_gflops']:.1f}x faster; the remaining "
        "levers change the arithmetic: int8 weights ran "
        f"{inf['int8_speedup']:.1f}x faster than the predictor in this run but changed "
        f"{1 - inf['int8_agree']:.0%} of its labels, so the predictor stays exact. (d) counts "
        f"2 x non-embedding parameters x {inf['tokens']} real tokens per pass (attention "
        "scores and padding left out, so it is a lower bound).",
        "", "## Which lever bought what", "",
        "| lever | where | effect |", "|---|---|---|",
    ]
    for lever in r["levers"]:
        lines.append(f"| {lever[0]} | {lever[1]} | {lever[2]} |")
    lines += ["", "## Is the default budget enough?", "",
              "Leave-one-document-out macro-F1 on stance, three seeds, no final fit.", "",
              "| method | budget | params changed | macro-F1 mean ± sd |", "|---|---|---|---|"]
    for b in r["budget"]:
        lines.append(f"| {b['method']} | {b['budget']} | "
                     f"{', '.join(f'{k}={v}' for k, v in b['params'].items())} | "
                     f"{b['mean']:.3f} ± {b['sd']:.3f} |")
    for name in ("finetune", "setfit"):
        d, lo = [b for b in r["budget"] if b["method"] == name]
        spread, diff = max(d["sd"], lo["sd"]), lo["mean"] - d["mean"]
        if abs(diff) <= spread:
            verdict = "within the seed spread: the default is not starved"
        elif diff < 0:
            verdict = "lower, beyond the seed spread: more training does not help here"
        else:
            verdict = "**higher, beyond the seed spread: the default starves the model**"
        lines += ["", f"{name}: twice the budget scores {diff:+.3f} (seed spread {spread:.3f}), "
                  f"{verdict}."]
    lines += ["", "## Cost as the corpus grows (synthetic)", "",
              "The three pages repeated K times under new ids, built in a temporary folder "
              "and never mixed into the results.", "",
              "| K | segments | dataset build (s) | TF-IDF + LR fit on stance (s) | "
              "inference, all segments (s) |", "|---:|---:|---:|---:|---:|"]
    for s in r["scaling"]:
        lines.append(f"| {s['k']} | {s['units']} | {s['build_s']:.2f} | "
                     f"{s['baseline_fit_s']:.2f} | {s['inference_s']:.2f} |")
    lines.append("")
    return "\n".join(lines)


LEVERS = [
    ("sorting by length + dynamic padding", "predictor, fine-tuning (`group_by_length`), "
     "frozen encoder", "pads each batch to its own longest segment; most sentences are far "
     "shorter than the longest"),
    ("batching (64 at inference)", "predictor", "one matrix multiply per layer per batch "
     "instead of per segment: the default pipeline runs one segment at a time"),
    ("`torch.inference_mode`", "predictor, frozen encoder", "no autograd bookkeeping"),
    ("freezing the embedding matrix", "fine-tuning", "11.7M of 22.7M parameters need no "
     "gradient and no AdamW update"),
    ("freezing lower layers (`freeze_layers`)", "fine-tuning", "no backward pass through them"),
    ("tokenising once", "fine-tuning", "the dataset is tokenised before training, not per "
     "epoch"),
    ("embedding each text once", "frozen encoder", "the protocol shows every text four times "
     "(three folds, final fit); a frozen encoder embeds it once"),
    ("only the first seed fits and logs a final model", "bench grid", "extra seeds measure "
     "the spread; they skip the final fit and the ~90 MB model artifact"),
    ("threads = physical cores (torch default here)", "all", "oversubscribing two cores "
     "with parallel tokenizers slows everything: `TOKENIZERS_PARALLELISM=false`"),
]


def main(argv: list[str] | None = None) -> int:
    import torch
    import transformers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="1,10,100", help="corpus multiples K (default "
                        "%(default)s)")
    parser.add_argument("--skip-grid", action="store_true", help="skip the whole-grid timing")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "perf.md"))
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    transformers.logging.set_verbosity_error()
    from crypto_news_bench.predict import TransformersPredictor

    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"), "levers": LEVERS,
    }
    print("matmul peak ...", flush=True)
    results["peak_gflops"] = matmul_peak()
    texts = corpus_texts()
    print("inference ...", flush=True)
    results["inference"] = inference_throughput(texts)
    print("fine-tuning throughput ...", flush=True)
    results["finetune"] = finetune_throughput(epochs=2)
    print("training budget ...", flush=True)
    results["budget"] = budget_check()
    print("scaling ...", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = resolve_model("default")
        AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).save_pretrained(
            folder)
        AutoTokenizer.from_pretrained(path).save_pretrained(folder)
        predictor = TransformersPredictor.from_folder(folder)
        results["scaling"] = scaling([int(k) for k in args.scale.split(",")], predictor)
    if not args.skip_grid:
        print("whole grid ...", flush=True)
        results["grid"] = grid_wall_time()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(render(results), encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
