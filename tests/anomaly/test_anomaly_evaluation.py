"""Protocol metrics: AUROC/PR-AUC/F1 from scikit-learn on known cases, a threshold from normal
validation scores only, and one line for evaluating what has no anomaly labels."""

import numpy as np
import pytest

from ganforge.anomaly import AnomalyError, detection_metrics, evaluate, format_table
from ganforge.anomaly.evaluation import _protocol_name
from ganforge.runs.checkpoint import CHOSEN_BY_EVAL


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


def test_a_checkpoint_chosen_by_in_training_eval_is_refused_under_any_name(opened, one_line):
    """Only the name "best" was checked: the same checkpoint copied to checkpoints/step-0000099 was measured
    on the test split it had been chosen on. The choice is recorded inside it (state.json)."""
    run = opened("ganomaly")
    run.state[CHOSEN_BY_EVAL] = {"key": "fid", "value": 1.0, "step": 4}
    with pytest.raises(AnomalyError) as e:
        evaluate(run, limit=20)
    assert "was chosen by the in-training evaluation (eval.every)" in one_line(e)


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


def test_non_finite_scores_are_one_line_not_scikit_learns_traceback(one_line):
    anomalous = np.array([0, 1, 0, 1], bool)
    with pytest.raises(AnomalyError) as e:
        detection_metrics(np.array([0.1, np.nan, 0.2, 0.3]), anomalous, threshold=0.5)
    assert "NaN or infinite" in one_line(e) and "--checkpoint" in one_line(e)


def test_a_limit_holding_one_kind_names_the_fix(one_line):
    with pytest.raises(AnomalyError) as e:
        detection_metrics(np.array([0.1, 0.2]), np.array([1, 1], bool), threshold=0.5, limit=2)
    assert "raise --limit (this subset of 2 test images holds only anomalous ones)" in one_line(e)
    with pytest.raises(AnomalyError) as e:  # no --limit: nothing to raise
        detection_metrics(np.array([0.1, 0.2]), np.array([1, 1], bool), threshold=0.5)
    assert "--limit" not in one_line(e)


def test_a_small_limit_holds_both_kinds_and_a_large_one_is_the_plain_draw():
    """--limit 3 on a test split 90% anomalies drew anomalies only (and AUROC was refused); the subset is drawn
    per kind when the plain draw holds one kind only. A draw that holds both is the same as before the rule,
    so every limited figure measured before it (AnoGAN's --limit 300 in benchmarks.md) is unchanged."""
    from ganforge.anomaly.evaluation import SUBSET_SEED, _subset

    anomalous = np.zeros(1000, bool)
    anomalous[100:] = True
    for limit in range(2, 40):
        picked = _subset(1000, limit, anomalous)
        assert len(picked) == len(set(picked)) == limit and anomalous[picked].any() and not anomalous[picked].all()
        assert np.array_equal(picked, _subset(1000, limit, anomalous))  # fixed
    plain = np.sort(np.random.default_rng(SUBSET_SEED).choice(1000, 300, replace=False))
    assert np.array_equal(_subset(1000, 300, anomalous), plain) and np.array_equal(_subset(1000, 300), plain)


def test_eval_with_a_limit_of_two_measures(opened):
    report = evaluate(opened("ganomaly"), limit=2)
    assert report["n_test"] == 2 and 0 <= report["auroc"] <= 1


@pytest.mark.parametrize("split", ["test", "valid"])
def test_a_run_trained_on_another_split_than_train_is_refused(opened, one_line, split):
    """A run trained with data.split=test (90% anomalies on mnist-one-normal) was measured on the very images
    it was trained on, and one on valid had its threshold fixed on its training images. Config validation
    refuses such a run now; evaluate refuses one made before (or built another way) before scoring."""
    run = opened("ganomaly")
    run.config.data.split = split
    with pytest.raises(AnomalyError) as e:
        evaluate(run, limit=20)
    line = one_line(e)
    assert f"was trained on {run.config.data.name}'s {split} split" in line and "data.split=train" in line
