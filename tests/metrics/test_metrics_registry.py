"""Metric names: resolution of partial names, protocol labels, validation and directions."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.errors import GanforgeError
from ganforge.metrics import Evaluator, MetricError, higher_is_better
from ganforge.metrics.modes import format_count
from ganforge.metrics.registry import DatasetInfo, resolve

DIGITS = DatasetInfo(name="digits", kind="image", splits=("train", "test", "all"), default_judge="lenet8",
                     num_classes=10, reference_size={"train": 1500, "test": 297, "all": 1797}.__getitem__)
RING = DatasetInfo(name="ring8", kind="points", splits=("train", "test"), meta={"centers": [[1, 0]], "std": 0.01})
FOLDER = DatasetInfo(name="folder:/x", kind="image", splits=("train",))


@pytest.mark.parametrize("given, full", [
    ("fid", "fid10k_test_lenet8"),
    ("FID10k", "fid10k_test_lenet8"),
    ("fid_train", "fid10k_train_lenet8"),
    ("kid5k_all", "kid5k_all_lenet8"),
    ("fid2500_inception", "fid2500_test_inception"),
    ("parzen", "parzen10k_test"),
    ("is", "is10k_lenet8"),
    ("pr", "pr297_test_lenet8"),  # n samples against as many reference images: capped at the split
    ("dc_train", "dc1500_train_lenet8"),
    ("pr200", "pr200_test_lenet8"),
    ("modes", "modes10k_lenet8"),
])
def test_partial_names_resolve_to_full_protocol_labels(given, full):
    assert resolve(given, DIGITS).name == full


def test_counts_follow_n_and_available_samples():
    assert resolve("fid", DIGITS, n=2000).name == "fid2k_test_lenet8"
    assert resolve("fid", DIGITS, available=1234).name == "fid1234_test_lenet8"
    assert resolve("modes", RING).name == "modes2500_3std"
    assert resolve("modes", RING, n=1000).name == "modes1k_3std"
    assert resolve("modes_2.5std", RING).name == "modes2500_2.5std"
    assert [format_count(n) for n in (297, 1000, 2500, 26000, 10_000)] == ["297", "1k", "2500", "26k", "10k"]


@pytest.mark.parametrize("name, fragment", [
    ("fdi", "did you mean 'fid'"),
    ("fid_tset", "did you mean 'test'"),
    ("fid_lenett", "did you mean 'lenet'"),
    ("pr1k", "has only 297"),
    ("modes_3std", "2-D mixtures only"),
    ("10k", "unknown metric"),
])
def test_bad_names_say_what_to_write(name, fragment, one_line):
    with pytest.raises(MetricError) as e:
        resolve(name, DIGITS)
    assert fragment in one_line(e)


def test_metric_and_data_must_fit(one_line):
    with pytest.raises(MetricError, match="applies to image data") as e:
        resolve("fid", RING)
    one_line(e)
    with pytest.raises(MetricError, match="judges classify images"):
        resolve("modes_lenet", RING)
    with pytest.raises(MetricError, match="no ganforge judge.*inception"):
        resolve("fid", FOLDER)
    assert resolve("fid_inception", FOLDER).name == "fid10k_train_inception"
    with pytest.raises(MetricError, match="needs 20000 samples, and only 500"):
        resolve("fid20k", DIGITS, available=500)


def test_directions_are_declared_per_value():
    assert higher_is_better("fid10k_test_lenet") is False
    assert higher_is_better("parzen10k_test") is True
    assert higher_is_better("parzen10k_test.se") is None
    assert higher_is_better("pr10k_test_lenet.recall") is True
    assert higher_is_better("modes26k_lenet.reverse_kl") is False
    with pytest.raises(MetricError, match="has no value 'recal'"):
        higher_is_better("pr10k_test_lenet.recal")
    with pytest.raises(MetricError):
        higher_is_better("nonsense")


def test_evaluator_exposes_what_it_will_measure():
    ev = Evaluator("ring8", ["modes", "modes1k_2std", "modes2500_3std"])
    assert ev.names == ["modes2500_3std", "modes1k_2std"]  # duplicates after resolution are dropped
    assert ev.num_samples == 2500 and ev.primary == "modes2500_3std"
    assert ev.directions["modes1k_2std.reverse_kl"] == "lower"


def test_metrics_that_choose_a_checkpoint_never_choose_it_on_the_test_split(one_line):
    """In-training eval kept checkpoints/best by the dataset's first default, Parzen, on the test split: the
    split the final figures are reported on. Selecting metrics default to valid (else train), a test-split
    first metric is refused, and the best is kept by the first directed metric other than Parzen."""
    mnist = DatasetInfo(name="mnist", kind="image", splits=("train", "valid", "test", "train60k"), default_judge="lenet")
    assert resolve("fid", DatasetInfo(**{**vars(mnist), "selecting": True})).ref == "valid"
    assert resolve("fid", DatasetInfo(**{**vars(DIGITS), "selecting": True})).ref == "train"
    assert resolve("fid", DIGITS).ref == "test"  # ganforge eval, after training: the test split
    chosen = Evaluator("digits", None, n=100, selecting=True)
    assert not [name for name in chosen.names if "_test" in name]
    assert chosen.primary == "fid100_train_lenet8" and chosen.names[0].startswith("parzen")
    with pytest.raises(MetricError) as e:
        Evaluator("digits", ["fid_test", "kid"], n=100, selecting=True)
    assert "keeps checkpoints/best by fid100_test_lenet8, measured against the test split" in one_line(e)
    assert "e.g. fid_train" in one_line(e)
    assert Evaluator("digits", ["kid", "fid_test"], n=100, selecting=True).primary == "kid100_train_lenet8"


def test_evaluator_checks_the_samples(one_line):
    ev = Evaluator("ring8", "modes100")
    with pytest.raises(GanforgeError, match=r"float points \(N, 2\)") as e:
        ev(np.zeros((100, 3), np.float32))
    one_line(e)
    with pytest.raises(GanforgeError, match="need 100 samples, got 10"):
        ev(np.zeros((10, 2), np.float32))
    with pytest.raises(GanforgeError, match="NaN"):
        ev(np.full((100, 2), np.nan, np.float32))
    values = ev(lambda n: np.zeros((n, 2), np.float32))  # a sampler function is called with num_samples
    assert set(values) == {"modes100_3std", "modes100_3std.reverse_kl", "modes100_3std.high_quality"}


def test_image_samples_must_be_uint8_of_the_data_shape(one_line):
    ev = Evaluator("digits", "parzen50")
    with pytest.raises(GanforgeError, match="uint8 images") as e:
        ev(np.zeros((50, 1, 8, 8), np.float32))
    assert "astype(np.uint8)" in one_line(e)
    with pytest.raises(GanforgeError, match=r"\(N, 1, 8, 8\)"):
        ev(np.zeros((50, 1, 28, 28), np.uint8))


def test_a_dataset_without_a_judge_defaults_to_parzen(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (40, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x)
    ev = Evaluator(f"npz:{tmp_path / 'd.npz'}", available=40)
    assert ev.names == ["parzen40_train"]
    values = ev(x[:, None])
    assert np.isfinite(values["parzen40_train"]) and values["parzen40_train.sigma"] == 0.1
    # the value is the Parzen log-likelihood of the first 32 images (uint8 / 255) under kernels at the 40
    # samples; sigma was chosen on the last 8, held out of the report (the only split is the reported one)
    from ganforge.metrics import parzen

    flat = x.reshape(40, -1).astype(np.float32) / 255
    assert parzen.select_sigma(flat, flat[32:])[0] == 0.1
    mean, se = parzen.parzen_log_likelihood(flat, flat[:32], 0.1)
    assert values["parzen40_train"] == pytest.approx(mean, rel=1e-5)
    assert values["parzen40_train.se"] == pytest.approx(se, rel=1e-4)


def test_no_default_metrics_for_unlabelled_points(tmp_path, one_line):
    np.savez(tmp_path / "p.npz", x=np.zeros((10, 2), np.float32))
    with pytest.raises(MetricError, match="no default metrics") as e:
        Evaluator(f"npz:{tmp_path / 'p.npz'}")
    one_line(e)


@pytest.mark.parametrize("name, n, available, fragment", [
    ("pr", 3, None, "metric 'pr' needs at least 4 samples (each sample's 3 nearest neighbours besides itself), "
                    "got --n 3; pass --n 4 or more"),
    ("dc", None, 5, "metric 'dc' needs at least 6 samples (each sample's 5 nearest neighbours besides itself), "
                    "got 5 samples; give at least 6 samples"),
    ("pr3", None, None, "metric 'pr3' needs at least 4 samples"),
])
def test_nearest_neighbour_metrics_refuse_too_few_samples(name, n, available, fragment, one_line):
    # probe C, item 2: these crashed in prdc.knn_radii (a ValueError traceback) with 2..k samples
    with pytest.raises(MetricError) as e:
        resolve(name, DIGITS, n=n, available=available)
    assert fragment in one_line(e)
    assert resolve("pr", DIGITS, n=4).count == 4 and resolve("dc", DIGITS, available=6).count == 6


def test_default_metrics_on_too_few_samples_name_the_least_count(one_line):
    with pytest.raises(MetricError) as e:
        Evaluator("digits", n=3)
    assert ("--n 3 is too few for the default metrics 'is', 'pr' and 'dc': 'is' needs at least 20 (10 splits "
            "of at least 2); 'pr' needs at least 4 (each sample's 3 nearest neighbours besides itself); 'dc' needs "
            "at least 6 "
            "(each sample's 5 nearest neighbours besides itself); pass --n 20 or more, or leave 'is', 'pr' and 'dc' "
            "out with --metrics parzen,fid,kid") in one_line(e)
    with pytest.raises(MetricError) as e:
        Evaluator("digits", available=19)
    assert "19 samples are too few for the default metric 'is': 'is' needs at least 20" in one_line(e)
    assert "give at least 20 samples, or leave 'is' out with --metrics parzen,fid,kid,pr,dc" in one_line(e)
    assert Evaluator("digits", n=20).names[-2:] == ["pr20_test_lenet8", "dc20_test_lenet8"]
    assert Evaluator("digits", ["fid", "pr", "dc"], n=6).names[-2:] == ["pr6_test_lenet8", "dc6_test_lenet8"]


# --- a judge that cannot read the data, refused by name before any sample is drawn (probe F) ---------------

MNIST = DatasetInfo(name="mnist", kind="image", splits=("train", "valid", "test"), default_judge="lenet",
                    shape=(1, 28, 28))


@pytest.mark.parametrize("info, name, fix", [
    (DatasetInfo(**{**vars(DIGITS), "shape": (1, 8, 8)}), "fid_lenet", "write fid_lenet8 (the judge for digits)"),
    (MNIST, "fid_cnn-cifar10jpeg", "write fid_lenet (the judge for mnist)"),
    (MNIST, "pr2k_cnn-cifar10", "write pr_lenet (the judge for mnist)"),
    # mnist resized to 32x32 (data.resolution): its own judge reads 28x28, so only the InceptionV3 fits
    (DatasetInfo(**{**vars(MNIST), "shape": (1, 32, 32)}), "kid", "write kid_inception (the FID InceptionV3"),
])
def test_a_judge_that_cannot_read_the_data_is_refused_naming_one_that_can(info, name, fix):
    with pytest.raises(MetricError) as e:
        resolve(name, info)
    msg = str(e.value)
    assert "\n" not in msg and fix in msg and f"metric '{name}'" in msg
    assert f"holds {'x'.join(map(str, info.shape))} images" in msg


def test_judges_that_read_the_data_resolve_as_before():
    stacked = DatasetInfo(name="stacked-mnist", kind="image", splits=("train", "test"), default_judge="lenet",
                          shape=(3, 28, 28))
    assert resolve("modes", stacked).judge == "lenet"  # a 1-channel judge reads each channel
    assert resolve("fid_inception", DatasetInfo(**{**vars(DIGITS), "shape": (1, 8, 8)})).judge == "inception"
    assert resolve("fid_lenet", DIGITS).judge == "lenet"  # shape unknown: not checked


def test_a_count_beyond_the_samples_suggests_one_the_split_also_holds():
    # probe F item 5: pr1k on 500 samples suggested pr500, which digits' 297 test images then refused
    with pytest.raises(MetricError, match=r"\(e\.g\. pr297\)"):
        resolve("pr1k", DIGITS, available=500)
    with pytest.raises(MetricError, match=r"\(e\.g\. fid500\)"):  # an unpaired metric: the samples alone
        resolve("fid1k", DIGITS, available=500)


def test_bytes_per_sample_counts_what_the_metrics_hold():
    from ganforge.metrics.registry import bytes_per_sample
    digits = DatasetInfo(**{**vars(DIGITS), "shape": (1, 8, 8)})
    samples = 2 * 64  # the drawn chunks and their concatenation, uint8
    judged = bytes_per_sample([resolve("is", digits)], digits)
    assert judged == samples + 2 * 4 * (64 + 10)  # lenet8: 64 features and 10 logits, float32, twice
    assert bytes_per_sample([resolve("fid", digits)], digits) == judged + 2 * 8 * 64  # float64 copies
    assert bytes_per_sample([resolve("parzen", digits)], digits) > 10 * judged  # a block of distances per centre
    ring = DatasetInfo(**{**vars(RING), "shape": (2,), "meta": {"centers": [[1, 0]] * 8, "std": 0.01}})
    grid = DatasetInfo(**{**vars(ring), "meta": {"centers": [[1, 0]] * 25, "std": 0.01}})
    assert bytes_per_sample([resolve("modes", grid)], grid) - bytes_per_sample([resolve("modes", ring)], ring) \
        == 8 * 17 * 3  # N x K x D differences and N x K distances, float64
