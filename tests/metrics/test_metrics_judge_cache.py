"""The judge cache: file names users already have on disk, atomic writes, damaged files refused."""

from __future__ import annotations

import json

import pytest
import torch

from ganforge.data.base import Dataset
from ganforge.errors import JudgeError
from ganforge.metrics import judge_cache
from ganforge.metrics.judge_nets import JudgeSpec
from ganforge.metrics.judges import JUDGES

TINY = JudgeSpec(name="tiny", dataset="tinyjudge", input_shape=(1, 8, 8),
                 arch={"kernel": 3, "channels": [4], "hidden": 8, "classes": 2, "dropout": 0.0},
                 recipe={"epochs": 1, "batch_size": 4, "lr": 1e-2, "weight_decay": 0.0, "seed": 0, "threads": 1})


def _dataset(x, y):
    return Dataset(name="t", kind="image", x=x, y=y, num_classes=2)


def test_keys_are_those_of_judges_cached_by_earlier_versions():
    """Recorded with metrics/features.py before it was split: a changed key retrains every user's judges."""
    assert judge_cache.cache_key(JUDGES["lenet"], "0" * 64) == "451991cb9f7d2eee"
    assert judge_cache.cache_key(JUDGES["lenet8"], "0" * 64) == "9fa81d113d4a9836"
    x = torch.arange(8, dtype=torch.uint8).reshape(2, 1, 2, 2)
    y = torch.tensor([0, 1])
    assert judge_cache.dataset_sha256(_dataset(x, y)) == \
        "3e7f14b1cbf7a3981f14fe23453a98582e821de23fb57c4ab9648c897b1e8095"
    weights, record = judge_cache.judge_paths("lenet8", "9fa81d113d4a9836", "/data")
    assert (str(weights), str(record)) == ("/data/judges/lenet8-9fa81d113d4a9836.safetensors",
                                           "/data/judges/lenet8-9fa81d113d4a9836.json")


def test_dataset_hash_sees_pixels_labels_and_layout():
    x = torch.arange(8, dtype=torch.uint8).reshape(2, 1, 2, 2)
    y = torch.tensor([0, 1])
    base = judge_cache.dataset_sha256(_dataset(x, y))
    assert judge_cache.dataset_sha256(_dataset(x.clone(), y.clone())) == base
    other_pixel = x.clone()
    other_pixel[1, 0, 1, 1] += 1
    assert judge_cache.dataset_sha256(_dataset(other_pixel, y)) != base
    assert judge_cache.dataset_sha256(_dataset(x, torch.tensor([1, 0]))) != base
    assert judge_cache.dataset_sha256(_dataset(x.reshape(2, 1, 1, 4), y)) != base  # same bytes, other shape


def test_written_judge_reads_back_bitwise(tmp_path):
    torch.manual_seed(0)
    net = TINY.build().eval()
    weights, record_path = judge_cache.judge_paths("tiny", "k", tmp_path)
    record = judge_cache.write_cached(net, {"test_accuracy": 0.5}, weights, record_path)
    assert json.loads(record_path.read_text()) == record and record["test_accuracy"] == 0.5
    assert len(record["weights_sha256"]) == 64
    assert sorted(p.name for p in weights.parent.iterdir()) == ["tiny-k.json", "tiny-k.safetensors"]
    again, again_record = judge_cache.read_cached(weights, record_path, TINY)
    assert again_record == record and not again.training
    for (name, a), (_, b) in zip(net.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_missing_or_damaged_files_are_not_trusted(tmp_path, caplog):
    weights, record_path = judge_cache.judge_paths("tiny", "k", tmp_path)
    assert judge_cache.read_cached(weights, record_path, TINY) is None  # nothing cached yet
    judge_cache.write_cached(TINY.build(), {}, weights, record_path)
    weights.write_bytes(weights.read_bytes()[:-4] + b"junk")
    assert judge_cache.read_cached(weights, record_path, TINY) is None
    assert "training it again" in caplog.text
    judge_cache.write_cached(TINY.build(), {}, weights, record_path)
    record_path.write_text("{not json")
    assert judge_cache.read_cached(weights, record_path, TINY) is None


def test_unwritable_cache_is_a_one_line_judge_error(tmp_path, one_line):
    blocker = tmp_path / "data" / "judges"
    blocker.parent.mkdir()
    blocker.write_text("a file where the judges folder should be")
    weights, record_path = blocker / "tiny-k.safetensors", blocker / "tiny-k.json"
    with pytest.raises(JudgeError) as e:
        judge_cache.write_cached(TINY.build(), {}, weights, record_path)
    assert "GANFORGE_DATA" in one_line(e)
