"""Column kinds: inferred per column, printed, overridable; chunked inference agrees with whole-table inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import ConfigError, DataError
from ganforge.tabular.columns import ColumnSpec, decide_all, describe, infer_columns, merge_profiles, profile


def test_every_kind_is_inferred(table):
    specs = {s.name: s for s in infer_columns(table)}
    assert {n: s.kind for n, s in specs.items()} == {
        "customer_id": "id", "age": "numeric", "income": "numeric", "city": "categorical", "member": "boolean",
        "joined": "datetime", "children": "numeric", "grade": "numeric", "note": "categorical"}
    assert specs["age"].is_integer and specs["age"].min == table.age.min() and specs["age"].max == table.age.max()
    assert not specs["income"].is_integer and specs["income"].decimals == 2
    assert specs["children"].is_integer and specs["children"].has_nulls  # floats only because of the gaps
    assert specs["note"].has_nulls and None not in specs["note"].categories
    assert specs["city"].categories[0] == "Leeds"  # most frequent first
    assert specs["joined"].datetime_format == "%Y-%m-%d" and specs["joined"].datetime_unit == "D"
    assert (specs["customer_id"].id_prefix, specs["customer_id"].id_width) == ("C", 5)


def test_the_printout_says_ids_are_not_learned(table):
    text = describe(infer_columns(table))
    lines = text.splitlines()
    assert len(lines) == table.shape[1]
    assert "not learned, regenerated unique" in lines[0] and "customer_id" in lines[0]
    assert "nulls" in [ln for ln in lines if ln.strip().startswith("children")][0]


def test_overrides_win(table):
    specs = {s.name: s for s in infer_columns(table, discrete=["grade"], ids=["age"], target="member")}
    assert specs["grade"].kind == "categorical" and set(specs["grade"].categories) == {1, 2, 3}
    assert specs["age"].kind == "id"
    assert specs["member"].kind == "boolean"
    with pytest.raises(ConfigError) as err:
        infer_columns(table, discrete=["gradee"])
    assert "did you mean 'grade'" in str(err.value) and "\n" not in str(err.value)


def test_a_column_of_only_nulls_is_refused():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [None, None, None]})
    with pytest.raises(DataError, match="'b' holds only nulls"):
        infer_columns(df)


def test_integer_column_not_named_like_an_id_stays_numeric():
    df = pd.DataFrame({"amount": range(50), "order_id": range(100, 150)})
    kinds = {s.name: s.kind for s in infer_columns(df)}
    assert kinds == {"amount": "numeric", "order_id": "id"}


def test_chunked_profiles_give_the_whole_table_specs(table):
    whole = infer_columns(table, discrete=["grade"])
    merged = None
    for start in range(0, len(table), 37):
        chunk = table.iloc[start:start + 37]
        ps = [profile(chunk[c]) for c in chunk.columns]
        merged = ps if merged is None else [merge_profiles(a, b) for a, b in zip(merged, ps)]
    streamed = decide_all(merged, discrete=["grade"])
    for a, b in zip(whole, streamed):
        assert a.kind == b.kind and a.min == b.min and a.max == b.max and a.null_count == b.null_count, a.name
        assert dict(zip(a.categories, a.counts)) == dict(zip(b.categories, b.counts)), a.name


def test_spec_dict_round_trip(table):
    for s in infer_columns(table):
        assert ColumnSpec.from_dict(s.to_dict()) == s


def test_decimals_are_not_rounded_to_zero():
    from ganforge.tabular.columns import _decimals

    assert _decimals(np.array([1.5e-9, -2.25e-9])) == 7  # more than 6: full precision, never 0 decimals
    assert _decimals(np.array([0.0, 1.25, 3.5])) == 2
    assert _decimals(np.array([1.0000004, 2.0])) == 0  # float noise on whole numbers is still whole
    assert _decimals(np.array([0.12, 4e-7])) == 7  # a value 6 places would round to 0 keeps full precision


def test_boolean_text_in_any_one_spelling():
    specs = infer_columns(pd.DataFrame({"a": ["true", "false", "true"], "b": ["TRUE", "FALSE", None],
                                        "c": ["True", "false", "x"]}))
    assert [s.kind for s in specs] == ["boolean", "boolean", "categorical"]
    assert set(specs[0].categories) == {"true", "false"}
