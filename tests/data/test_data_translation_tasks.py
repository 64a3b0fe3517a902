"""The built-in translation tasks: their transforms, disjoint unpaired halves, held-out splits paired with the truth."""

import numpy as np
import pytest
import torch

from ganforge.data import Dataset, load_dataset, translation_tasks as tt
from ganforge.errors import DataError
from translation_digits import fake_mnist


@pytest.fixture
def mnist(monkeypatch):
    """Tiny stand-in MNIST (28 px digits from scikit-learn's) behind the tasks' source."""
    def source(name, req, split):
        assert name == "mnist"
        x, y = fake_mnist(60 if split == "train" else 20)
        return Dataset("mnist", "image", torch.from_numpy(x), torch.from_numpy(y), 10, {"sha256": "fake"})
    monkeypatch.setattr(tt, "_source", source)


def test_transforms():
    x, _ = fake_mnist(5)
    edges = tt.canny_edges(x)
    assert edges.dtype == np.uint8 and set(np.unique(edges)) <= {0, 255} and (edges > 0).any()
    assert np.array_equal(tt.invert(x), 255 - x)
    thick = tt.dilate(x)
    assert (thick >= x).all() and (thick > 0).sum() > (x > 0).sum()
    rgb = np.zeros((1, 3, 2, 2), np.uint8)
    rgb[0, 1] = 255  # pure green
    assert tt.luma(rgb)[0, 0, 0, 0] == round(0.587 * 255)
    assert tt.pad_mnist(x).shape[-2:] == (32, 32) and np.array_equal(tt.unpad_mnist(tt.pad_mnist(x)), x)


def test_edges_are_paired_with_the_digit(mnist):
    d = load_dataset("mnist-edges")
    assert d.paired and d.shape == (1, 32, 32) and np.array_equal(d.x.numpy(), tt.canny_edges(d.b.x.numpy()))


@pytest.mark.parametrize("name,truth", [("mnist-inverted", tt.invert), ("mnist-thick", tt.dilate)])
def test_unpaired_halves_are_disjoint_and_held_out_splits_hold_the_truth(mnist, name, truth):
    train = load_dataset(name)
    assert not train.paired and len(train) == len(train.b) == 30
    x, _ = fake_mnist(60)
    padded = tt.pad_mnist(x)
    assert np.array_equal(train.x.numpy(), padded[:30]) and np.array_equal(train.b.x.numpy(), truth(padded[30:]))
    test = load_dataset(name, split="test")
    assert test.paired and np.array_equal(test.b.x.numpy(), truth(test.x.numpy()))
    assert len(load_dataset(name, size=10)) == 5


def test_options_a_task_cannot_honour_are_one_line(mnist, one_line):
    with pytest.raises(DataError) as e:
        load_dataset("mnist-edges", resolution=64)
    assert "remove data.resolution" in one_line(e)


def test_each_task_declares_the_judge_that_reads_each_domain(mnist):
    """The judge (and its view) is the task's declaration, read from the data: edges are read by no judge,
    inverted digits through 255 - x, thick digits as they are."""
    assert tt.domain_judge(load_dataset("mnist-edges", split="test"), "B") == ("lenet", None)
    assert tt.domain_judge(load_dataset("mnist-edges", split="test"), "A") is None
    inverted = load_dataset("mnist-inverted", split="test")
    assert tt.domain_judge(inverted, "B") == ("lenet", "uninverted") and tt.domain_judge(inverted, "A") == ("lenet", None)
    assert tt.domain_judge(load_dataset("mnist-inverted"), "B") == ("lenet", "uninverted")  # the train split says so too
    assert tt.domain_judge(load_dataset("mnist-thick", split="test"), "B") == ("lenet", None)
    x = inverted.b.x.numpy()
    assert np.array_equal(tt.JUDGE_VIEWS["uninverted"](x), inverted.x.numpy())
    assert tt.domain_judge(Dataset("user", "image", torch.zeros(1, 1, 4, 4, dtype=torch.uint8)), "B") is None
