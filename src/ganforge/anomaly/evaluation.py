"""Anomaly detection measured on a protocol: AUROC, PR-AUC and F1, with a threshold chosen blind.

The test split is scored once and only measured: nothing is chosen on it. The F1 threshold is
the ``anomaly.threshold_quantile`` quantile of the scores of the protocol's *validation*
split, which holds normal images only, so it is fixed before any anomaly is seen (0.95: 5%
of normal images flagged). AUROC and PR-AUC need no threshold; PR-AUC is the average
precision with anomalies as the positive class (scikit-learn's ``average_precision_score``,
as EGBAD reports it), so its chance level is the share of anomalies in the test split.

The report has one overall row and one row per class of the test split (its size, mean
score, and for an anomalous class the AUROC of that class against the normal images).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ganforge.anomaly.scoring import AnomalyError, scorer
from ganforge.data import Dataset, list_datasets, load_dataset
from ganforge.data.anomaly_protocols import PROTOCOLS, is_anomaly
from ganforge.errors import DataError, did_you_mean
from ganforge.runs.checkpoint import CHOSEN_BY_EVAL
from ganforge.runs.run import Run

SUBSET_SEED = 7  # the fixed subset drawn by --limit: the same images for every run and method


def detection_metrics(scores: np.ndarray, anomalous: np.ndarray, threshold: float,
                      limit: int | None = None) -> dict[str, float]:
    """AUROC, PR-AUC (anomalies positive) and F1 of ``scores > threshold``; ``limit``: the ``--limit`` that
    drew these test images, named in the error when they hold one kind only."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    bad = int((~np.isfinite(scores)).sum()) + int(not np.isfinite(threshold))
    if bad:  # scikit-learn would raise a traceback ("Input contains NaN")
        raise AnomalyError(f"{bad} of the scores (or the threshold) are NaN or infinite: the run's weights do not "
                           f"give finite scores; measure an earlier checkpoint with --checkpoint")
    if anomalous.all() or not anomalous.any():
        kind = "anomalous" if anomalous.all() else "normal"
        fix = (f"; raise --limit (this subset of {len(anomalous)} test images holds only {kind} ones)"
               if limit is not None else "")
        raise AnomalyError(f"the test images are all normal or all anomalous; AUROC needs both kinds{fix}")
    return {"auroc": float(roc_auc_score(anomalous, scores)),
            "pr_auc": float(average_precision_score(anomalous, scores)),
            "f1": float(f1_score(anomalous, scores > threshold)),
            "threshold": float(threshold),
            "anomaly_share": float(anomalous.mean())}


def per_class(scores: np.ndarray, data: Dataset, anomalous: np.ndarray) -> list[dict[str, Any]]:
    """One row per class of the test split: role, count, mean score, AUROC against the normal images."""
    # imported here, on first use: every ganforge command imports this module (plotting.py); sklearn.metrics ~1.3 s
    from sklearn.metrics import roc_auc_score

    names = data.meta.get("class_names") or [str(c) for c in range(int(data.y.max()) + 1)]
    y = data.y.numpy()
    normal = ~anomalous
    rows = []
    for c in np.unique(y):
        mine = y == c
        role = "anomalous" if anomalous[mine].all() else "normal"
        row = {"class": names[c], "role": role, "n": int(mine.sum()), "mean_score": float(scores[mine].mean())}
        if role == "anomalous":
            both = mine | normal
            row["auroc_vs_normal"] = float(roc_auc_score(anomalous[both], scores[both]))
        rows.append(row)
    return rows


def _subset(n: int, limit: int | None, anomalous: np.ndarray | None = None) -> np.ndarray:
    """The fixed subset ``--limit`` scores: ``limit`` of ``n`` images drawn by SUBSET_SEED. With ``anomalous``
    (the test split's labels), a draw that would hold one kind only while the split holds both (a small
    limit) is drawn per kind instead, in proportion and at least one of each, so that AUROC can be measured.
    A draw holding both kinds is kept as it is: every subset measured before this rule is unchanged."""
    if limit is None or limit >= n:
        return np.arange(n)
    picked = np.sort(np.random.default_rng(SUBSET_SEED).choice(n, limit, replace=False))
    if anomalous is None or limit < 2 or anomalous.all() or not anomalous.any():
        return picked
    if anomalous[picked].any() and not anomalous[picked].all():
        return picked
    rng = np.random.default_rng(SUBSET_SEED)
    members = [np.flatnonzero(~anomalous), np.flatnonzero(anomalous)]
    k_anom = min(len(members[1]), max(1, round(limit * anomalous.mean())), limit - 1)
    k_anom = max(k_anom, limit - len(members[0]))
    counts = [limit - k_anom, k_anom]
    return np.sort(np.concatenate([rng.choice(m, k, replace=False) for m, k in zip(members, counts)]))


def _is_protocol(name: str) -> bool:
    return name in PROTOCOLS or name.startswith("anomaly-folder:")


def _protocol_name(run: Run, protocol: str | None) -> str:
    """The protocol to evaluate on: the run's own training data, which must be a labelled protocol."""
    trained_on, known = run.config.data.name, ", ".join([*PROTOCOLS, "anomaly-folder:PATH"])
    name = protocol or trained_on
    if not _is_protocol(name):
        plain = [n.removesuffix(":PATH") for n in list_datasets()]
        if name.partition(":")[0] in plain:
            raise AnomalyError(f"dataset '{name}' has no anomaly labels, so eval has nothing to measure against; "
                               f"train and evaluate on a protocol whose test split is labelled: {known}")
        raise AnomalyError(f"unknown anomaly protocol '{name}'{did_you_mean(name, PROTOCOLS)}; valid protocols: "
                           f"{known}")
    if name != trained_on:
        raise AnomalyError(f"{run.path} was trained on '{trained_on}', not '{name}', so its training images may be "
                           f"test images of '{name}'; evaluate a run trained on '{name}' instead")
    return name


def evaluate(run: Run, protocol: str | None = None, *, method: str | None = None, seed: int = 0,
             data_dir: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Score ``run`` on its protocol's validation and test splits and measure the test split."""
    name = _protocol_name(run, protocol)
    cfg = run.config
    if cfg.data.split != "train":  # config validation refuses it now; a Run built another way may hold it
        raise AnomalyError(f"{run.path} was trained on {name}'s {cfg.data.split} split, whose images eval scores "
                           f"(the valid split fixes the threshold, the test split is measured); evaluate a run "
                           f"trained with data.split=train")
    # only in-training eval (eval.every) keeps one, on the test split; a copy elsewhere still says so inside
    if run.checkpoint.name == "best" or CHOSEN_BY_EVAL in run.state:
        raise AnomalyError(f"{run.checkpoint} was chosen by the in-training evaluation (eval.every) against "
                           f"{name}'s test split, so measuring it there reports a choice made on the test images; "
                           f"evaluate --checkpoint latest (or a step-NNNNNNN checkpoint) instead")
    options = {"resolution": cfg.data.resolution, "channels": cfg.data.channels, "digit": cfg.data.digit,
               "data_dir": data_dir}
    try:
        valid, test = (load_dataset(name, split=split, **options) for split in ("valid", "test"))
    except DataError as e:
        raise AnomalyError(f"cannot load protocol '{name}': {e}") from None
    anomalous = is_anomaly(test)
    sc = scorer(run, method, seed)
    keep_valid, keep_test = _subset(len(valid), limit), _subset(len(test), limit, anomalous)
    valid_scores = sc.score(valid.x.numpy()[keep_valid], where=f"{name} valid").score
    t0 = time.perf_counter()
    test_scores = sc.score(test.x.numpy()[keep_test], where=f"{name} test").score
    seconds = time.perf_counter() - t0
    threshold = float(np.quantile(valid_scores, cfg.anomaly.threshold_quantile))
    test_sub = Dataset(name=test.name, kind="image", x=test.x[keep_test], y=test.y[keep_test],
                       num_classes=test.num_classes, meta=test.meta)
    return {"protocol": name, "digit": cfg.data.digit, "method": sc.method, "run": str(run.path),
            "checkpoint": run.checkpoint.name, "step": run.step, "train_seed": cfg.seed, "seed": seed,
            "n_valid": len(keep_valid), "n_test": len(keep_test), "test_subset": limit is not None and
            len(keep_test) < len(test), "threshold_rule": f"quantile {cfg.anomaly.threshold_quantile} of the "
            f"valid (normal-only) scores", **detection_metrics(test_scores, anomalous[keep_test], threshold, limit),
            "test_images_per_s": len(keep_test) / max(seconds, 1e-9),
            "classes": per_class(test_scores, test_sub, anomalous[keep_test])}


def format_table(report: dict[str, Any]) -> str:
    """The report as Markdown: the overall figures, then the per-class table."""
    digit = f", digit {report['digit']}" if report.get("digit") is not None else ""
    head = (f"{report['method']} on {report['protocol']}{digit} ({report['n_test']} test images"
            f"{', a fixed subset' if report['test_subset'] else ''}; step {report['step']})\n\n"
            f"AUROC {report['auroc']:.4f} | PR-AUC {report['pr_auc']:.4f} (chance {report['anomaly_share']:.3f}) | "
            f"F1 {report['f1']:.4f} at threshold {report['threshold']:.5g} ({report['threshold_rule']})\n\n"
            "| class | role | n | mean score | AUROC vs normal |\n|---|---|---:|---:|---:|\n")
    rows = [f"| {r['class']} | {r['role']} | {r['n']} | {r['mean_score']:.5g} | "
            f"{r['auroc_vs_normal']:.4f} |" if "auroc_vs_normal" in r else
            f"| {r['class']} | {r['role']} | {r['n']} | {r['mean_score']:.5g} | |" for r in report["classes"]]
    return head + "\n".join(rows) + "\n"
