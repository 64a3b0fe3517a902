"""evaluate_translation: a perfect translator scores perfectly, the identity map is caught, the task's own
judge (and view) reads the translations, and what cannot be measured is one line."""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from ganforge.data import Dataset, load_dataset, translation_tasks as tt
from ganforge.errors import GanforgeError
from ganforge.metrics import translation as tm
from ganforge.metrics import translation_eval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from translation_digits import fake_mnist, stand_in_lenet  # noqa: E402

TEST_IMAGES = 80


@pytest.fixture(autouse=True)
def tasks(monkeypatch):
    """The built-in tasks made from stand-ins: scikit-learn digits for MNIST, random colour images for CIFAR."""
    def source(name, req, split):
        if name == "mnist":
            x, y = fake_mnist(TEST_IMAGES if split == "test" else 60)
            return Dataset("mnist", "image", torch.from_numpy(x), torch.from_numpy(y), 10, {"sha256": "fake"})
        x = np.random.RandomState(0).randint(0, 256, (TEST_IMAGES, 3, 32, 32)).astype(np.uint8)
        return Dataset(name, "image", torch.from_numpy(x), torch.zeros(TEST_IMAGES, dtype=torch.int64), 10, {})
    monkeypatch.setattr(tt, "_source", source)


@pytest.fixture
def judge(monkeypatch):
    """The stand-in MNIST judge, and the names the code asked for (it must ask for the task's own)."""
    j, asked = stand_in_lenet(), []

    def load(name, *args, **kwargs):
        asked.append(name)
        return j
    monkeypatch.setattr(translation_eval, "load_judge", load)
    j.asked = asked
    return j


class Truthful:
    """What a perfect model does: each test input's true translation (the other domain of the test split)."""

    capabilities = frozenset({"translate"})  # declared, as TranslationModel does: evaluate reads the declaration

    def __init__(self, dataset: str, directions=("AB",), identity: bool = False):
        self.directions = {d: d for d in directions}
        self.data = load_dataset(dataset, split="test")
        self.identity = identity

    def translate(self, x, direction="AB", *, seed=0, device="cpu"):
        if self.identity:
            return x.copy()
        source, target = (self.data.x, self.data.b.x) if direction == "AB" else (self.data.b.x, self.data.x)
        assert np.array_equal(x, source[:len(x)].numpy())  # the first n test images, in order
        return target[:len(x)].numpy()


@dataclass
class FakeRun:
    """The parts of an opened run (ganforge.runs.run.Run) that evaluate_translation reads."""

    model: Any
    dataset: str
    recipe: str = "cycle-translation"
    path: Path = Path("runs/fake")
    checkpoint: Path = Path("runs/fake/checkpoints/step-0000010")
    step: int = 10
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def config(self):
        return SimpleNamespace(recipe=self.recipe, data=SimpleNamespace(name=self.dataset))


def test_a_perfect_pix2pix_scores_perfectly_and_the_judge_reads_the_truth(judge):
    run = FakeRun(Truthful("mnist-edges"), "mnist-edges", recipe="paired-translation")
    report = translation_eval.evaluate_translation(run, 64, judges={})
    v = report.values
    assert set(v) == {"l1_test_truth", "psnr_test_truth", "ssim_test_truth", "labelacc_test_lenet", "fid64_test_lenet"}
    assert v["l1_test_truth"] == 0 and v["ssim_test_truth"] == 1 and v["psnr_test_truth"] == tm.PSNR_CAP
    data = load_dataset("mnist-edges", split="test")
    on_truth = tm.label_accuracy(data.b.x[:64].numpy(), data.y[:64].numpy(), judge)
    assert v["labelacc_test_lenet"] == pytest.approx(on_truth) and on_truth > 0.6
    assert abs(v["fid64_test_lenet"]) < 1e-3
    assert judge.asked == ["lenet"] and report.judge["name"] == "lenet" and report.judge_view is None
    assert (report.n, report.step, report.direction, report.dataset) == (64, 10, "AB", "mnist-edges")
    d = report.to_dict()
    assert d["better"]["fid64_test_lenet"] == "lower" and d["better"]["ssim_test_truth"] == "higher"


def test_inverted_digits_are_read_uninverted_and_a_cycle_is_scored_both_ways(judge):
    run = FakeRun(Truthful("mnist-inverted", ("AB", "BA")), "mnist-inverted")
    v = translation_eval.evaluate_translation(run, 64).values
    data = load_dataset("mnist-inverted", split="test")
    digits, labels = data.x[:64].numpy(), data.y[:64].numpy()
    assert v["labelacc_test_lenet_uninverted"] == pytest.approx(tm.label_accuracy(digits, labels, judge))
    assert v["labelacc_test_lenet_uninverted"] > 0.6 and "labelacc_test_lenet" not in v
    # the judge FID reads outputs and truth through the same view, and its name says so
    assert v["fid64_test_lenet_uninverted"] == pytest.approx(tm.judge_fid(digits, digits, judge), abs=1e-6)
    assert "fid64_test_lenet" not in v
    assert v["ssim_test_truth"] == 1 and v["cycle_l1_test"] == 0 and v["ssim_test_input"] < 0.5
    back = translation_eval.evaluate_translation(run, 64, direction="BA")  # domain A: plain digits, no view
    assert back.values["labelacc_test_lenet"] > 0.6 and back.judge_view is None and back.values["l1_test_truth"] == 0


def test_the_identity_map_is_caught(judge):
    v = translation_eval.evaluate_translation(FakeRun(Truthful("mnist-inverted", ("AB", "BA"), identity=True),
                                                      "mnist-inverted"), 64).values
    assert v["ssim_test_input"] == 1 > v["ssim_test_truth"]  # closer to its input than to the truth: collapsed
    assert v["labelacc_test_lenet_uninverted"] < 0.3  # the judge reads 255 - output: inverted digits
    assert v["cycle_l1_test"] == 0  # which the cycle error alone would have called perfect


def test_colour_outputs_get_colourfulness_and_no_judge_is_guessed(judge):
    v = translation_eval.evaluate_translation(FakeRun(Truthful("cifar10-jpeg-colour"), "cifar10-jpeg-colour"),
                                              None).values
    assert set(v) == {"l1_test_truth", "psnr_test_truth", "ssim_test_truth", "colourfulness_hs_test"}
    assert v["colourfulness_hs_test"] > 0 and judge.asked == []


def test_n_defaults_to_the_whole_split_when_it_is_smaller_and_too_few_is_one_line(judge, one_line):
    run = FakeRun(Truthful("mnist-edges"), "mnist-edges", recipe="paired-translation")
    assert translation_eval.evaluate_translation(run).n == TEST_IMAGES
    assert f"fid{TEST_IMAGES}_test_lenet" in translation_eval.evaluate_translation(run, 10**6).values
    with pytest.raises(GanforgeError) as e:
        translation_eval.evaluate_translation(run, 1)
    assert "at least 2 test images" in one_line(e)


def test_what_cannot_be_measured_is_one_line(tmp_path, one_line):
    np.savez(tmp_path / "p.npz", a=np.zeros((4, 1, 8, 8), np.uint8), b=np.zeros((4, 1, 8, 8), np.uint8))
    cases = [(FakeRun(Truthful("mnist-edges"), f"npz:{tmp_path / 'p.npz'}"), "AB", "has no test split"),
             (FakeRun(Truthful("mnist-edges"), "mnist-edges"), "BA", "not BA"),
             (FakeRun(SimpleNamespace(), "mnist", recipe="noise-to-image"), "AB", "does not translate images")]
    for run, direction, want in cases:
        with pytest.raises(GanforgeError) as e:
            translation_eval.evaluate_translation(run, 8, direction=direction)
        assert want in one_line(e)
