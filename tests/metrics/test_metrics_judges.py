"""Judges: trained once and cached by content, applied per channel, and the FID Inception's loading.

Finding and downloading the Inception weights is tested in test_metrics_fid_weights.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch

from ganforge.data import registry
from ganforge.data.base import Dataset
from ganforge.metrics import fid_weights, judges
from ganforge.metrics.inception import FIDInceptionV3
from ganforge.metrics.judges import JudgeError, JudgeSpec, load_judge
from ganforge.metrics.evaluation import Evaluator

TINY = {"content": 0}


def _tiny_loader(req):
    """An 8x8 two-class set; TINY['content'] changes its pixels (and so its hash)."""
    rng = np.random.default_rng([TINY["content"], req.split == "test"])
    y = rng.integers(0, 2, 64)
    x = (y[:, None, None, None] * 200 + rng.integers(0, 40, (64, 1, 8, 8))).astype(np.uint8)
    return Dataset(name="tinyjudge", kind="image", x=torch.from_numpy(x), y=torch.from_numpy(y.astype(np.int64)),
                   num_classes=2)


@pytest.fixture
def tiny_judge(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "tinyjudge", registry.Entry("tinyjudge", _tiny_loader, ("train", "test")))
    spec = JudgeSpec(name="tiny", dataset="tinyjudge", input_shape=(1, 8, 8),
                     arch={"kernel": 3, "channels": [4], "hidden": 8, "classes": 2, "dropout": 0.0},
                     recipe={"epochs": 2, "batch_size": 16, "lr": 1e-2, "weight_decay": 0.0, "seed": 0, "threads": 1})
    monkeypatch.setitem(judges.JUDGES, "tiny", spec)
    monkeypatch.setitem(TINY, "content", 0)
    return spec


def test_judge_is_trained_once_then_loaded(tiny_judge, isolated_data, monkeypatch):
    first = load_judge("tiny")
    files = sorted(p.name for p in (isolated_data / "judges").iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".safetensors")
    record = json.loads((isolated_data / "judges" / files[0]).read_text())
    assert record["test_accuracy"] == first.test_accuracy and 0 <= record["test_accuracy"] <= 1
    assert record["train_seconds"] >= 0 and record["fingerprint"]["recipe"]["epochs"] == 2
    assert first.summary()["test_accuracy"] == first.test_accuracy

    monkeypatch.setattr(judges, "train_classifier", lambda *a, **k: pytest.fail("retrained a cached judge"))
    second = load_judge("tiny")
    x = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(first(x)[0], second(x)[0]) and second.record["key"] == first.record["key"]


def test_changed_training_data_or_recipe_retrains(tiny_judge, isolated_data, monkeypatch):
    first = load_judge("tiny")
    monkeypatch.setitem(TINY, "content", 1)
    changed = load_judge("tiny")
    assert changed.record["key"] != first.record["key"]
    assert changed.record["train_data_sha256"] != first.record["train_data_sha256"]
    slower = dataclasses.replace(tiny_judge, recipe={**tiny_judge.recipe, "lr": 5e-3})
    monkeypatch.setitem(judges.JUDGES, "tiny", slower)
    assert load_judge("tiny").record["key"] not in (first.record["key"], changed.record["key"])
    assert len(list((isolated_data / "judges").glob("*.safetensors"))) == 3


def test_damaged_cache_is_retrained(tiny_judge, isolated_data):
    first = load_judge("tiny")
    weights = next((isolated_data / "judges").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-8] + b"garbage!")
    again = load_judge("tiny")
    assert again.record["key"] == first.record["key"]
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == again.record["weights_sha256"]


def test_judging_leaves_the_global_rng_alone(tiny_judge):
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    load_judge("tiny")
    assert torch.equal(state, torch.random.get_rng_state())


def test_real_digits_judge_learns(fast_judges):
    judge = load_judge("lenet8")  # 2 epochs here (the real recipe runs 30)
    assert judge.test_accuracy > 0.8
    f, logits = judge(np.zeros((3, 1, 8, 8), np.uint8))
    assert f.shape == (3, 64) and logits.shape == (3, 10)


def test_one_channel_judge_reads_each_channel():
    spec = judges.JUDGES["lenet"]
    judge = judges.Judge("lenet", spec.build().eval(), spec.input_shape, 10)
    rgb = torch.randint(0, 256, (4, 3, 28, 28), dtype=torch.uint8)
    f, logits = judge(rgb)
    assert f.shape == (4, 3 * 128) and logits.shape == (4, 1000)
    f_r, logits_r = judge(rgb[:, :1])
    assert torch.allclose(f[:, :128], f_r, atol=1e-5)
    pred = logits.argmax(1)
    assert torch.equal(pred // 100, logits_r.argmax(1))  # red is the hundreds digit


def test_judge_refuses_images_it_cannot_read(one_line):
    spec = judges.JUDGES["lenet8"]
    judge = judges.Judge("lenet8", spec.build().eval(), spec.input_shape, 10)
    with pytest.raises(JudgeError, match="takes 8x8 images, these are 28x28") as e:
        judge(np.zeros((2, 1, 28, 28), np.uint8))
    one_line(e)
    with pytest.raises(JudgeError, match="uint8"):
        judge(np.zeros((2, 1, 8, 8), np.float32))


def test_unknown_judge(one_line):
    with pytest.raises(JudgeError, match="did you mean 'lenet'") as e:
        load_judge("lenett")
    one_line(e)


# --- the FID InceptionV3 ----------------------------------------------------------------------


def test_inception_network_shapes_and_weight_names():
    net = FIDInceptionV3().eval()
    # torchvision's InceptionV3 without aux logits has 23,834,568 parameters; 1008 classes add 8 x 2049
    assert sum(p.numel() for p in net.parameters()) == 23_834_568 + 8 * 2049
    keys = net.state_dict().keys()
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch5x5_2.bn.running_var", "Mixed_7c.branch3x3dbl_3b.conv.weight",
            "fc.bias"} <= set(keys)
    pre = FIDInceptionV3.preprocess(torch.full((2, 1, 28, 28), 255, dtype=torch.uint8))
    assert pre.shape == (2, 3, 299, 299) and torch.allclose(pre, torch.ones_like(pre))
    with torch.no_grad():
        f = net.embed(torch.zeros(2, 3, 75, 75))  # smallest input the stem takes; 299 in real use
        assert f.shape == (2, 2048) and net.classify(f).shape == (2, 1008)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    other = FIDInceptionV3()
    other.load_weights(state)  # a file without BatchNorm step counters loads
    assert torch.equal(other.fc.weight, state["fc.weight"])
    with pytest.raises(KeyError, match="missing"):
        other.load_weights({k: v for k, v in state.items() if k != "fc.weight"})


class _TinyInception(torch.nn.Module):
    """Stands in for the 95 MB network: same interface, a few weights."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def embed(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x.float() / 255.0, 2).mean(1).flatten(1)

    def classify(self, f):
        return self.fc(f)

    def load_weights(self, state):
        self.load_state_dict(state)


def test_inception_metrics_run_with_a_weights_file(monkeypatch, tmp_path):
    from ganforge.data import load_dataset
    from ganforge.metrics import Evaluator, inception

    path = tmp_path / "weights.pth"
    torch.save(_TinyInception().state_dict(), path)
    monkeypatch.setattr(fid_weights, "INCEPTION_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setattr(inception, "FIDInceptionV3", _TinyInception)
    x = load_dataset("digits", split="train").x.numpy()[:100]
    ev = Evaluator("digits", ["fid_inception", "is_inception"], n=100, inception_weights=path)
    report = ev.run(x)
    assert ev.names == ["fid100_test_inception", "is100_inception"]
    assert report.results[0].info["judge"]["name"] == "inception" and np.isfinite(report.values["fid100_test_inception"])


# --- the CIFAR-10 judges, on a fake colour dataset (CI has no CIFAR-10) ---------------------------


def _fake_cifar(req):
    """3x32x32 images whose class is their colour: class k has its channels at the levels of k."""
    rng = np.random.default_rng(req.split == "test")
    y = np.arange(200 if req.split == "train" else 60) % 10
    rgb = np.stack([y * 25, (9 - y) * 25, (y % 3) * 100], 1)[:, :, None, None]
    x = np.clip(rgb + rng.integers(-10, 11, (len(y), 3, 32, 32)), 0, 255).astype(np.uint8)
    return Dataset(name="cifar10-jpeg", kind="image", x=torch.from_numpy(x), y=torch.from_numpy(y.astype(np.int64)),
                   num_classes=10)


@pytest.fixture
def fake_cifar_judge(monkeypatch):
    """The real cnn-cifar10jpeg architecture and recipe (1 epoch) on the fake colour data."""
    entry = registry.Entry("cifar10-jpeg", _fake_cifar, ("train", "test"))
    monkeypatch.setitem(registry.REGISTRY, "cifar10-jpeg", entry)
    spec = judges.JUDGES["cnn-cifar10jpeg"]
    monkeypatch.setitem(judges.JUDGES, "cnn-cifar10jpeg",
                        dataclasses.replace(spec, recipe={**spec.recipe, "epochs": 2, "batch_size": 20}))
    return spec


def test_cifar_judges_are_named_for_their_training_data():
    for name, data in (("cnn-cifar10", "cifar10"), ("cnn-cifar10jpeg", "cifar10-jpeg")):
        spec = judges.JUDGES[name]
        assert spec.dataset == data and spec.input_shape == (3, 32, 32) and judges.default_judge(data) == name
    official, jpeg = judges.JUDGES["cnn-cifar10"], judges.JUDGES["cnn-cifar10jpeg"]
    assert official.fingerprint()["dataset"] != jpeg.fingerprint()["dataset"]  # so their cache keys differ


def test_colour_judge_is_cached_and_its_accuracy_printed_beside_every_metric(fake_cifar_judge, isolated_data,
                                                                              monkeypatch):
    log = []
    first = load_judge("cnn-cifar10jpeg", log_fn=log.append)
    assert any("training judge cnn-cifar10jpeg on cifar10-jpeg/train (200 images)" in line for line in log)
    assert first.test_accuracy > 0.5  # colours are easy: a judge that learns anything reads most of them
    f, logits = first(np.zeros((2, 3, 32, 32), np.uint8))
    assert f.shape == (2, 128) and logits.shape == (2, 10)
    monkeypatch.setattr(judges, "train_classifier", lambda *a, **k: pytest.fail("retrained a cached judge"))
    assert load_judge("cnn-cifar10jpeg").record["key"] == first.record["key"]

    ev = Evaluator("cifar10-jpeg", ["fid", "kid", "is", "pr"], n=40)
    assert [s.name for s in ev.specs] == ["fid40_test_cnn-cifar10jpeg", "kid40_test_cnn-cifar10jpeg",
                                          "is40_cnn-cifar10jpeg", "pr40_test_cnn-cifar10jpeg"]
    table = ev.run(_fake_cifar(type("R", (), {"split": "train"})()).x[:40].numpy()).table()
    rows = [line for line in table.splitlines()[1:] if line.strip()]
    accuracy = f"cnn-cifar10jpeg ({first.test_accuracy:.2%})"
    assert len(rows) >= 5 and all(line.rstrip().endswith(accuracy) for line in rows)
