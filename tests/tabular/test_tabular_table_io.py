"""Reading tables: each bad file is one line naming it and the fix; writing goes through ganforge.outputs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from ganforge.errors import DataError, GanforgeError
from ganforge.tabular.table_data import text_dtypes
from ganforge.tabular.table_io import iter_table, read_table, write_table

BAD = {
    "empty": (b"", "is empty"),
    "header_only": (b"a,b\n", "has 0 rows"),
    "ragged_long": (b"a,b\n1,2\n3,4,5\n6,7\n", "line 3 has 3 fields but the header has 2"),
    "ragged_short": (b"a,b\n1,2\n3\n6,7\n", "line 3 has 1 fields but the header has 2"),
    "only_nulls": (b"a,b\n1,\n2,\n3,\n", "only nulls; drop"),
    "latin1": ("name,town\nJos\u00e9,M\u00e1laga\nAnn,York\n".encode("latin-1"), "is not UTF-8"),
    "one_row": (b"a,b\n1,2\n", "has 1 row;"),
    # an inf is read by pandas as a float, and crashed the transform after the run folder was made
    "inf": (b"a,b\n1,2.5\n2,inf\n3,4.5\n", "column 'b' holds inf at row 2; replace it with a finite number"),
    "minus_inf": (b"a,b\n1,2.5\n2,3.5\n3,-inf\n", "column 'b' holds -inf at row 3"),
    # another separator read with ',' is one column named after the whole header
    "semicolon": (b"age;town;label\n30;York;a\n40;Hull;b\n", "one column named 'age;town;label'; it looks "
                                                              "';'-separated: save it comma-separated"),
    "tab": (b"age\ttown\n30\tYork\n40\tHull\n", "it looks tab-separated"),
    "pipe": (b"age|town\n30|York\n40|Hull\n", "it looks '|'-separated"),
    # pandas renamed a second 'a' to 'a.1' and a nameless column to 'Unnamed: 0', learned under those names
    "duplicate_header": (b"a,a,c\n1,2,3\n4,5,6\n", "columns 1 and 2 are both named 'a'; give every column its own"),
    "index_column": (b",a,c\n0,2,3\n1,5,6\n", "column 1 of the header has no name (a nameless first column is "
                                               "usually the row index pandas writes: re-save the table with "
                                               "DataFrame.to_csv(path, index=False)"),
    "empty_name": (b"a,,c\n1,2,3\n4,5,6\n", "column 2 of the header has no name; name it, or drop the column"),
    # a UTF-8 byte-order mark (Excel's "CSV UTF-8") hid both from the checks, which saw '\ufeff' and '\ufeffa',
    # while pandas, which drops the mark, renamed the columns 'Unnamed: 0' and 'a.1'
    "bom_index_column": (b"\xef\xbb\xbf,b\n0,x\n1,y\n2,x\n", "column 1 of the header has no name (a nameless "
                                                               "first column is usually the row index"),
    "bom_duplicate_header": (b"\xef\xbb\xbfa,a\n1,2\n3,4\n5,6\n", "columns 1 and 2 are both named 'a'; give every"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_is_one_line(tmp_path, case):
    content, message = BAD[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_table(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)


def test_parquet_without_pyarrow_says_how_to_get_it(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else
                        real_find_spec(name, *a))  # as on a machine without the [parquet] extra
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"ganforge\[parquet\]"):
        read_table(path)
    with pytest.raises(DataError, match=r"ganforge\[parquet\]"):
        write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "out.parquet")


def test_a_parquet_table_trains_and_samples_parquet(tmp_path):
    """parquet:PATH in, ``ganforge sample --out x.parquet`` out, with the columns and their types."""
    pytest.importorskip("pyarrow", reason="the [parquet] extra is not installed")
    rng = np.random.default_rng(0)
    src = tmp_path / "t.parquet"
    pd.DataFrame({"x": rng.normal(size=200).round(3), "c": rng.choice(["a", "b"], 200),
                  "n": rng.integers(0, 5, 200), "flag": rng.random(200) < 0.5}).to_parquet(src, index=False)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(bad)
    run = tmp_path / "run"
    assert main(["train", "ctgan-fast", "--out", str(run), "--steps", "3", "--set", f"data.name=parquet:{src}",
                 "--set", "train.batch_size=50", "--set", "model.d.pack=5", "--set", "log.tensorboard=false",
                 "--set", "log.progress=false"]) == 0
    out = tmp_path / "s.parquet"
    assert main(["sample", str(run), "--n", "30", "--out", str(out)]) == 0
    df = pd.read_parquet(out)
    assert list(df.columns) == ["x", "c", "n", "flag"] and len(df) == 30
    assert set(df["c"].dropna()) <= {"a", "b"} and df["flag"].dtype.kind == "b" and df["n"].dtype.kind in "iu"


def test_good_csv_reads_with_its_types(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x,name\n1,0.5,a\n2,,b\n3,1.25,\n")
    df = read_table(path)
    assert list(df.columns) == ["id", "x", "name"] and len(df) == 3
    assert df["x"].isna().sum() == 1 and df["name"].isna().sum() == 1


def test_write_table_refuses_to_overwrite_unless_forced(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    out = write_table(df, tmp_path / "out.csv")
    assert read_table(out).equals(df)
    with pytest.raises(GanforgeError, match="already exists; pass --force"):
        write_table(df.iloc[::-1], out)
    assert read_table(out).equals(df)  # untouched
    write_table(df.iloc[::-1], out, force=True)
    assert read_table(out)["a"].tolist() == [2, 1]
    with pytest.raises(GanforgeError, match=r"\.csv"):
        write_table(df, tmp_path / "out.txt")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_through_train_is_one_line_and_exit_2(tmp_path, case, capsys):
    content, message = BAD[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)
    code = main(["train", "ctgan-fast", "--set", f"data.name=csv:{path}", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing left behind


def test_an_inf_is_found_in_a_later_chunk_with_its_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x\n" + "".join(f"{i}.5\n" for i in range(9)) + "inf\n")
    with pytest.raises(DataError, match="column 'x' holds inf at row 10;"):
        list(iter_table(path, chunk_rows=4))  # the row counts on across chunks


def test_one_column_without_another_separator_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("name\nYork\nHull\n")  # a one-column table is a table
    assert read_table(path)["name"].tolist() == ["York", "Hull"]


def test_a_csv_with_a_byte_order_mark_keeps_its_header(tmp_path):
    """A BOM is not part of the first name: read, learned and written back as 'code', its text kept."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfcode,town\n007,York\n012,Hull\n100,York\n")
    df = read_table(path, dtype=text_dtypes(path))
    assert list(df.columns) == ["code", "town"] and df["code"].tolist() == ["007", "012", "100"]
    out = write_table(df, tmp_path / "back.csv")
    assert out.read_bytes() == b"code,town\n007,York\n012,Hull\n100,York\n"
