"""``ganforge eval`` on a semi-supervised run: an accuracy split its dataset lacks, and a label seed named
for a run that used every label, are refused in one line before anything is measured."""

import pytest

from ganforge.cli import main
from one_line import fails

TINY = ["--steps", "1", "--set", "data.name=digits", "--set", "train.batch_size=30", "--set", "model.g.hidden=[16]",
        "--set", "model.d.hidden=[32,16]", "--set", "log.tensorboard=false", "--set", "log.progress=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two digits runs: 3 labels per class (label seed 0), and every label."""
    root = tmp_path_factory.mktemp("ssl-eval")
    assert main(["train", "ssgan-mnist-100", "--out", str(root / "few"), *TINY, "--set", "data.labels_per_class=3"]) == 0
    assert main(["train", "ssgan-mnist-100", "--out", str(root / "all"), *TINY,
                 "--set", "data.labels_per_class=null"]) == 0
    return root


def test_acc_valid_on_a_dataset_without_a_valid_split_is_refused_naming_its_splits(runs, capsys):
    """Digits has no valid split: the registry's refusal hinted at 'all', which holds the training images."""
    capsys.readouterr()
    for metrics in ("acc_valid", "acc_test,acc_valid"):
        err = fails(capsys, ["eval", runs / "few", "--metrics", metrics], "dataset 'digits' has no valid split",
                    "(its splits: train, test, all)", "checkpoint selection needs a held-out labelled split",
                    "measure acc_test instead")
        assert "did you mean" not in err
    assert not (runs / "few" / "eval").exists()  # nothing measured, nothing written


def test_a_label_seed_named_for_a_run_with_every_label_is_refused(runs, capsys):
    """acc_test_alllabels_seed7 was accepted and reported as acc_test_alllabels, the seed ignored."""
    capsys.readouterr()
    fails(capsys, ["eval", runs / "all", "--metrics", "acc_test_alllabels_seed7"],
          "trained with every label", "cannot measure acc_test_alllabels_seed7; ask for acc_test_alllabels")
    assert main(["eval", str(runs / "all"), "--metrics", "acc_test_alllabels"]) == 0
    assert "acc_test_alllabels" in capsys.readouterr().out
