"""`ganforge eval` end to end on tiny runs trained here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganforge.cli import main


def _train(preset: str, out, steps: int = 20) -> None:
    assert main(["train", preset, "--steps", str(steps), "--out", str(out), "--set", "log.tensorboard=false",
                 "--set", "log.every=5", "--set", f"log.checkpoint_every={steps}"]) == 0


@pytest.fixture
def ring_run(tmp_path):
    run = tmp_path / "ring"
    _train("gan2014-ring8", run)
    return run


@pytest.fixture
def digits_run(tmp_path, fast_judges):
    run = tmp_path / "digits"
    _train("gan2014-digits", run)
    return run


def test_eval_ring_run_writes_a_labelled_report(ring_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(ring_run), "--n", "500"]) == 0
    out = capsys.readouterr().out
    assert "step-0000020 (step 20), 500 samples" in out and "modes500_3std.reverse_kl" in out
    report = json.loads((ring_run / "eval" / "step-0000020.json").read_text())
    assert report["dataset"] == "ring8" and report["samples"]["step"] == 20
    assert set(report["values"]) == {"modes500_3std", "modes500_3std.reverse_kl", "modes500_3std.high_quality"}
    assert report["metrics"]["modes500_3std"]["better"]["modes500_3std"] == "higher"
    assert 0 <= report["values"]["modes500_3std"] <= 8


def test_eval_of_a_sample_file_matches_eval_of_the_run(ring_run, tmp_path, capsys):
    assert main(["eval", str(ring_run), "--n", "500", "--seed", "3"]) == 0
    from_run = json.loads((ring_run / "eval" / "step-0000020.json").read_text())["values"]
    npy = tmp_path / "s.npy"
    assert main(["sample", str(ring_run), "--n", "500", "--seed", "3", "--out", str(npy)]) == 0
    capsys.readouterr()
    assert main(["eval", "--samples", str(npy), "--dataset", "ring8", "--json", str(tmp_path / "r.json")]) == 0
    assert "500 samples measured against ring8" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["values"] == from_run


def test_eval_digits_run_with_judges(digits_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(digits_run), "--n", "300"]) == 0
    captured = capsys.readouterr()
    assert "training judge lenet8" in captured.err  # first use trains it, saying so
    report = json.loads((digits_run / "eval" / "step-0000020.json").read_text())
    assert list(report["metrics"]) == ["parzen300_test", "fid300_test_lenet8", "kid300_test_lenet8", "is300_lenet8",
                                       "pr297_test_lenet8", "dc297_test_lenet8"]
    acc = report["metrics"]["fid300_test_lenet8"]["protocol"]["judge"]["test_accuracy"]
    assert 0 < acc <= 1 and f"lenet8 ({acc:.2%})" in captured.out
    assert report["metrics"]["parzen300_test"]["protocol"]["sigma_selected_on"].startswith("digits/train[1200:1500]")
    protocol = {name: m["protocol"] for name, m in report["metrics"].items()}
    assert protocol["pr297_test_lenet8"]["k"] == 3 and protocol["dc297_test_lenet8"]["k"] == 5  # the papers' k
    assert protocol["pr297_test_lenet8"]["reference"] == "digits/test (297)"
    assert protocol["kid300_test_lenet8"]["subset_size"] == 297 and protocol["is300_lenet8"]["splits"] == 10
    assert all(np.isfinite(v) for v in report["values"].values())
    # a second evaluation of other metrics is merged into the same file
    assert main(["eval", str(digits_run), "--metrics", "fid100_train"]) == 0
    assert "training judge" not in capsys.readouterr().err  # cached
    merged = json.loads((digits_run / "eval" / "step-0000020.json").read_text())
    assert "parzen300_test" in merged["metrics"] and "fid100_train_lenet8" in merged["values"]


def test_real_data_scores_better_than_noise(tmp_path, fast_judges):
    from ganforge.data import load_dataset

    real = load_dataset("digits", split="test").x.numpy()
    noise = np.random.default_rng(0).integers(0, 256, real.shape, dtype=np.uint8)
    for name, x in (("real", real), ("noise", noise)):
        np.save(tmp_path / f"{name}.npy", x)
        assert main(["eval", "--samples", str(tmp_path / f"{name}.npy"), "--dataset", "digits",
                     "--metrics", "fid_train,pr_train,is,parzen_train", "--json", str(tmp_path / f"{name}.json")]) == 0
    r, n = (json.loads((tmp_path / f"{k}.json").read_text())["values"] for k in ("real", "noise"))
    assert r["fid297_train_lenet8"] < n["fid297_train_lenet8"]
    assert r["pr297_train_lenet8.precision"] > n["pr297_train_lenet8.precision"]
    assert r["is297_lenet8"] > n["is297_lenet8"]
    assert r["parzen297_train"] > n["parzen297_train"]


@pytest.mark.parametrize("argv, fragment", [
    (["eval"], "give a RUN_DIR"),
    (["eval", "--samples", "x.npy"], "needs --dataset"),
    (["eval", "--samples", "missing.npy", "--dataset", "ring8"], "does not exist"),
    (["eval", "--samples", "x.txt", "--dataset", "ring8"], "must name a .npy"),
    (["eval", "nowhere"], "does not exist"),
])
def test_eval_mistakes_are_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_eval_rejects_metrics_that_do_not_fit(ring_run, capsys):
    assert main(["eval", str(ring_run), "--metrics", "fid"]) == 2
    assert "applies to image data" in capsys.readouterr().err
    assert main(["eval", str(ring_run), "--metrics", "modez"]) == 2
    assert "did you mean 'modes'" in capsys.readouterr().err


def test_list_metrics(capsys):
    assert main(["eval", "--list-metrics"]) == 0
    out = capsys.readouterr().out
    for word in ("parzen", "fid", "kid", "pr", "dc", "modes", "lenet8", "inception"):
        assert word in out


def test_samples_and_labels_that_are_not_npy_are_one_line(tmp_path, capsys):
    np.save(tmp_path / "p.npy", np.zeros((10, 2), np.float32))
    (tmp_path / "junk.npy").write_text("a,b\n1,2\n")
    assert main(["eval", "--samples", str(tmp_path / "junk.npy"), "--dataset", "ring8"]) == 2
    assert capsys.readouterr().err.strip().endswith("junk.npy is not a .npy file (no numpy header); save the array "
                                                    "with numpy.save")
    assert main(["eval", "--samples", str(tmp_path / "p.npy"), "--dataset", "ring8", "--labels",
                 str(tmp_path / "junk.npy")]) == 2
    assert capsys.readouterr().err.startswith("ganforge: error: --labels ")


def test_eval_with_fewer_samples_than_pr_and_dc_need_is_one_line(tiny_runs, tmp_path, capsys):
    # probe C, item 2: `eval --n 3` and `eval --samples` of 5 images were tracebacks from prdc.knn_radii
    assert main(["eval", str(tiny_runs / "digits"), "--n", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error: --n 3 is too few for the default metrics 'is', 'pr' and 'dc'") \
        and "\n" not in err
    assert "pass --n 20 or more" in err
    np.save(tmp_path / "five.npy", np.zeros((5, 1, 8, 8), np.uint8))
    assert main(["eval", "--samples", str(tmp_path / "five.npy"), "--dataset", "digits"]) == 2
    err = capsys.readouterr().err.strip()
    assert "5 samples are too few for the default metrics 'is' and 'dc'" in err and "\n" not in err


SSGAN = ["--steps", "2", "--set", "data.name=digits", "--set", "data.labels_per_class=3", "--set",
         "train.batch_size=30", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[32,16]", "--set",
         "log.tensorboard=false", "--set", "log.progress=false"]


def test_eval_refuses_an_accuracy_protocol_the_run_was_not_trained_with(tmp_path, capsys):
    # probe C, item 10: acc_test_100labels_seed1 on a seed-0 run printed acc_test_100labels_seed0's number
    run = tmp_path / "ss"
    assert main(["train", "ssgan-mnist-100", "--out", str(run), *SSGAN]) == 0
    capsys.readouterr()
    for asked, own in (("acc_test_30labels_seed1", "acc_test_30labels_seed0"),
                       ("acc_test_100labels_seed0", "acc_test_30labels_seed0"),
                       ("acc_alllabels", "acc_test_30labels_seed0")):
        assert main(["eval", str(run), "--metrics", asked]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"ganforge: error: {run} drew its 30 labels with seed 0, so it cannot measure {asked}; ask "
                       f"for {own} (another protocol needs a run trained with it)"), err
    assert main(["eval", str(run), "--metrics", "acc_valid_100labels_seed0"]) == 2  # digits: the split goes first
    assert "dataset 'digits' has no valid split" in capsys.readouterr().err
    assert main(["eval", str(run), "--metrics", "acc_tset"]) == 2
    assert "'acc_tset' is not an accuracy name" in capsys.readouterr().err
    assert main(["eval", str(run), "--metrics", "acc_test_30labels_seed0"]) == 0  # its own name (digits: no valid)
    assert "acc_test_30labels_seed0" in capsys.readouterr().out


# --- probe F: a count beyond memory, labels that are not classes, a bare checkpoint name ----------------


def _refused(capsys, argv, *expected) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganforge: error: "), err
    for text in expected:
        assert text in err, (text, err)
    return err


def test_eval_n_beyond_memory_is_refused_before_sampling(ring_run, capsys, monkeypatch):
    from ganforge import memory
    from ganforge.runs.run import Run
    monkeypatch.setattr(memory, "available_memory", lambda: 10 ** 9)
    monkeypatch.setattr(Run, "sample_chunks", lambda *a, **k: pytest.fail("sampled before the memory check"))
    capsys.readouterr()
    # ring8's modes: 2 x 2 float32 values held twice, and 8 centres x 3 float64 (differences and distance) + 2
    _refused(capsys, ["eval", str(ring_run), "--n", "100000000"], "--n 100000000 needs about",
             f"the most this machine takes now is --n {(10 ** 9 // 2) // (16 + 8 * (8 * 3 + 2))}")
    assert not (ring_run / "eval").exists()


def test_eval_labels_must_be_whole_classes_and_asked_for(tmp_path, capsys):
    x = np.zeros((20, 1, 8, 8), np.uint8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "frac.npy", np.full(20, 3.7))
    np.save(tmp_path / "whole.npy", np.full(20, 3.0))
    capsys.readouterr()
    base = ["eval", "--samples", str(tmp_path / "x.npy"), "--dataset", "digits"]
    # 3.7 was read as class 3 and measured
    _refused(capsys, [*base, "--metrics", "acc", "--labels", str(tmp_path / "frac.npy")],
             "must hold whole class numbers, got float64 values such as 3.7", "astype(np.int64)")
    # labels with no acc metric were dropped without a word
    _refused(capsys, [*base, "--metrics", "fid", "--labels", str(tmp_path / "whole.npy")],
             "--labels is read by the acc metric only", "fid20_test_lenet8 is measured without labels",
             "add acc to --metrics, or drop --labels")


def test_eval_labels_with_a_run_are_refused(ring_run, tmp_path, capsys):
    np.save(tmp_path / "y.npy", np.zeros(10, np.int64))
    capsys.readouterr()
    _refused(capsys, ["eval", str(ring_run), "--labels", str(tmp_path / "y.npy")], "--labels goes with --samples")


def test_eval_judge_that_cannot_read_the_run_is_refused_before_sampling(digits_run, capsys, monkeypatch):
    from ganforge.runs.run import Run
    monkeypatch.setattr(Run, "sample_chunks", lambda *a, **k: pytest.fail("sampled before the judge was checked"))
    capsys.readouterr()
    _refused(capsys, ["eval", str(digits_run), "--metrics", "fid_lenet"], "judge 'lenet' reads 1x28x28 images",
             "write fid_lenet8")


def test_eval_bare_checkpoint_name_says_it_does_not_exist(ring_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    run = ring_run.name  # relative, as typed
    _refused(capsys, ["eval", run, "--checkpoint", "step-0000020"], "--checkpoint step-0000020 does not exist here",
             f"pass --checkpoint {run}/checkpoints/step-0000020")
    err = _refused(capsys, ["eval", run, "--checkpoint", "step-0000050"], "--checkpoint step-0000050 does not exist",
                   f"a path like {run}/checkpoints/step-0000020")
    assert "manifest.json" not in err
    assert main(["eval", run, "--checkpoint", f"{run}/checkpoints/step-0000020", "--n", "100"]) == 0
