"""The fixed downstream classifiers: seeded, leaving the caller's RNG alone; unknown shapes in one line."""

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.synthetic import classifier

RECIPE = classifier.RECIPES["cnn-digits"]


@pytest.fixture(scope="module")
def digits():
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    return train.x.numpy(), train.y.numpy(), test.x.numpy(), test.y.numpy()


def test_no_recipe_for_an_unknown_shape_is_one_line():
    with pytest.raises(GanforgeError, match="no downstream classifier recipe for 10-class images of shape 3x32x32"):
        classifier.recipe_for((3, 32, 32), 10)


def test_training_is_seeded_and_leaves_the_global_rng_alone(digits):
    rx, ry, tx, ty = digits
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = classifier.predict(classifier.train(RECIPE, rx[:300], ry[:300], seed=4), tx)
    after = torch.rand(1)
    b = classifier.predict(classifier.train(RECIPE, rx[:300], ry[:300], seed=4), tx)
    assert torch.equal(before, after) and np.array_equal(a, b)

