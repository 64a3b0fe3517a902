"""Is a synthetic table useful for learning? Train on synthetic, test on real (TSTR), against real (TRTR).

One fixed model, scikit-learn's ``HistGradientBoostingClassifier(random_state=0)`` with its default
settings (gradient boosting is what people fit to tables, it takes nulls as they are, and it needs no
tuning to be a fair yardstick), learns to predict the target column from the other scored columns
(in the normalised encoding of :mod:`ganforge.tabular.report.privacy`, fitted on the real table):

* **TRTR**: trained on real rows, tested on real rows it never saw;
* **TSTR**: trained on the synthetic table, tested on the same real rows.

The test rows are ``--holdout`` when it is given (TRTR then trains on all of REAL). Without it, a
seeded :data:`TEST_SHARE` of REAL's rows is the test set and TRTR trains on the rest; TSTR's model never
sees those rows either, but the *generator* may have (it was trained on REAL), so that TSTR figure is
optimistic, and the report says which protocol it used. A target with more classes than half the training
rows gets a one-line note that the accuracies are unreliable (scikit-learn's warning of it is silenced).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganforge.errors import DataError
from ganforge.tabular.report.privacy import Encoding
from ganforge.tabular.report.quality import DISCRETE, category_text

TEST_SHARE = 0.3  # of REAL's rows held out for testing when no --holdout is given (a common 70/30 split)
MODEL = "HistGradientBoostingClassifier(random_state=0), scikit-learn defaults"
# More classes than this share of the training rows leaves most classes a row or two to learn from: the accuracies
# then say little, and the report says so in a note (scikit-learn's own warning, the same test, is silenced).
MANY_CLASSES_SHARE = 0.5
SKLEARN_MANY_CLASSES = "The number of unique classes is greater than 50% of the number of samples"


def default_target(kinds: Mapping[str, str]) -> str | None:
    """The last categorical (else boolean) column in the table's order: the usual place of a label."""
    for wanted in ("categorical", "boolean"):
        names = [c for c, k in kinds.items() if k == wanted]
        if names:
            return names[-1]
    return None


def check_target(target: str | None, kinds: Mapping[str, str], *, how: str = "name one with --target COLUMN") -> str:
    """The target column, or one line saying why there is none (``how``: the fix, which differs between
    ``table-report``, which takes --target, and ``downstream``, which predicts the run's data.target)."""
    if target is None:
        target = default_target(kinds)
        if target is None:
            raise DataError(f"no categorical or boolean column to predict, so utility cannot be measured; {how}")
        return target
    if target not in kinds:
        raise DataError(f"--target {target} is not a column of the table; columns: {', '.join(kinds)}")
    if kinds[target] not in DISCRETE:
        raise DataError(f"--target {target} is a {kinds[target]} column; utility is a classification, so pick a "
                        f"categorical or boolean column (or pass --discrete {target} if its numbers are class codes)")
    return target


def _labels(df: pd.DataFrame, target: str) -> pd.Series:
    """The target's classes as category text (a class 1 read as 1.0 is still "1"), a null as a class of its own."""
    return category_text(df[target]).reset_index(drop=True).fillna("<null>")


def _fit_score(x_train, y_train, x_test, y_test) -> dict:
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, f1_score

    classes = np.unique(y_train)
    if len(classes) < 2:  # a classifier cannot be fitted; the only honest model predicts that class
        pred = np.full(len(y_test), classes[0] if len(classes) else "<none>", dtype=object)
        note = f"one class in the training labels ({classes[0] if len(classes) else 'none'}): predicted it always"
    else:
        with warnings.catch_warnings():  # said once, in the report's words, by _many_classes_note
            warnings.filterwarnings("ignore", message=SKLEARN_MANY_CLASSES, category=UserWarning)
            model = HistGradientBoostingClassifier(random_state=0).fit(x_train, y_train)
        pred, note = model.predict(x_test), None
    return {"accuracy": float(accuracy_score(y_test, pred)),
            "macro_f1": float(f1_score(y_test, pred, average="macro", zero_division=0)),
            "train_rows": int(len(y_train)), **({"note": note} if note else {})}


def _many_classes_note(target: str, labels: Mapping[str, np.ndarray]) -> str | None:
    """One line when a training set has more than :data:`MANY_CLASSES_SHARE` as many classes as rows (``labels``:
    the training labels by what they are, e.g. REAL's and the synthetic table's), else None."""
    many = [(what, len(np.unique(y)), len(y)) for what, y in labels.items()
            if len(y) and len(np.unique(y)) > MANY_CLASSES_SHARE * len(y)]
    if not many:
        return None
    counts = "; ".join(f"{k} classes over {n} {what} training rows" for what, k, n in many)
    return (f"target {target} has {counts} (more classes than half the rows): most classes have a row or two to "
            f"learn from, so these accuracies are unreliable")


def utility(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], target: str, *,
            holdout: pd.DataFrame | None = None, seed: int = 0) -> dict:
    """The utility section: TRTR and TSTR accuracy and macro-F1 of one fixed model on ``target``."""
    if holdout is not None:
        train_real, test = real, holdout
        protocol = "test = --holdout rows; TRTR trained on all of REAL"
    else:
        order = np.random.default_rng(seed).permutation(len(real))
        n_test = max(1, int(round(TEST_SHARE * len(real))))
        test, train_real = real.iloc[np.sort(order[:n_test])], real.iloc[np.sort(order[n_test:])]
        protocol = (f"test = a seeded {TEST_SHARE:.0%} of REAL's rows (seed {seed}), TRTR trained on the other "
                    f"{1 - TEST_SHARE:.0%}; the generator may have seen the test rows, so TSTR is optimistic")
    features = {c: k for c, k in kinds.items() if c != target}
    enc = Encoding(train_real, features)
    y_test = _labels(test, target).to_numpy()
    y_real, y_syn = _labels(train_real, target).to_numpy(), _labels(synthetic, target).to_numpy()
    trtr = _fit_score(enc.encode(train_real), y_real, enc.encode(test), y_test)
    tstr = _fit_score(enc.encode(synthetic), y_syn, enc.encode(test), y_test)
    note = _many_classes_note(target, {"real": y_real, "synthetic": y_syn})
    return {"target": target, "model": MODEL, "protocol": protocol, "test_rows": int(len(test)),
            "trtr": trtr, "tstr": tstr,
            "tstr_over_trtr_accuracy": tstr["accuracy"] / trtr["accuracy"] if trtr["accuracy"] > 0 else float("nan"),
            **({"note": note} if note else {})}


__all__ = ["MANY_CLASSES_SHARE", "MODEL", "TEST_SHARE", "check_target", "default_target", "utility"]
