"""csv:PATH as a dataset: streamed in chunks into a memory-mapped float32 file, the same rows as one pass,
reused when nothing changed, and the column overrides honoured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from ganforge.data import load_dataset
from ganforge.errors import ConfigError, DataError
from ganforge.tabular import table_data
from ganforge.tabular.transform import TableTransformer


def _mapped_from(address: int) -> str:
    """The file the memory at ``address`` is mapped from ('' if none), read from /proc/self/maps."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(v, 16) for v in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5] if len(parts) > 5 else ""
    return ""


@pytest.fixture
def csv(tmp_path, table):
    path = tmp_path / "people.csv"
    table.to_csv(path, index=False)
    return path


def test_a_csv_is_a_table_dataset_over_a_memory_map(csv, table, capsys):
    data = load_dataset(f"csv:{csv}", discrete="grade", seed=0)
    assert data.kind == "table" and data.x.dtype.is_floating_point and len(data) == len(table)
    assert _mapped_from(data.x.data_ptr()).endswith("rows.f32")  # x is the file on disk, not a copy in memory
    kinds = {c["name"]: c["kind"] for c in data.meta["columns"]}
    assert kinds["grade"] == "categorical" and kinds["customer_id"] == "id"
    assert "not learned, regenerated unique" in capsys.readouterr().out  # the kinds are printed
    t = TableTransformer.from_state_dict(data.meta["transformer"])
    back = t.inverse(data.x.numpy(), rng=np.random.default_rng(0))
    assert list(back.columns) == list(table.columns)
    for c in ("age", "income", "city", "joined", "grade", "note"):
        assert back[c].isna().tolist() == table[c].isna().tolist(), c
        assert back[c].dropna().tolist() == table[c].dropna().tolist(), c


def test_chunks_give_the_same_table(csv, table, monkeypatch):
    whole = load_dataset(f"csv:{csv}", seed=0)
    monkeypatch.setattr(table_data, "CHUNK_ROWS", 50)
    monkeypatch.setattr(table_data, "_key", lambda sha, req: "chunked")  # a fresh build, not the cache
    chunked = load_dataset(f"csv:{csv}", seed=0)
    assert whole.meta["columns"] == chunked.meta["columns"]
    t1 = TableTransformer.from_state_dict(whole.meta["transformer"])
    t2 = TableTransformer.from_state_dict(chunked.meta["transformer"])
    a = t1.inverse(whole.x.numpy(), rng=np.random.default_rng(0)).drop(columns="customer_id")
    b = t2.inverse(chunked.x.numpy(), rng=np.random.default_rng(0)).drop(columns="customer_id")
    pd.testing.assert_frame_equal(a, b)


def test_the_cache_is_reused_and_keyed_by_content(csv, table):
    first = load_dataset(f"csv:{csv}", seed=0)
    rows = first.meta["cache"]
    again = load_dataset(f"csv:{csv}", seed=0)
    assert again.meta["cache"] == rows and np.array_equal(first.x.numpy(), again.x.numpy())
    assert load_dataset(f"csv:{csv}", seed=1).meta["cache"] != rows  # another seed draws other modes
    table.iloc[:-1].to_csv(csv, index=False)
    assert load_dataset(f"csv:{csv}", seed=0).meta["cache"] != rows  # an edited table is rebuilt


def test_digits_in_a_text_column_stay_text(tmp_path, monkeypatch):
    codes = ["A1", "B2"] * 40 + ["0042", "0042"]  # digits only in the last chunk
    path = tmp_path / "codes.csv"
    pd.DataFrame({"code": codes, "v": np.arange(82.0)}).to_csv(path, index=False)
    monkeypatch.setattr(table_data, "CHUNK_ROWS", 20)
    data = load_dataset(f"csv:{path}", seed=0)
    t = TableTransformer.from_state_dict(data.meta["transformer"])
    assert "0042" in set(t.inverse(data.x.numpy(), rng=np.random.default_rng(0))["code"])


def test_image_options_and_bad_files_are_refused(csv, tmp_path):
    with pytest.raises(DataError, match="data.resolution"):
        load_dataset(f"csv:{csv}", resolution=32)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(DataError, match="has 1 row") as err:
        load_dataset(f"csv:{bad}")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="data.discrete: 'nope' is not a column"):
        load_dataset(f"csv:{csv}", discrete=["nope"])


def test_a_bare_table_path_is_told_its_prefix(csv):
    with pytest.raises(DataError, match=f"for a table write 'csv:{csv}'"):
        load_dataset(str(csv))


def test_a_table_of_inferred_ids_is_not_blamed_on_data_ids(tmp_path, capsys):
    """With no data.ids set, "drop them from data.ids" pointed at a setting the user never made."""
    src = tmp_path / "codes.csv"
    src.write_text("code\n" + "".join(f"P{i:04d}\n" for i in range(30)))
    assert main(["train", "ctgan-fast", "--set", f"data.name=csv:{src}", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no column to learn" in err and "data.discrete" in err and "data.ids" not in err
    assert not (tmp_path / "run").exists()


def test_codes_with_leading_zeros_and_lowercase_booleans_keep_their_text(tmp_path, capsys):
    """pandas reads 000..004 as 0..4 and true/false as True/False: they came back as 0, 2 and True."""
    rng = np.random.default_rng(0)
    path = tmp_path / "codes.csv"
    rows = [f"{rng.integers(0, 5):03d},{'true' if rng.random() < 0.5 else 'false'},{rng.normal():.2f}" for _ in range(60)]
    path.write_text("code,flag,x\n" + "\n".join(rows) + "\n")
    specs, _, _, dtype = table_data.scan(path, seed=0)
    kinds = {s.name: (s.kind, tuple(sorted(map(str, s.categories)))) for s in specs}
    assert kinds["code"] == ("categorical", ("000", "001", "002", "003", "004"))
    assert kinds["flag"] == ("boolean", ("false", "true")) and set(dtype) == {"code", "flag"}
    data = load_dataset(f"csv:{path}", seed=0)
    t = TableTransformer.from_state_dict(data.meta["transformer"])
    back = t.inverse(data.x.numpy(), rng=np.random.default_rng(0))
    assert set(back["code"]) <= {"000", "001", "002", "003", "004"} and set(back["flag"]) <= {"true", "false"}
    # True/False and plain numbers are read as before (their samples are unchanged)
    plain = tmp_path / "plain.csv"
    plain.write_text("n,ok\n" + "\n".join(f"{i},{'True' if i % 2 else 'False'}" for i in range(20)) + "\n")
    assert table_data.scan(plain, seed=0)[3] == {}
