"""The one SR degradation: antialiased bicubic shrinking (Pillow's BICUBIC within a grey level almost
everywhere: data/superres.py), a bicubic baseline whose LR-consistency is exact where a cubic kernel must
be exact, and the held-out photos."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.superres import PHOTOS, TILE, bicubic_up, downsample, photos, tiles, training_photos
from ganforge.errors import DataError


def test_downsample_matches_pillows_antialiased_bicubic():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    ours = downsample(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255, 4)
    ours = (ours[0].permute(1, 2, 0).numpy() * 255).round()
    pil = np.asarray(Image.fromarray(img).resize((12, 16), Image.BICUBIC)).astype(float)
    assert ours.shape == pil.shape and np.abs(ours - pil).max() <= 1  # Pillow rounds between its two passes


def test_downsample_quantises_to_uint8_levels_and_refuses_uneven_sizes():
    lr = downsample(torch.rand(2, 3, 16, 8), 2)
    assert lr.shape == (2, 3, 8, 4) and torch.equal(lr * 255, (lr * 255).round())
    with pytest.raises(DataError, match="multiple of 4"):
        downsample(torch.rand(1, 3, 10, 8), 4)


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_lr_consistency_is_exact_on_constant_images(scale):
    lr = torch.full((1, 3, 9, 7), 97 / 255)
    assert torch.equal(downsample(bicubic_up(lr, scale), scale), lr)


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_lr_consistency_is_exact_on_ramps_away_from_the_border(scale):
    """Both kernels are symmetric and sum to one, so a linear ramp survives up-then-down exactly; only the
    border (where the image is extended by replication) differs."""
    ramp = (torch.arange(24.0) * 10 + 5) / 255  # integer grey levels 5, 15, ..., 235
    lr = ramp.view(1, 1, 1, 24).expand(1, 1, 20, 24).contiguous()
    back = downsample(bicubic_up(lr, scale), scale)
    inner = (slice(None), slice(None), slice(None), slice(3, -3))
    assert torch.equal(back[inner], lr[inner])
    assert not torch.equal(back, lr)  # the border is where it may not be exact, and is not


def test_bicubic_lr_consistency_is_not_exact_on_textures():
    lr = downsample(torch.rand(1, 3, 64, 64), 4)
    assert (downsample(bicubic_up(lr, 4), 4) - lr).abs().max() > 2 / 255  # bicubic loses detail


def test_photos_are_the_bundled_rgb_photos():
    found = photos()
    assert [name for name, _ in found] == ["motorcycle" if p == "stereo_motorcycle" else p for p in PHOTOS]
    assert all(img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 for _, img in found)


def test_skimage_photos_is_a_test_split_only():
    data = load_dataset("skimage-photos", split="test", resolution=64)
    assert data.x.shape == (len(PHOTOS), 3, 64, 64) and data.x.dtype == torch.uint8
    with pytest.raises(DataError, match="no split 'train'"):
        load_dataset("skimage-photos")


def test_photo_tiles_are_training_photos_none_of_them_a_test_photo():
    names = [name for name, _ in training_photos()]
    assert not {n.split(":")[1] for n in names} & {*PHOTOS, "motorcycle_right", "clock_motion"}
    test_pixels = {img.tobytes()[:4096] for _, img in photos()}
    assert all(img.tobytes()[:4096] not in test_pixels for _, img in training_photos())
    data = load_dataset("photo-tiles")
    assert data.x.dtype == torch.uint8 and data.x.shape[1:] == (3, TILE, TILE)
    assert len(data.x) == sum(data.meta["photos"].values()) > 400
    grey = data.x[-1]  # the last photo is a grey one, repeated to three channels
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    with pytest.raises(DataError, match="no split 'test'"):
        load_dataset("photo-tiles", split="test")


def test_tiles_overlap_by_the_stride_and_skip_small_images():
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    out = tiles(img, size=4, stride=2)
    assert out.shape == (2, 3, 4, 4)  # one row of tiles (rows 0-3), columns 0-3 and 2-5
    assert np.array_equal(out[1], img[0:4, 2:6].transpose(2, 0, 1))
    assert tiles(img, size=8).shape == (0, 3, 8, 8)
