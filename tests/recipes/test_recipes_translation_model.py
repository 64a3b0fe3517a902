"""``translation_model.check_images``: the translators' one input check (uint8, (N, C, H, W), the run's
channels). Sizes are checked by the generator itself (its U-Net depth), so the check takes none. Memory: an image
that would not fit is refused in one line before any work, and a batch is split into passes that fit, with the
same output."""

import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

import ganforge
from ganforge.errors import DataError
from ganforge.recipes import translation_model
from ganforge.recipes.translation_model import check_images, largest_activation_per_pixel, translation_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from translation_data import QUIET, TINY_D, TINY_G, digits16, edges_npz  # noqa: E402


def test_check_images_takes_the_channels_and_no_size():
    assert list(inspect.signature(check_images).parameters) == ["x", "channels", "what"]
    x = np.zeros((2, 1, 16, 16), np.uint8)
    assert check_images(x, 1, "the input") is x
    with pytest.raises(DataError, match="the input has 1 channel"):
        check_images(x, 3, "the input")
    with pytest.raises(DataError, match="3 dimensions, not 4"):
        check_images(x[:, 0], 1, "the input")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny pix2pix run (grey -> grey, 16 px, U-Net of depth 4 and 4 channels), two steps."""
    root = tmp_path_factory.mktemp("translator")
    sets = ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET, f"data.name={edges_npz(root)}"]
    return ganforge.train("pix2pix-edges", out=root / "run", steps=2, set=sets).model


def test_an_image_too_large_for_the_memory_is_refused_in_one_line_before_any_work(model, monkeypatch):
    """With 40 MB free, a 1024x1024 input needs more than the half a command may hold: one line naming the need,
    what is free and a size that fits; the 16 px images still translate."""
    monkeypatch.setattr(translation_model, "available_memory", lambda: 40 * 2 ** 20)
    need = translation_bytes(largest_activation_per_pixel(model.nets["G"], (1, 16, 16)), 1024, 1024)
    assert need > 20 * 2 ** 20
    with pytest.raises(DataError) as info:
        model.translate(np.zeros((1, 1, 1024, 1024), np.uint8))
    message = str(info.value)
    assert "\n" not in message and "1024x1024 images need about" in message and "40.0 MB is free" in message
    assert "resize the input to about" in message
    assert model.translate(digits16(2)[0]).shape == (2, 1, 16, 16)


def test_a_batch_is_split_into_passes_that_fit_with_the_same_output(model, monkeypatch):
    """Room for three 64x64 images a pass: 10 images translate in four passes, as one pass would translate them."""
    x = np.kron(digits16(10)[0], np.ones((1, 1, 4, 4), np.uint8))  # 64 px
    whole = model.translate(x)
    per_image = translation_bytes(largest_activation_per_pixel(model.nets["G"], (1, 16, 16)), 64, 64)
    monkeypatch.setattr(translation_model, "available_memory", lambda: int(2 * 3.5 * per_image))
    passes = []
    G = model.nets["G"]
    hook = G.register_forward_hook(lambda m, i, o: passes.append(len(i[0])))
    try:
        split = model.translate(x)
    finally:
        hook.remove()
    assert passes == [3, 3, 3, 1] and np.array_equal(split, whole)
