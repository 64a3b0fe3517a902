"""Scores from each method on the constructed case (normal = a blob, anomaly = the blob elsewhere):
AUROC ~ 1 through the protocol path, the same scores for the same seed, and one line for each input
a method cannot take."""

import numpy as np
import pytest
from blob_case import ANOMALY_AT, NORMAL_AT, blobs

from ganforge.anomaly import AnomalyError, evaluate, scorer
from ganforge.errors import DataError


@pytest.mark.parametrize("method", ["fanogan", "ganomaly", "anogan"])
def test_every_method_separates_the_blobs(opened, method):
    report = evaluate(opened(method))
    assert report["method"] == method and report["n_test"] == 80 and report["n_valid"] == 30
    assert report["auroc"] > 0.95, report
    assert report["pr_auc"] > 0.95 and report["f1"] > 0.6
    rows = {r["class"]: r for r in report["classes"]}
    assert rows["good"]["role"] == "normal" and rows["shifted"]["role"] == "anomalous"
    assert rows["shifted"]["mean_score"] > rows["good"]["mean_score"]


@pytest.mark.parametrize("method", ["fanogan", "anogan"])
def test_scores_and_maps_repeat_exactly_for_a_seed(opened, method):
    x = blobs(6, ANOMALY_AT, np.random.default_rng(1))
    run = opened(method)
    a, b = scorer(run, seed=3).score(x, batch_size=4), scorer(run, seed=3).score(x, batch_size=4)
    assert np.array_equal(a.score, b.score) and np.array_equal(a.residual, b.residual)
    assert a.residual.shape == (6, 16, 16) and 0 <= a.residual.min() and a.residual.max() <= 1


def test_the_residual_map_lights_up_where_the_anomaly_is(opened):
    """f-AnoGAN reconstructs through G, which draws only normal blobs. (GANomaly's autoencoder redraws the
    shifted blob too: its score is the code distance, not this map.)"""
    rng = np.random.default_rng(2)
    sc = scorer(opened("fanogan"))
    shifted, normal = sc.score(blobs(8, ANOMALY_AT, rng)).residual, sc.score(blobs(8, NORMAL_AT, rng)).residual
    region = (slice(None), slice(9, 14), slice(9, 14))  # where the shifted blob is and a normal one is not
    assert shifted[region].mean() > 2 * normal[region].mean(), (shifted[region].mean(), normal[region].mean())


def test_anogan_inverts_better_than_a_random_code(opened):
    """AnoGAN's search is what makes its score: more steps, closer reconstructions of normal images."""
    run = opened("anogan")
    x = blobs(8, NORMAL_AT, np.random.default_rng(3))
    run.config.anomaly.anogan_steps = 1
    one = scorer(run).score(x).score
    run.config.anomaly.anogan_steps = 60
    sixty = scorer(run).score(x).score
    assert sixty.mean() < 0.7 * one.mean(), (one.mean(), sixty.mean())


@pytest.mark.parametrize("shape", [(4, 1, 8, 8), (4, 3, 16, 16), (4, 16, 17)])
def test_images_of_another_size_or_channel_count_are_one_line(opened, one_line, shape):
    with pytest.raises(DataError) as e:
        scorer(opened("ganomaly")).score(np.zeros(shape, np.uint8))
    assert "trained on 1x16x16" in one_line(e)
    with pytest.raises(DataError) as e:
        scorer(opened("ganomaly")).score(np.zeros((4, 1, 16, 16), np.float32))
    assert "uint8" in one_line(e)


def test_a_ganomaly_run_given_to_anogan_scoring_is_one_line(opened, one_line):
    with pytest.raises(AnomalyError) as e:
        scorer(opened("ganomaly"), "anogan")
    assert "'ganomaly' run" in one_line(e) and "--method ganomaly" in one_line(e)
    with pytest.raises(AnomalyError) as e:
        scorer(opened("anogan"), "fanogan")
    assert "--method anogan" in one_line(e)
