"""``translation_model.check_images``: the translators' one input check (uint8, (N, C, H, W), the run's
channels). Sizes are checked by the generator itself (its U-Net depth), so the check takes none."""

import inspect

import numpy as np
import pytest

from ganforge.errors import DataError
from ganforge.recipes.translation_model import check_images


def test_check_images_takes_the_channels_and_no_size():
    assert list(inspect.signature(check_images).parameters) == ["x", "channels", "what"]
    x = np.zeros((2, 1, 16, 16), np.uint8)
    assert check_images(x, 1, "the input") is x
    with pytest.raises(DataError, match="the input has 1 channel"):
        check_images(x, 3, "the input")
    with pytest.raises(DataError, match="3 dimensions, not 4"):
        check_images(x[:, 0], 1, "the input")
