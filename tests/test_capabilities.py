"""Declared capabilities: each trained model says what it can do, and front ends refuse by that."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge import capabilities as cap
from ganforge.anomaly.scoring import AnomalyError, scorer
from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.recipes.ganomaly import GanomalyModel
from ganforge.recipes.superres import SuperresModel
from ganforge.recipes.translation_model import TranslationModel
from ganforge.runs.run import load_run

@pytest.fixture(scope="module")
def runs(tiny_runs):
    return tiny_runs  # digits, ring8 and a conditional G (tests/conftest.py)


def test_each_model_declares_what_it_can_do(runs):
    assert cap.capabilities_of(load_run(runs / "digits").model) == {"generate", "truncation", "score"}
    assert cap.capabilities_of(load_run(runs / "ring8").model) == {"generate", "truncation", "toy2d"}
    assert cap.capabilities_of(load_run(runs / "cgan").model) == {"generate", "truncation", "classes"}
    assert SuperresModel.capabilities == {"upscale"} and TranslationModel.capabilities == {"translate"}
    assert GanomalyModel.capabilities == {"generate", "score", "encode"}
    assert cap.capabilities_of(object()) == {"generate"}  # a user's model promises sample_chunks only


@pytest.mark.parametrize("name,kw", [("digits", {}), ("cgan", {"classes": [3, 5]}), ("cgan", {}),
                                     ("ring8", {"truncation": 1.5})])
def test_latents_then_render_is_the_first_chunk_of_sample_chunks(runs, name, kw):
    model = load_run(runs / name).model
    assert isinstance(model, cap.Generates)
    want, _ = next(iter(model.sample_chunks(7, seed=11, **kw)))
    got = model.render(model.latents(7, 11, **kw))
    np.testing.assert_array_equal(got, want)


def test_a_missing_capability_is_one_line_naming_what_the_run_can_do(runs, one_line):
    model = load_run(runs / "cgan").model
    with pytest.raises(GanforgeError) as e:
        cap.require_any(model, (cap.UPSCALE,), run="runs/cgan", recipe="noise-to-image", doing="upscale images")
    msg = one_line(e)
    assert "cannot upscale images" in msg and "it offers generate, classes, truncation" in msg
    assert "ganforge sample runs/cgan" in msg
    with pytest.raises(AnomalyError) as e:  # a conditional G declares no score
        scorer(load_run(runs / "cgan"))
    assert "cannot score anomalies" in one_line(e) and "class-conditional" in one_line(e)
    with pytest.raises(AnomalyError) as e:
        scorer(load_run(runs / "ring8"))
    assert "trained on points" in one_line(e)


def test_sample_refuses_an_option_the_run_does_not_declare(runs, capsys, tmp_path):
    assert main(["sample", str(runs / "digits"), "--n", "4", "--out", str(tmp_path / "s.npy"), "--class", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "has no --class option" in err and "it offers generate" in err
    assert not (tmp_path / "s.npy").exists()
