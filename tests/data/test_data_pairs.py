"""Two-domain data: pairs matched by name, unpaired folders, a/b arrays in an .npz, and the fingerprint."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import Dataset, load_dataset
from ganforge.data.fingerprint import fingerprint
from ganforge.errors import DataError


def _save(path, value, mode="L", size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size, size) if mode == "L" else (size, size, 3), value, np.uint8)
    Image.fromarray(arr).save(path)


@pytest.fixture
def folders(tmp_path):
    a, b = tmp_path / "edges", tmp_path / "photos"
    for i in range(4):
        _save(a / f"{i:02d}.png", 10 * i)
        _save(b / f"{i:02d}.jpg" if i != 3 else b / "zz.jpg", 10 * i, mode="RGB")
    _save(a / "extra.png", 200)
    return a, b


def test_pairs_match_by_name_and_report_the_unmatched(folders, capsys):
    a, b = folders
    ds = load_dataset(f"pairs:{a},{b}")
    err = capsys.readouterr().err  # one ganforge warning line, not a Python warning with a source line
    assert err.startswith("ganforge: warning: ") and len(err.splitlines()) == 1, err
    assert re.search(r"2 in A \(03.png, extra.png\) and 1 in B \(zz.jpg\).*3 pairs are used", err), err
    assert ds.paired and len(ds) == len(ds.b) == 3
    assert ds.shape == (1, 8, 8) and ds.b.shape == (3, 8, 8)  # each domain keeps its channels
    # 00 pairs with 00, 01 with 01 (values 0, 10, 20), whatever the extension; JPEG moves a value by a little
    assert ds.x[:, 0, 0, 0].tolist() == [0, 10, 20]
    assert np.abs(ds.b.x[:, 0, 0, 0].numpy().astype(int) - [0, 10, 20]).max() <= 2
    assert ds.meta["unmatched_a"] == 2 and ds.meta["unmatched_b"] == 1


def test_pairs_without_a_single_match_fail_with_the_rule(tmp_path):
    _save(tmp_path / "a" / "x.png", 1)
    _save(tmp_path / "b" / "y.png", 1)
    with pytest.raises(DataError, match="no file in .* has a partner of the same name"):
        load_dataset(f"pairs:{tmp_path / 'a'},{tmp_path / 'b'}")


@pytest.mark.parametrize("spec", ["pairs:onlyone", "unpaired:a,", "pairs:a,b,c"])
def test_two_folders_are_required(spec):
    with pytest.raises(DataError, match="needs two folders separated by a comma"):
        load_dataset(spec)


def test_unpaired_folders_keep_every_image(folders):
    a, b = folders
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing is unmatched in unpaired data: no warning
        ds = load_dataset(f"unpaired:{a},{b}", channels=3)
    assert not ds.paired and len(ds) == 5 and len(ds.b) == 4 and ds.shape == ds.b.shape == (3, 8, 8)


def test_npz_with_a_and_b(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8), rng.random((5, 8, 8, 3))
    np.savez(tmp_path / "p.npz", a=a, b=b, y=np.arange(5))
    ds = load_dataset(f"npz:{tmp_path / 'p.npz'}")
    assert ds.paired and ds.shape == (1, 8, 8) and ds.b.shape == (3, 8, 8) and ds.y.tolist() == list(range(5))
    np.savez(tmp_path / "u.npz", a=a, b=b[:3])
    assert not load_dataset(f"npz:{tmp_path / 'u.npz'}").paired
    np.savez(tmp_path / "bad.npz", a=a, b=b[:3], paired=True)
    with pytest.raises(DataError, match="'paired' is set but a has 5 images and b 3"):
        load_dataset(f"npz:{tmp_path / 'bad.npz'}")


def test_fingerprint_covers_the_second_domain(folders):
    a, b = folders
    ds = load_dataset(f"pairs:{a},{b}")
    changed_b = dataclasses.replace(ds.b, x=ds.b.x.flip(0).contiguous())
    assert fingerprint(ds) != fingerprint(dataclasses.replace(ds, b=changed_b))
    single = dataclasses.replace(ds, b=None, paired=False)
    assert fingerprint(single) != fingerprint(ds)


def test_paired_data_need_one_target_per_sample():
    x = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="one target per sample"):
        Dataset(name="t", kind="image", x=x, paired=True)
    with pytest.raises(ValueError, match="one target per sample"):
        Dataset(name="t", kind="image", x=x, b=Dataset(name="t", kind="image", x=x[:2]), paired=True)
