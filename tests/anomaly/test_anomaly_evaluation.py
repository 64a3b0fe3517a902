"""Protocol metrics: AUROC/PR-AUC/F1 from scikit-learn on known cases, a threshold from normal
validation scores only, and one line for evaluating what has no anomaly labels."""

import numpy as np
import pytest

from ganforge.anomaly import AnomalyError, detection_metrics, evaluate, format_table
from ganforge.anomaly.evaluation import _protocol_name


def test_perfectly_separated_scores_give_one_and_chance_is_the_anomaly_share():
    anomalous = np.array([0, 0, 0, 1, 1, 0, 1, 0], bool)
    m = detection_metrics(np.where(anomalous, 5.0, 1.0), anomalous, threshold=3.0)
    assert m["auroc"] == m["pr_auc"] == m["f1"] == 1.0 and m["anomaly_share"] == 3 / 8
    flipped = detection_metrics(np.where(anomalous, 1.0, 5.0), anomalous, threshold=3.0)
    assert flipped["auroc"] == 0.0 and flipped["f1"] == 0.0
    # arange(8) > 3.5 flags images 4..7: 2 true positives, 2 false positives, 1 anomaly missed
    f1 = detection_metrics(np.arange(8.0), anomalous, threshold=3.5)["f1"]
    assert f1 == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))


def test_the_threshold_comes_from_validation_not_test(opened):
    run = opened("ganomaly")
    report = evaluate(run)
    run.config.anomaly.threshold_quantile = 0.5
    lower = evaluate(run)
    assert lower["threshold"] < report["threshold"] and lower["auroc"] == report["auroc"]
    assert "valid (normal-only)" in report["threshold_rule"]
    text = format_table(report)
    assert "| shifted | anomalous | 40 |" in text and "AUROC" in text


def test_a_limit_scores_a_fixed_subset(opened):
    a, b = evaluate(opened("ganomaly"), limit=20), evaluate(opened("ganomaly"), limit=20)
    assert a["n_test"] == 20 and a["test_subset"] and a["auroc"] == b["auroc"]


def test_eval_without_labels_or_on_an_unknown_or_other_protocol_is_one_line(opened, one_line):
    run = opened("ganomaly")
    with pytest.raises(AnomalyError) as e:
        _protocol_name(run, "mnist")
    assert "has no anomaly labels" in one_line(e)
    with pytest.raises(AnomalyError) as e:
        _protocol_name(run, "mnist-one-normall")
    assert "unknown anomaly protocol" in one_line(e) and "did you mean 'mnist-one-normal'" in one_line(e)
    with pytest.raises(AnomalyError) as e:
        _protocol_name(run, "mnist-one-anomalous")
    assert "was trained on 'anomaly-folder:" in one_line(e)
    run.config.data.name = "digits"
    with pytest.raises(AnomalyError) as e:
        evaluate(run)
    assert "'digits' has no anomaly labels" in one_line(e)
