"""A held-out split's images compared with the training images by content: a split that holds the training
data is refused in one line naming how many it holds, a few exact duplicates pass with a warning."""

import pytest
import torch

from ganforge.data import Dataset, load_dataset
from ganforge.data.split_overlap import FEW, check_unseen, shared_images
from ganforge.errors import DataError


def _images(x: torch.Tensor) -> Dataset:
    return Dataset(name="t", kind="image", x=x)


def test_splits_that_contain_the_training_split_share_its_images_and_true_held_out_splits_none():
    train, test, every = (load_dataset("digits", split=s) for s in ("train", "test", "all"))
    assert shared_images(test, train) == 0  # split by a permutation: no image in both
    assert shared_images(test, every) == 297 and shared_images(every, train) == 1500  # `all` holds both
    assert shared_images(load_dataset("digits", split="test", resolution=16), train) == 0  # other shapes: none


def test_a_held_out_split_holding_training_images_is_refused_naming_how_many_and_the_fix():
    train, every = load_dataset("digits", split="train"), load_dataset("digits", split="all")
    with pytest.raises(DataError) as e:
        check_unseen(every, train, what="the held-out split digits (all)", trained="r trained on (digits, train)",
                     fix="pass another --holdout-split")
    assert str(e.value) == ("the held-out split digits (all): 1500 of its 1797 images (83%) are images r trained "
                            "on (digits, train); pass another --holdout-split")
    assert check_unseen(load_dataset("digits", split="test"), train, what="w", trained="t", fix="f") == 0


def test_a_few_exact_duplicates_pass_with_a_warning_and_one_more_is_refused(capsys):
    g = torch.Generator().manual_seed(0)
    train = _images(torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8, generator=g))
    fresh = torch.randint(0, 256, (100, 1, 4, 4), dtype=torch.uint8, generator=g)
    few = _images(torch.cat([fresh[:100 - FEW], train.x[:FEW]]))
    assert check_unseen(few, train, what="held", trained="t", fix="f") == FEW
    assert f"held: {FEW} of its 100 images are also training images" in capsys.readouterr().err
    with pytest.raises(DataError, match=f"{FEW + 1} of its 100 images"):
        check_unseen(_images(torch.cat([fresh[:100 - FEW - 1], train.x[:FEW + 1]])), train, what="held",
                     trained="t", fix="f")
