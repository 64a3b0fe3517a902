"""The Python API (ganforge.train / load_run / evaluate) does what the CLI does, and the same way."""

import numpy as np
import pytest

import ganforge
from ganforge import recipes
from ganforge.api import check_eval_applies, resolve_config
from ganforge.cli import main
from ganforge.config import RunConfig
from ganforge.errors import GanforgeError, WrongCommandError

QUIET = dict(log__progress=False, log__tensorboard=False)


def test_train_returns_the_opened_run_and_overrides_reach_the_config(tmp_path):
    run = ganforge.train("gan2014-digits", out=tmp_path / "api", steps=40, seed=3, model__g__hidden=[32],
                         set=["train.batch_size=32"], **QUIET)
    assert run.step == 40 and run.config.seed == 3
    assert run.config.model.g.options["hidden"] == [32] and run.config.train.batch_size == 32
    images = run.sample(16, seed=1)
    assert images.dtype == np.uint8 and images.shape == (16, 1, 8, 8)
    assert np.array_equal(images, ganforge.load_run(tmp_path / "api").sample(16, seed=1))


def test_the_api_and_the_cli_train_and_sample_the_same_bits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = ganforge.train("gan2014-digits", out="py", steps=30, **QUIET)
    assert main(["train", "gan2014-digits", "--out", "cli", "--steps", "30", "--set", "log.progress=false",
                 "--set", "log.tensorboard=false"]) == 0
    assert main(["sample", "cli", "--n", "50", "--seed", "2", "--out", "cli.npy"]) == 0
    assert np.array_equal(run.sample(50, seed=2), np.load("cli.npy"))


def test_evaluate_a_run_and_an_array(tmp_path):
    run = ganforge.train("gan2014-ring8", out=tmp_path / "r", steps=200, **QUIET)
    values = ganforge.evaluate(run, metrics="modes")
    assert values["modes2500_3std"] >= 1 and 0 <= values["modes2500_3std.high_quality"] <= 1
    again = ganforge.evaluate(tmp_path / "r", metrics="modes")  # a run directory works as well
    assert again == values
    assert (tmp_path / "r" / "eval" / "step-0000200.json").exists()
    points = run.sample(2500, seed=0)
    from_array = ganforge.evaluate(points, dataset="ring8", metrics="modes")
    assert from_array == values  # evaluate(run) draws the same 2,500 samples with seed 0


def test_bad_input_raises_the_one_line_error_the_cli_prints(tmp_path, one_line):
    with pytest.raises(GanforgeError) as e:
        ganforge.train("gan2014-digits", out=tmp_path / "x", train__batchsize=8)
    assert "did you mean 'batch_size'" in one_line(e)
    with pytest.raises(GanforgeError) as e:
        ganforge.load_run(tmp_path / "nowhere")
    assert "does not exist" in one_line(e)
    with pytest.raises(GanforgeError) as e:
        ganforge.evaluate(np.zeros((10, 2), np.float32))
    assert "dataset=NAME" in one_line(e)


def test_train_from_python_takes_the_run_lock_like_the_cli(tmp_path, one_line):
    from ganforge.runs.lock import LOCK_NAME, RunLock

    run_dir = tmp_path / "busy"
    run_dir.mkdir()
    with RunLock(run_dir):  # as if another process were training there
        with pytest.raises(GanforgeError) as e:
            ganforge.train("gan2014-digits", out=run_dir, steps=2, **QUIET)
        assert "is being trained by process" in one_line(e)
    run = ganforge.train("gan2014-digits", out=tmp_path / "free", steps=2, **QUIET)
    assert not (run.path / LOCK_NAME).exists()  # released at the end


@pytest.mark.parametrize("recipe,command", [
    ("noise-to-image", None), ("progressive", None), ("style-based", None),
    ("fanogan", "ganforge anomaly eval {run}"),
    ("dp-noise-to-image", None), ("paired-translation", "ganforge translate {run} --eval"),
    ("cycle-translation", "ganforge translate {run} --eval"),
    ("srresnet", "ganforge upscale {run} --eval skimage-photos"), ("srgan", "ganforge upscale {run} --eval skimage-photos"),
    ("ganomaly", "ganforge anomaly eval {run}")])
def test_each_recipe_says_what_measures_it(recipe, command, one_line):
    """eval measures models that draw samples from noise; the others name their command, and evaluate refuses
    them with it before anything is opened or sampled. f-AnoGAN's G draws from noise, but its data is an
    anomaly protocol, whose test split is mostly anomalies: it is measured by anomaly eval."""
    assert recipes.get(recipe).eval_command == command
    cfg = RunConfig(recipe=recipe)
    if command is None:
        check_eval_applies("runs/x", cfg)
        return
    with pytest.raises(WrongCommandError) as e:
        check_eval_applies("runs/x", cfg)
    assert one_line(e) == f"runs/x is a {recipe} run: measure it with {command.format(run='runs/x')}"


def test_a_plain_gan_on_an_anomaly_protocol_is_measured_by_anomaly_eval(one_line):
    """AnoGAN is a noise-to-image run on mnist-one-normal: eval's parzen against a test split that is 90%
    anomalies (its sigma chosen on the normal-only valid split) measured nothing and said so nowhere."""
    cfg, _ = resolve_config("anogan-mnist")
    with pytest.raises(WrongCommandError) as e:
        check_eval_applies("runs/a", cfg)
    assert one_line(e).endswith("measure it with ganforge anomaly eval runs/a")


def _guards(lock, run):
    """``lock`` holds ``run``'s own lock file (not one moved away with a renamed directory)."""
    import os

    return lock.held and os.stat(run / ".lock").st_ino == os.fstat(lock._fd).st_ino


def _files(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("swap", [True, False], ids=["exchange", "two-renames"])
def test_force_keeps_the_run_locked_while_the_new_run_builds(tiny_runs, tmp_path, monkeypatch, swap):
    """--force set the old run aside with its lock, so a second `train --out NAME` could claim NAME while the
    new run built; the first then deleted the old run and failed to lock NAME: the old run was lost."""
    import shutil

    from ganforge import api
    from ganforge.runs import lock as lock_mod

    if not swap:
        monkeypatch.setattr(api, "exchange", lambda a, b: False)
    run = shutil.copytree(tiny_runs / "digits", tmp_path / "old")
    before = _files(run)
    real_trainer, seen = api.Trainer, []

    def building(*args, **kwargs):  # a second `ganforge train --out old` while the first builds
        with pytest.raises(GanforgeError, match="is being trained by process"):
            with api.claimed(run):
                pass
        seen.append(_files(tmp_path / ".old.replaced"))
        if len(seen) == 1:
            raise GanforgeError("the new run could not start")
        return real_trainer(*args, **kwargs)

    monkeypatch.setattr(api, "Trainer", building)
    cfg, _ = resolve_config("gan2014-digits", ["train.steps=5", *[f"{k.replace('__', '.')}=false" for k in QUIET]])
    with api.claimed(run) as held:
        with pytest.raises(GanforgeError, match="could not start"):
            api.start(cfg, run, force=True, lock=held)
        assert _files(run) == before and _guards(held, run)  # the old run back, under its lock
        assert not (tmp_path / ".old.replaced").exists() and not (tmp_path / ".old.starting").exists()
        api.start(cfg, run, force=True, lock=held)
        assert _guards(held, run) and lock_mod.is_locked(run)  # the new run holds NAME's lock
        assert not (tmp_path / ".old.replaced").exists()
    assert seen == [before, before]
    assert not lock_mod.is_locked(run)


def test_force_refuses_to_delete_a_run_an_earlier_force_set_aside(tiny_runs, tmp_path, one_line):
    import shutil

    from ganforge import api

    run = shutil.copytree(tiny_runs / "digits", tmp_path / "old")
    aside = shutil.copytree(tiny_runs / "digits", tmp_path / ".old.replaced")
    before = _files(aside)
    cfg, _ = resolve_config("gan2014-digits", ["train.steps=5"])
    with api.claimed(run) as held, pytest.raises(GanforgeError) as e:
        api.start(cfg, run, force=True, lock=held)
    assert ".old.replaced exists" in one_line(e) and _files(aside) == before and (run / "config.yaml").exists()


def test_evaluate_takes_a_tensor_and_refuses_dataset_with_a_run(tmp_path, one_line):
    # probe F: a tensor raised "expected str, bytes or os.PathLike object, not Tensor"; dataset= with a run
    # was ignored without a word (the CLI refuses --dataset with a RUN_DIR)
    import torch
    run = ganforge.train("gan2014-ring8", out=tmp_path / "r", steps=20, **QUIET)
    points = run.sample(500, seed=0)
    from_array = ganforge.evaluate(points, dataset="ring8", metrics="modes")
    assert ganforge.evaluate(torch.from_numpy(points).requires_grad_(), dataset="ring8", metrics="modes") == from_array
    assert ganforge.evaluate(points.tolist(), dataset="ring8", metrics="modes") == \
        ganforge.evaluate(points.astype(np.float64), dataset="ring8", metrics="modes")
    for kwargs in ({"dataset": "mnist"}, {"labels": np.zeros(10, np.int64)}):
        with pytest.raises(GanforgeError) as e:
            ganforge.evaluate(run, metrics="modes", **kwargs)
        name = next(iter(kwargs))
        assert f"{name}= goes with an array of samples" in one_line(e) and f"drop {name}=" in one_line(e)
    assert not (tmp_path / "r" / "eval").exists()


def test_evaluate_refuses_labels_that_are_not_whole_classes(one_line):
    from ganforge.api import check_labels
    with pytest.raises(GanforgeError) as e:
        ganforge.evaluate(np.zeros((20, 1, 8, 8), np.uint8), "acc", dataset="digits", labels=np.full(20, 3.7))
    assert "labels must hold whole class numbers, got float64 values such as 3.7" in one_line(e)
    assert check_labels(np.full(4, 3.0), 4).tolist() == [3, 3, 3, 3]  # whole floats are classes
    with pytest.raises(GanforgeError) as e:
        check_labels(np.array([1.0, np.nan]), 2)
    assert "such as nan" in one_line(e)
    with pytest.raises(GanforgeError) as e:
        check_labels(np.zeros(3, np.int64), 4)
    assert "one class per sample (4), got shape (3,)" in one_line(e)


def test_a_run_trained_on_split_all_is_told_its_test_figures_are_of_training_images(tmp_path, capsys):
    """digits' split all holds its test images: eval's parzen..._test of such a run compared with images it
    trained on, and said nothing. It says so, and the report records it."""
    run = ganforge.train("gan2014-digits", out=tmp_path / "all", steps=2, set=["data.split=all"], **QUIET)
    capsys.readouterr()
    report, _ = ganforge.api.evaluate_run(run, "parzen50", write=False)
    assert report.samples["references_trained_on"] == ["test"]
    err = capsys.readouterr().err
    assert "trained on split all of digits, which holds its test images" in err and err.count("\n") == 1
    plain = ganforge.train("gan2014-digits", out=tmp_path / "train", steps=2, **QUIET)
    assert "references_trained_on" not in ganforge.api.evaluate_run(plain, "parzen50", write=False)[0].samples
