"""The report's tables are read, and their kinds inferred, as training reads and infers them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import DataError
from ganforge.tabular.report.tables import check_holdout, kinds_of, read
from ganforge.tabular.table_data import scan


def _real(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.integers(18, 80, n), "grade": rng.integers(1, 4, n),
                         "code": rng.choice(["007", "012", "100"], n), "income": rng.normal(5e4, 1e4, n)})


def test_codes_with_leading_zeros_are_categories_as_in_training(tmp_path):
    path = tmp_path / "real.csv"
    _real().to_csv(path, index=False)
    real = read(str(path), "REAL", strict=True)
    assert sorted(real["code"].unique()) == ["007", "012", "100"]  # not the numbers 7, 12 and 100
    kinds, described = kinds_of(real)
    trained, *_ = scan(path, seed=0)
    assert kinds == {s.name: s.kind for s in trained} and kinds["code"] == "categorical"
    assert "007" in described
    syn = tmp_path / "syn.csv"
    _real().sample(frac=1, random_state=1).to_csv(syn, index=False)
    assert sorted(read(str(syn), "SYN", strict=False)["code"].unique()) == ["007", "012", "100"]


def test_a_holdout_of_training_rows_with_one_blank_code_is_refused(tmp_path, one_line):
    real_path, hold_path = tmp_path / "real.csv", tmp_path / "hold.csv"
    _real().to_csv(real_path, index=False)
    hold = _real().astype({"grade": float})
    hold.loc[3, "grade"] = np.nan  # one blank cell: pandas reads the grades as 1.0, 2.0, 3.0
    hold.to_csv(hold_path, index=False)
    real = read(str(real_path), "REAL", strict=True)
    held = read(str(hold_path), "--holdout", strict=False)
    kinds, _ = kinds_of(real, discrete=("grade",))
    with pytest.raises(DataError, match=r"299 of its 300 rows") as e:
        check_holdout(held, real, str(hold_path), str(real_path), kinds)
    one_line(e)
