"""Scores from each method on the constructed case (normal = a blob, anomaly = the blob elsewhere):
AUROC ~ 1 through the protocol path, the same scores for the same seed, and one line for each input
a method cannot take."""

import numpy as np
import pytest
import torch
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


def _scorer_with(run, **anomaly):
    """The run's scorer after setting these anomaly.* keys on its config (the scorer reads them when made)."""
    for key, value in anomaly.items():
        setattr(run.config.anomaly, key, value)
    return scorer(run)


def test_anogan_inverts_better_than_a_random_code(opened):
    """AnoGAN's search is what makes its score: more steps, closer reconstructions of normal images."""
    run = opened("anogan")
    x = blobs(8, NORMAL_AT, np.random.default_rng(3))
    one, sixty = (_scorer_with(run, anogan_steps=n).score(x).score for n in (1, 60))
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


def _features(D, x):
    return D.features(x).flatten(1)


def test_fanogan_kappa_adds_kappa_times_the_feature_term(opened):
    """score(kappa) - score(0) = kappa * MSE(f(x), f(G(E(x)))), the feature term computed here from the nets."""
    run = opened("fanogan")
    x = blobs(5, ANOMALY_AT, np.random.default_rng(4))
    plain = _scorer_with(run, kappa=0.0).score(x).score
    sc = _scorer_with(run, kappa=2.5)
    weighted = sc.score(x).score
    D, E, G = run.model.nets["D"], run.model.encoder, run.model.generator
    with torch.no_grad():
        t = sc.to_model(x[:, None])
        feature = (_features(D, t) - _features(D, G(E(t)))).pow(2).mean(1).double().numpy()
    assert (feature > 0).all()
    np.testing.assert_allclose(weighted - plain, 2.5 * feature, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_the_anogan_score_is_the_lambda_weighted_loss_at_the_found_code(opened, lam):
    """lambda 0: the residual sum |x - G(z)| alone; lambda 1: the discrimination sum |f(x) - f(G(z))| alone."""
    run = opened("anogan")
    run.config.anomaly.anogan_steps, run.config.anomaly.anogan_lambda = 2, lam
    sc = scorer(run)
    t = sc.to_model(blobs(4, ANOMALY_AT, np.random.default_rng(5))[:, None])
    loss, rec = sc.score_batch(t, 0)
    D = run.model.nets["D"]
    with torch.no_grad():
        residual = (t - rec).abs().flatten(1).sum(1)
        discrimination = (_features(D, t) - _features(D, rec)).abs().sum(1)
    expected = (1 - lam) * residual + lam * discrimination
    assert not torch.allclose(residual, discrimination, rtol=1e-2)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def test_anogan_scores_depend_on_the_seed(opened):
    """The starting codes come from ``seed``: another seed starts (and so ends) the search elsewhere."""
    run = opened("anogan")
    run.config.anomaly.anogan_steps = 2
    x = blobs(4, NORMAL_AT, np.random.default_rng(6))
    a, b = scorer(run, seed=1).score(x).score, scorer(run, seed=2).score(x).score
    assert not np.allclose(a, b), (a, b)


def test_an_anogan_score_is_the_images_own_wherever_it_stands(opened):
    """The search's starting codes were drawn per batch from its start index, so an image scored alone (as
    serve's /v1/score does), in another batch size or at another place got another score."""
    run = opened("anogan")
    run.config.anomaly.anogan_steps = 2
    x = blobs(5, NORMAL_AT, np.random.default_rng(8))
    sc = scorer(run, seed=3)
    together = sc.score(x).score
    np.testing.assert_allclose(sc.score(x, batch_size=2).score, together, rtol=1e-5)
    np.testing.assert_allclose(sc.score(x[3:4]).score, together[3:4], rtol=1e-5)
    np.testing.assert_allclose(sc.score(x[::-1]).score, together[::-1], rtol=1e-5)


def test_the_residual_map_is_the_pixel_difference_in_units_of_the_image_range(opened):
    """residual = |x/255 - (rec - lo)/(hi - lo)| averaged over channels, computed here from G(E(x))."""
    run = opened("fanogan")
    x = blobs(5, ANOMALY_AT, np.random.default_rng(7))
    sc = scorer(run)
    res = sc.score(x).residual
    lo, hi = run.model.generator.output_range
    with torch.no_grad():
        t = sc.to_model(x[:, None])
        rec = run.model.generator(run.model.encoder(t))
    rec01 = ((rec - lo) / (hi - lo)).double().numpy()
    expected = np.abs(x[:, None] / 255.0 - rec01).mean(1)
    assert expected.max() > 0.2  # the shifted blob is not reconstructed: a residual to measure
    np.testing.assert_allclose(res, expected, atol=1 / 255)


def test_anogan_leaves_the_runs_requires_grad_as_it_found_it(opened):
    """The search freezes G and D to optimise z only; an API user's nets keep their own flags afterwards
    (they were left frozen)."""
    run = opened("anogan")
    run.config.anomaly.anogan_steps = 2
    G, D = run.model.generator, run.model.nets["D"]
    G.requires_grad_(True)
    D.requires_grad_(True)
    next(D.parameters()).requires_grad_(False)  # a mixed state comes back as it was, too
    before = [p.requires_grad for net in (G, D) for p in net.parameters()]
    scorer(run, "anogan").score(blobs(2, NORMAL_AT, np.random.default_rng(0)))
    assert [p.requires_grad for net in (G, D) for p in net.parameters()] == before
