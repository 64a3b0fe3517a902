"""The reversible transform: every column kind round-trips; random rows invert into valid values."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import DataError
from ganforge.tabular.columns import describe, infer_columns
from ganforge.tabular.table_data import scan
from ganforge.tabular.table_io import read_table, write_table
from ganforge.tabular.transform import BANDS, HEAD, MAX_ONEHOT, TableTransformer


def _fit(df, **kw):
    specs = infer_columns(df, **kw)
    return TableTransformer().fit(df, specs, seed=0), specs


def test_every_column_kind_round_trips(table):
    t, specs = _fit(table, discrete=["grade"])
    x = t.transform(table)
    assert x.dtype == np.float32 and x.shape == (len(table), t.output_dim)
    back = t.inverse(x, rng=np.random.default_rng(0))
    assert list(back.columns) == list(table.columns)  # the input's columns, in its order
    for c in table.columns:
        if c == "customer_id":
            continue
        assert back[c].isna().tolist() == table[c].isna().tolist(), c  # nulls restored where they were
        got, want = back[c].dropna(), table[c].dropna()
        if c == "children":  # whole numbers with gaps come back as nullable integers, not 3.0
            assert str(back[c].dtype) == "Int64" and (got.astype(int).to_numpy() == want.astype(int).to_numpy()).all()
        else:
            assert back[c].dtype == table[c].dtype, c
            assert got.tolist() == want.tolist(), c  # precision kept: decimals, datetimes, categories exact
    ids = back["customer_id"]
    assert ids.is_unique and all(re.fullmatch(r"C\d{5}", v) for v in ids)


def test_random_rows_invert_into_valid_values(table):
    t, specs = _fit(table, discrete=["grade"])
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.5, 1.5, (2000, t.output_dim)).astype(np.float32)  # any G output, extremes included
    back = t.inverse(x, rng=rng)
    by = {s.name: s for s in specs}
    for c in ("age", "income", "children"):
        v = back[c].dropna().astype(float)
        assert v.min() >= by[c].min and v.max() <= by[c].max, c  # min and max enforced
    assert (back["age"] == back["age"].round()).all()  # integers rounded
    assert np.allclose(back["income"], back["income"].round(2))  # decimals kept
    assert set(back["grade"]) <= {1, 2, 3}  # an integer-coded categorical invents no category
    assert set(back["city"]) <= set(table["city"])
    assert back["children"].isna().any() and back["note"].isna().any()  # the null slots are reachable
    joined = pd.to_datetime(back["joined"], format="%Y-%m-%d")
    assert joined.min() >= pd.Timestamp(table["joined"].min()) and joined.max() <= pd.Timestamp(table["joined"].max())


def test_modes_follow_the_paper(table):
    t, _ = _fit(table)
    x = t.transform(table)
    tanh = [s for s in t.spans if s.activation == "tanh"]
    assert np.abs(x[:, [s.start for s in tanh]]).max() <= 0.99  # alpha clipped to [-0.99, 0.99]
    income_modes = [s for s in t.spans if s.column == "income" and s.activation == "softmax"][0]
    assert 2 <= income_modes.width <= 10  # two clusters need at least two modes
    assert np.allclose(x[:, income_modes.start:income_modes.start + income_modes.width].sum(1), 1)
    assert [s.column for s in t.discrete_spans] == ["city", "member", "note"]


def test_state_dict_is_json_and_restores_the_same_transform(table):
    t, _ = _fit(table)
    t2 = TableTransformer.from_state_dict(json.loads(json.dumps(t.state_dict())))
    assert t2.spans == t.spans
    assert np.array_equal(t2.transform(table), t.transform(table))
    x = t.transform(table)
    a = t.inverse(x, rng=np.random.default_rng(3))
    b = t2.inverse(x, rng=np.random.default_rng(3))
    pd.testing.assert_frame_equal(a, b)


def test_high_cardinality_is_pooled_not_one_hot():
    rng = np.random.default_rng(0)
    k = 300
    p = 1.0 / np.arange(1, k + 1)
    codes = rng.choice(np.arange(1000, 1000 + k), 20_000, p=p / p.sum())
    codes[:k] = np.arange(1000, 1000 + k)  # every code has at least one row
    df = pd.DataFrame({"shop": codes, "amount": rng.normal(10, 2, len(codes)).round(1)})
    t, specs = _fit(df, discrete=["shop"])
    span = t.discrete_spans[0]
    assert span.width == MAX_ONEHOT == HEAD + BANDS
    x = t.transform(df)
    back = t.inverse(x, rng=np.random.default_rng(0))
    top = specs[0].categories[:HEAD]
    head_rows = df["shop"].isin(top).to_numpy()
    assert (back["shop"].to_numpy()[head_rows] == df["shop"].to_numpy()[head_rows]).all()  # frequent ones exact
    assert set(back["shop"]) <= set(df["shop"])  # never an invented code
    # rare codes are not lost: every seen code has a row's worth of probability, and they come back
    assert len(set(back["shop"])) > 0.9 * k
    assert back["shop"].dtype == df["shop"].dtype


def test_an_unseen_category_is_one_line(table):
    t, _ = _fit(table)
    other = table.copy()
    other.loc[0, "city"] = "Atlantis"
    with pytest.raises(DataError, match="Atlantis") as err:
        t.transform(other)
    assert "\n" not in str(err.value)


def test_integer_ids_are_regenerated_unique():
    df = pd.DataFrame({"row_id": np.arange(500, 600), "v": np.linspace(0, 1, 100)})
    t, specs = _fit(df)
    assert specs[0].kind == "id"
    back = t.inverse(t.transform(df), rng=np.random.default_rng(0))
    assert back["row_id"].is_unique and back["row_id"].dtype == df["row_id"].dtype and back["row_id"].min() >= 500


def test_a_csv_round_trip_writes_the_same_text(tmp_path):
    """Through CSV and back: booleans with gaps, template IDs, full-precision floats keep their written form."""
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"key": ["".join(rng.choice(list("0123456789abcdef"), 6)) + "-x9" for _ in range(n)],
                       "ok": [True, False, None] * (n // 3), "ratio": rng.normal(size=n),
                       "price": np.round(rng.uniform(1, 9, n), 2)})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    read = pd.read_csv(path)
    t, specs = _fit(read)
    assert [s.kind for s in specs] == ["id", "boolean", "numeric", "numeric"]
    assert specs[2].decimals is None and specs[3].decimals == 2  # full precision is not rounded to 6 places
    back = t.inverse(t.transform(read), rng=np.random.default_rng(0))
    out = tmp_path / "back.csv"
    back.to_csv(out, index=False)
    lines, original = out.read_text().splitlines(), path.read_text().splitlines()
    cells = lambda text, cols: [[ln.split(",")[c] for c in cols] for ln in text]  # noqa: E731
    assert cells(lines, (1, 3)) == cells(original, (1, 3))  # the same text: True / False / empty, 2 decimals
    # full precision comes back as near as the float32 rows allow (alpha is 1e-7 of 4 standard deviations)
    assert np.allclose(back["ratio"], read["ratio"], atol=1e-5)
    assert all(re.fullmatch(r"[0-9a-f]{6}-x9", ln.split(",")[0]) for ln in lines[1:])  # constant "-x9" kept literal


def test_day_first_dates_and_datetime64_with_gaps_round_trip():
    n = 40
    day_first = pd.Series(pd.date_range("2020-01-01", periods=n, freq="D").strftime("%d/%m/%Y"))
    day_first[::5] = None  # and the most frequent value, 01/02/2020, reads either way
    stamps = pd.Series(pd.date_range("2020-01-01 08:00", periods=n, freq="h"))
    stamps[::4] = pd.NaT
    df = pd.DataFrame({"day": day_first, "at": stamps, "v": np.arange(n)})
    t, specs = _fit(df)
    assert [(s.kind, s.datetime_format, s.datetime_unit) for s in specs[:2]] == [
        ("datetime", "%d/%m/%Y", "D"), ("datetime", None, "s")]
    back = t.inverse(t.transform(df), rng=np.random.default_rng(0))
    assert back["day"].isna().tolist() == df["day"].isna().tolist()
    assert back["day"].dropna().tolist() == df["day"].dropna().tolist()
    assert back["at"].dtype == df["at"].dtype and back["at"].isna().tolist() == df["at"].isna().tolist()
    assert (back["at"].dropna() == df["at"].dropna()).all()


def test_alpha_beyond_one_inverts_as_alpha_one():
    """An alpha outside [-1, 1] is read as the edge (clipped before min/max are applied): on a mode whose
    mean + 4 std lies well inside min..max, alpha 1.5 and 1.0 give the same value."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"v": np.concatenate([rng.normal(0.0, 1.0, 400), rng.normal(100.0, 1.0, 400)])})
    t, specs = _fit(df)
    assert specs[0].min < -2 and specs[0].max > 100
    x = np.repeat(t.transform(df.iloc[[0]]), 2, axis=0)  # one row, one mode, twice
    tanh = next(s for s in t.spans if s.column == "v" and s.activation == "tanh")
    x[:, tanh.start] = [1.5, 1.0]
    back = t.inverse(x, rng=np.random.default_rng(0))["v"].to_numpy(float)
    assert back[0] == back[1] and back[1] < 50  # mean + 4 std of the mode near 0, not clipped by max


def test_zone_aware_datetimes_round_trip_in_their_zone(tmp_path):
    """Text with a UTC offset and a zone-aware datetime64 column are learned in UTC and written back in their
    own zone (they raised "Cannot use .astype to convert from timezone-aware dtype to timezone-naive")."""
    n = 40
    utc = pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC")
    df = pd.DataFrame({"t": utc.strftime("%Y-%m-%d %H:%M:%S+00:00"), "z": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "p": pd.Series(utc.tz_convert("+01:00").strftime("%Y-%m-%d %H:%M:%S+0100")),
                       "london": pd.date_range("2020-03-20", periods=n, freq="D", tz="Europe/London")})
    df.loc[3, "t"] = None
    t, specs = _fit(df)
    assert [(s.kind, s.datetime_tz) for s in specs] == [("datetime", "+00:00"), ("datetime", "Z"),
                                                        ("datetime", "+0100"), ("datetime", "Europe/London")]
    back = t.inverse(t.transform(df), rng=np.random.default_rng(0))
    for c in ("t", "z", "p"):
        assert back[c].isna().tolist() == df[c].isna().tolist(), c
        assert back[c].dropna().tolist() == df[c].dropna().tolist(), c  # the same text, offset included
    assert str(back["london"].dtype) == str(df["london"].dtype) and (back["london"] == df["london"]).all()


def test_datetimes_in_several_offsets_are_one_line():
    stamps = pd.date_range("2020-03-20", periods=30, freq="D", tz="Europe/London")  # summer time starts
    df = pd.DataFrame({"when": stamps.strftime("%Y-%m-%d %H:%M:%S%z")})
    with pytest.raises(DataError) as err:
        infer_columns(df)
    text = str(err.value)
    assert "column 'when' holds datetimes in more than one UTC offset (+0000, +0100" in text and "\n" not in text


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the mode fit's squares of 1e300
def test_huge_and_tiny_numbers_come_back_as_numbers():
    """A column of normal x 1e300 was 'integer' and its inverse raised (cannot safely cast to int64); a column
    of normal x 1e-9 was '0 decimals' and came back as zeros."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"huge": rng.normal(size=60) * 1e300, "tiny": rng.normal(size=60) * 1e-9,
                       "big_int": rng.integers(2**60, 2**62, 60)})
    t, specs = _fit(df)
    huge, tiny, big = specs
    assert not huge.is_integer and tiny.decimals is None and not tiny.is_integer
    assert big.is_integer  # an int64 column stays integers, however large
    back = t.inverse(t.transform(df), rng=np.random.default_rng(0))
    assert back["huge"].dtype == np.float64 and np.isfinite(back["huge"]).all()
    assert (back["tiny"] != 0).all() and np.allclose(back["tiny"], df["tiny"], rtol=1e-4, atol=0)
    assert str(back["big_int"].dtype) == "int64"


def _csv_round_trip(tmp_path, content: bytes, **kw):
    """What training and sampling do with a CSV: scan, fit, transform, inverse, written back as CSV."""
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    specs, sub, _, dtype = scan(path, seed=0, **kw)
    t = TableTransformer().fit(sub, specs, seed=0)
    x = t.transform(read_table(path, dtype=dtype or None))
    out = write_table(t.inverse(x, rng=np.random.default_rng(0)), tmp_path / "back.csv")
    return t, specs, out.read_text()


@pytest.mark.parametrize("how", [{"discrete": ["code"]}, {"target": "code"}])
def test_integer_categories_with_nulls_come_back_as_integers(tmp_path, how):
    """pandas reads an integer CSV column with blanks as float64, so a categorical one came back as 3.0, -1.0
    (its every value's text changed); the numeric path already wrote 3."""
    codes = [str(v) for v in range(-5, 5)] * 3 + ["", ""]
    content = ("code,town\n" + "".join(f"{c},{'York' if i % 2 else 'Hull'}\n" for i, c in enumerate(codes))).encode()
    t, specs, back = _csv_round_trip(tmp_path, content, **how)
    assert specs[0].kind == "categorical" and specs[0].has_nulls
    assert back == content.decode()  # the same text, row for row: 3 not 3.0, blanks as blanks
    rows = t.inverse(np.random.default_rng(1).uniform(-1, 1, (300, t.output_dim)), rng=np.random.default_rng(1))
    assert str(rows["code"].dtype) == "Int64" and set(rows["code"].dropna()) <= set(range(-5, 5))


def test_values_too_small_for_decimals_keep_their_significant_digits(tmp_path):
    """A 1e-9-scale column is past 6 decimals ("full precision") and went through float32: 2e-09 came back as
    1.999999998802731e-09. Rounded to the significant digits seen, it comes back as written."""
    tiny = ["1e-09", "2e-09", "3e-09", "2.5e-09"] * 10
    small = ["0.000125", "1.5e-07", "0.0000031", "4e-08"] * 10
    content = ("tiny,small\n" + "".join(f"{a},{b}\n" for a, b in zip(tiny, small))).encode()
    t, specs, back = _csv_round_trip(tmp_path, content)
    assert [(s.decimals, s.significant) for s in specs] == [(None, 2), (None, 3)]
    assert "decimal 1e-09..3e-09, 2 significant digits" in describe(specs)
    got = pd.read_csv(io.StringIO(back), dtype=str)
    want = pd.read_csv(io.StringIO(content.decode()))
    assert (got["tiny"].astype(float) == want["tiny"]).all() and (got["small"].astype(float) == want["small"]).all()
    assert set(got["tiny"]) == {"1e-09", "2e-09", "3e-09", "2.5e-09"}  # no float32 noise digits
    rows = t.inverse(np.random.default_rng(1).uniform(-1, 1, (500, t.output_dim)), rng=np.random.default_rng(1))
    assert all(len(repr(v).split("e")[0].replace(".", "")) <= 2 for v in rows["tiny"])  # 2 digits at most
    assert rows["tiny"].between(1e-9, 3e-9).all()  # rounding keeps the range seen


def test_more_significant_digits_than_float32_holds_are_not_rounded():
    df = pd.DataFrame({"fine": [1.23456789e-9, 2.3456789e-9, 3.456789012e-9] * 10})
    (spec,) = infer_columns(df)
    assert spec.decimals is None and spec.significant is None  # full precision, as before
    assert "full precision" in describe([spec])
