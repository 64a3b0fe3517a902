"""Regenerated IDs of an output inverted in chunks: drawn a block of rows at a time, so a huge ``--n`` costs one
block of memory (``new_ids`` once allocated every ID at once: 1.46 TiB for ``--n 100000000000``), unique and
sorted over the whole output, and the same however the output is cut."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from ganforge.tabular import ids as id_module
from ganforge.tabular.columns import infer_columns
from ganforge.tabular.transform import TableTransformer

FORMS = {"integer": np.arange(500, 600), "prefixed": [f"C{i:05d}" for i in range(100)],
         "template": [f"{chr(97 + i // 26)}{chr(65 + i % 26)}-{i % 10}Q" for i in range(100)]}


def _transformer(values) -> TableTransformer:
    df = pd.DataFrame({"key": values, "v": np.linspace(0, 1, len(values))})
    specs = infer_columns(df)
    assert specs[0].kind == "id"
    return TableTransformer().fit(df, specs, seed=0)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_ids_are_unique_sorted_and_independent_of_the_chunks(form, monkeypatch):
    monkeypatch.setattr(id_module, "ID_BLOCK", 300)
    t = _transformer(FORMS[form])
    n = 1000
    whole = t.new_ids(n, 7).rows(0, n)["key"]
    ids = t.new_ids(n, 7)
    cut = pd.concat([ids.rows(s, min(170, n - s))["key"] for s in range(0, n, 170)], ignore_index=True)
    pd.testing.assert_series_equal(whole, cut)
    assert whole.is_unique and whole.is_monotonic_increasing and len(whole) == n
    if form == "prefixed":
        assert all(re.fullmatch(r"C\d{5}", v) for v in whole)
    if form == "template":
        assert all(re.fullmatch(r"[0-9a-f][A-Z]-\dQ", v) for v in whole)  # the form xA-9Q


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_huge_output_costs_one_block(form):
    t = _transformer(FORMS[form])
    n = 100_000_000_000
    tracemalloc.start()
    try:
        ids = t.new_ids(n, 0)
        first, last = ids.rows(0, 5)["key"], ids.rows(n - 5, 5)["key"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, peak  # two blocks of 100,000 IDs at most, not 10^11 of them
    both = pd.concat([first, last], ignore_index=True)
    assert both.is_unique and both.is_monotonic_increasing


def test_a_template_with_fewer_ids_than_rows_widens_rather_than_looping():
    t = _transformer([f"K{c}0" for c in "abcdefghijklmnop"])  # the form Ka0: 26 IDs, and 100 rows are asked for
    assert t.specs[0].id_template == "Ka0"
    ids = t.new_ids(100, 0).rows(0, 100)["key"]  # drawing until 100 distinct IDs of 26 never ended
    assert ids.is_unique and len(ids) == 100 and all(re.fullmatch(r"K[a-z]0\d+", v) for v in ids)
