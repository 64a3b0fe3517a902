"""The Gaussian copula keeps each column's distribution and the columns' correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganforge.tabular.copula import GaussianCopula
from ganforge.tabular.report.quality import quality

N = 3000
RHO = 0.8
CORRELATION_TOLERANCE = 0.05  # the sampling error of r at n=3000 is about 0.007; the ECDF steps add a little


def _gaussian_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, RHO], [RHO, 1]], N)
    x = 10 + 2 * z[:, 0]
    y = np.exp(z[:, 1])  # a monotone transform: the copula's normal scores still correlate at RHO
    return pd.DataFrame({"id": [f"u{i:05d}" for i in range(N)], "x": x, "y": y,
                         "count": rng.poisson(3, N), "c": np.where(z[:, 0] > 0.5, "high", "low")})


KINDS = {"id": "id", "x": "numeric", "y": "numeric", "count": "numeric", "c": "categorical"}


def test_copula_reproduces_a_gaussian_correlation():
    df = _gaussian_table()
    syn = GaussianCopula(KINDS).fit(df, seed=0).sample(N, np.random.default_rng(1))
    assert list(syn.columns) == list(df.columns)
    r_real = np.corrcoef(df.x, df.y)[0, 1]
    r_syn = np.corrcoef(syn.x, syn.y)[0, 1]
    assert abs(r_syn - r_real) < CORRELATION_TOLERANCE, (r_real, r_syn)
    # a categorical column follows the numeric one it depends on (weakened: a copula sees the category only
    # through a correlation of normal scores, and the random point in its interval dilutes it)
    gap = lambda t: t.x[t.c == "high"].mean() - t.x[t.c == "low"].mean()  # noqa: E731
    assert gap(syn) > 0.5 * gap(df), (gap(syn), gap(df))
    # marginals kept: within the real range, the category shares, integers stay integers
    assert df.x.min() <= syn.x.min() and syn.x.max() <= df.x.max()
    assert abs((syn.c == "high").mean() - (df.c == "high").mean()) < 0.03
    assert syn["count"].dtype.kind == "i" and set(syn["count"]) <= set(df["count"]) | set(range(df["count"].max()))
    # IDs regenerated unique, in the real form
    assert syn.id.is_unique and syn.id.str.fullmatch(r"u\d{5}").all()
    assert quality(df, syn, KINDS)["overall"] > 0.9


def test_independent_columns_stay_independent_and_correlation_is_what_it_learns():
    df = _gaussian_table()
    shuffled = df.assign(y=df.y.sample(frac=1, random_state=0).to_numpy())  # x and y now independent
    syn = GaussianCopula(KINDS).fit(shuffled, seed=0).sample(N, np.random.default_rng(1))
    assert abs(np.corrcoef(syn.x, syn.y)[0, 1]) < CORRELATION_TOLERANCE


def test_nulls_booleans_datetimes_and_same_seed():
    rng = np.random.default_rng(2)
    n = 1000
    placed = rng.random(n) < 0.7
    df = pd.DataFrame({"placed": placed,
                       "salary": np.where(placed, rng.normal(30000, 5000, n).round(2), np.nan),
                       "start": np.where(placed, pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                                         None)})
    kinds = {"placed": "boolean", "salary": "numeric", "start": "datetime"}
    model = GaussianCopula(kinds).fit(df, seed=0)
    a = model.sample(n, np.random.default_rng(5))
    b = model.sample(n, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    assert abs(a.salary.isna().mean() - 0.3) < 0.05
    assert set(a.placed) <= {True, False}
    # nullness goes with the boolean it went with in the real table (the null interval is correlated too)
    # (real: 0% null when placed, 100% when not; a copula keeps a weakened form of it)
    null_if_placed = a.salary[a.placed == True].isna().mean()  # noqa: E712
    null_if_not = a.salary[a.placed == False].isna().mean()  # noqa: E712
    assert null_if_not > null_if_placed + 0.3, (null_if_placed, null_if_not)
    assert a.start.dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (a.salary.dropna() == a.salary.dropna().round(2)).all()
    assert not a.equals(model.sample(n, np.random.default_rng(6)))
