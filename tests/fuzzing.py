"""Hypothesis settings and strategies shared by the property-based tests of the input readers
(tests/data/: test_units.py, test_corpus.py, test_labels.py). Example counts are kept small for
``make test``."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

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
