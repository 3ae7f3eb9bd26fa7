"""Property-based tests (hypothesis) on the input boundaries: segmentation of any text keeps
exact offsets; the label and metadata readers and the config loader, fed anything, raise only
the package's own one-line errors. Example counts are kept small for ``make test``."""

from __future__ import annotations

import json
import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto_news_bench.config import load_config
from crypto_news_bench.data.corpus import read_jsonl, read_metadata
from crypto_news_bench.data.labels import read_label_file
from crypto_news_bench.data.schema import TASKS
from crypto_news_bench.data.units import blocks, sentences
from crypto_news_bench.errors import ConfigError, DataError

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text with the characters that trouble segmenters: line and paragraph separators, bullets,
# quotes, dots, CR, tabs, non-BMP symbols, combining marks, zero-width joiners.
TRICKY = "\n\r\t \u2028\u2029\u00a0•·–-*.!?…\"'“”‘’()[]:;$%0123456789\u200d\u0301\U0001F600"
texts = st.text(alphabet=st.one_of(st.sampled_from(list(TRICKY)),
                                   st.characters(codec="utf-8")), max_size=300)


@FAST
@given(texts)
def test_segmentation_offsets_round_trip(text):
    doc_blocks = blocks("d", text)
    for b in doc_blocks:
        assert text[b.start:b.end] == b.text and b.text == b.text.strip()
        assert b.text and b.line == int(b.id.split(":L")[1])
    assert len({b.id for b in doc_blocks}) == len(doc_blocks)
    for s in sentences(doc_blocks):
        assert text[s.start:s.end] == s.text
        block = next(b for b in doc_blocks if b.id == s.block_id)
        assert block.start <= s.start <= s.end <= block.end


lines = st.one_of(
    st.text(max_size=80),
    st.builds(json.dumps, st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=20)),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.sampled_from(
                                    ["id", "text_sha256", "label", "note", "file", "title",
                                     "publisher", "url", "published", "sha256", "x"]),
                                    inner, max_size=7)),
        max_leaves=12)),
)
files = st.one_of(st.binary(max_size=300),
                  st.lists(lines, max_size=6).map(lambda ls: "\n".join(ls).encode("utf-8")))


@FAST
@given(data=files)
def test_label_reader_raises_only_data_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("labels") / "stance.jsonl"
    path.write_bytes(data)
    try:
        labels = read_label_file(path, TASKS["stance"])
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    for label in labels.values():
        assert label.label in TASKS["stance"].labels


@FAST
@given(data=files)
def test_metadata_and_jsonl_readers_raise_only_data_errors(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("raw")
    (folder / "documents.jsonl").write_bytes(data)
    for synthetic in (False, True):
        try:
            records = read_metadata(folder, synthetic)
        except DataError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(isinstance(r, dict) for r in records)
    try:
        list(read_jsonl(folder / "documents.jsonl"))
    except DataError:
        pass


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
              st.text(alphabet=string.printable, max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(
                                st.sampled_from(["model", "params", "seed", "tasks", "C",
                                                 "train_on", "train_cap", "extends",
                                                 "epochs", "confidence", "batch_size"]),
                                st.integers(), st.text(max_size=5)), inner, max_size=5)),
    max_leaves=15)
configs = st.one_of(
    st.text(max_size=200),
    yaml_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.dictionaries(st.sampled_from(["seed", "tasks", "C", "train_cap", "confidence",
                                     "description", "train_on", "bootstrap_resamples"]),
                    yaml_values, max_size=4).map(
        lambda d: yaml.safe_dump({"model": "tfidf_word_lr", **d})),
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=configs)
def test_config_loader_raises_only_config_errors(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("configs")
    path = folder / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert config.name == "fuzzed" and config.model


def test_config_loader_on_bytes_that_are_not_utf8(tmp_path):
    path = Path(tmp_path) / "bad.yaml"
    path.write_bytes(b"model: \xff\xfe\n")
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: not valid YAML")
