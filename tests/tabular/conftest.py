"""A small table with one column of every kind (and nulls, datetimes, decimals), shared by the tabular tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def mixed_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
        "age": rng.integers(18, 90, n),
        "income": np.round(np.concatenate([rng.normal(30, 3, n // 2), rng.normal(80, 5, n - n // 2)]), 2),
        "city": rng.choice(["Leeds", "York", "Hull", "Ripon"], n, p=[0.6, 0.3, 0.08, 0.02]),
        "member": rng.random(n) < 0.3,
        "joined": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).strftime("%Y-%m-%d"),
        "children": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 4, n)),
        "grade": rng.choice([1, 2, 3], n),
        "note": np.where(rng.random(n) < 0.15, None, rng.choice(["a", "b"], n)),
    })


@pytest.fixture
def table() -> pd.DataFrame:
    return mixed_table()
