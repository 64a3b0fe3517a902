"""The datasheet: every figure is of the checkpoint exported (its ``ganforge eval`` report, else the in-training
evaluation with its step; DP-SGD's epsilon from the checkpoint's own accountant); in the Markdown an audit's
findings come first and what was not measured says so."""

import json
from pathlib import Path
from types import SimpleNamespace

import ganforge
from ganforge.download import sha256_file
from ganforge.synthetic import datasheet

# A private D on the embedded digits: log steps 5 and 6, checkpoints at 3 and 6 (3 falls between log steps).
DP = {"recipe": "dp-noise-to-image", "data": {"name": "digits"}, "train": {"batch_size": 32},
      "model": {"z_dim": 8, "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "layer"}},
      "dp": {"noise_multiplier": 1.0, "delta": 1e-4},
      "log": {"every": 5, "checkpoint_every": 3, "tensorboard": False, "progress": False, "sample_every": 100}}


def _sheet(audit):
    return {"what": "synthetic samples", "created": "now", "ganforge": "0", "format": 1,
            "output": {"n": 3}, "sampling": {"seed": 0}, "run": {"step": 5}, "training_data": {"dataset": "digits"},
            "metrics": datasheet.NOT_MEASURED, "differential_privacy": "not trained with DP-SGD",
            "privacy_audit": audit}


def test_markdown_puts_the_audit_findings_first():
    audit = {"flags": ["12 synthetic samples are exact copies of training images (pixels)"],
             "dcr": {"pixels": {"ratio": 0.5, "near_copies": 30, "n_synthetic": 100, "threshold_quantile": 0.01,
                                "exact_copies": 12}},
             "membership": {"white_box_d": {"auroc": 0.81, "ci_low": 0.75, "ci_high": 0.86, "level": 0.95}}}
    text = datasheet.markdown(_sheet(audit))
    audit_part = text[text.index("## privacy audit"):]
    assert audit_part.index("Findings: 12 synthetic samples are exact copies") < audit_part.index("DCR (pixels)")
    assert "AUROC 0.810 [0.750, 0.860]" in audit_part
    assert "not measured" in text and "not trained with DP-SGD" in text


def test_markdown_without_an_audit_says_how_to_run_one():
    text = datasheet.markdown(_sheet("not run (ganforge audit RUN --out audit.json, then export --audit audit.json)"))
    assert "ganforge audit RUN --out audit.json" in text[text.index("## privacy audit"):]


def _run(path, step=10):
    """What the datasheet reads of an opened run, for a run directory written by hand."""
    return SimpleNamespace(path=path, checkpoint=path / "checkpoints" / f"step-{step:07d}", step=step,
                           config=SimpleNamespace(dp=None), state={"step": step})


def _eval_report(path, step):
    (path / "eval").mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    metric = {"family": "fid", "values": {"fid300_test_lenet8": 41.5}, "protocol": {"reference": "digits/test (297)"},
              "samples": {"n": 300, "seed": 0, "created": "then"}}
    (path / "eval" / f"{name}.json").write_text(json.dumps({
        "format": 1, "samples": {"checkpoint": name, "step": step, "n": 300, "seed": 0},
        "values": metric["values"], "metrics": {"fid300_test_lenet8": metric}}))


def test_metrics_are_the_eval_report_of_the_exported_checkpoint(tmp_path):
    (tmp_path / "stats.jsonl").write_text(json.dumps({"step": 5, "eval/fid1k_test_lenet8": 90.0}) + "\n")
    _eval_report(tmp_path, 10)
    metrics = datasheet.run_measurements(_run(tmp_path))["metrics"]
    assert metrics["source"] == f"ganforge eval of this checkpoint ({tmp_path / 'eval' / 'step-0000010.json'})"
    assert metrics["step"] == 10 and metrics["values"] == {"fid300_test_lenet8": 41.5}
    assert metrics["protocol"]["fid300_test_lenet8"] == {"reference": "digits/test (297)",
                                                         "samples": {"n": 300, "seed": 0, "created": "then"}}


def test_an_in_training_evaluation_of_another_step_says_so(tmp_path):
    (tmp_path / "stats.jsonl").write_text(json.dumps({"step": 5, "eval/fid1k_test_lenet8": 90.0}) + "\n")
    _eval_report(tmp_path, 7)  # eval/step-0000007.json: another checkpoint's report, never this one's
    (tmp_path / "eval" / "step-0000007.json").rename(tmp_path / "eval" / "step-0000010.json")
    metrics = datasheet.run_measurements(_run(tmp_path))["metrics"]
    assert metrics["step"] == 5 and metrics["values"] == {"fid1k_test_lenet8": 90.0}
    assert "at step 5, not at the exported checkpoint's step 10" in metrics["source"]
    (tmp_path / "stats.jsonl").write_text(json.dumps({"step": 10, "eval/fid1k_test_lenet8": 80.0}) + "\n")
    assert datasheet.run_measurements(_run(tmp_path))["metrics"]["source"] == "in-training evaluation (stats.jsonl)"


def test_epsilon_is_the_exported_checkpoints_own_between_log_steps(tmp_path):
    """A checkpoint between two log steps got the epsilon of the log step before it (or, before the first log
    step, "not trained with DP-SGD"): an understatement of what was spent."""
    from opacus.accountants import RDPAccountant

    final = ganforge.train(DP, out=tmp_path / "dp", steps=6)
    logged = {r["step"]: r["dp_epsilon"] for r in map(json.loads, (final.path / "stats.jsonl").read_text().splitlines())
              if "dp_epsilon" in r}
    assert sorted(logged) == [5, 6]
    early = ganforge.load_run(final.path, final.path / "checkpoints" / "step-0000003")
    sheet = datasheet.run_measurements(early)["differential_privacy"]
    accountant = RDPAccountant()  # three D updates at rate 32/1500, counted independently of the run
    for _ in range(3):
        accountant.step(noise_multiplier=1.0, sample_rate=32 / 1500)
    assert sheet["step"] == 3 and sheet["d_updates_counted"] == 3 and sheet["delta"] == 1e-4
    assert abs(sheet["epsilon"] - accountant.get_epsilon(1e-4)) < 1e-5 and sheet["epsilon"] < logged[5]
    at_end = datasheet.run_measurements(ganforge.load_run(final.path))["differential_privacy"]
    assert at_end["epsilon"] == logged[6] and at_end["step"] == 6  # stats.jsonl and the datasheet agree


def _private_run(path, history, noise_multiplier=2.0):
    """A hand-made private run: its checkpoint holds the accountant history given; the config says another sigma."""
    import torch
    from safetensors.torch import save_file

    run = _run(path)
    run.checkpoint.mkdir(parents=True)
    save_file({"history": torch.tensor(history, dtype=torch.float64)}, str(run.checkpoint / "dp_D.safetensors"))
    run.config = SimpleNamespace(dp=SimpleNamespace(noise_multiplier=noise_multiplier, max_grad_norm=1.0, delta=1e-5),
                                 recipe="dp-noise-to-image", data=SimpleNamespace(name="digits", split="train"))
    return run


def test_noise_and_rate_are_the_accountant_history_s_not_the_config_s(tmp_path):
    """A run resumed with another dp.noise_multiplier (--allow-config-change) holds several (sigma, rate, updates)
    entries; the datasheet said the current config's sigma, which described none of the updates before it."""
    one = datasheet.run_measurements(_private_run(tmp_path / "a", [[1.0, 0.02, 3]]))["differential_privacy"]
    assert one["noise_multiplier"] == 1.0 and one["sample_rate"] == 0.02
    two = datasheet.run_measurements(_private_run(tmp_path / "b", [[1.0, 0.02, 3], [2.0, 0.04, 4]]))
    sheet = two["differential_privacy"]
    assert sheet["noise_multiplier"] == [1.0, 2.0] and sheet["sample_rate"] == [0.02, 0.04]
    assert sheet["history"] == [{"noise_multiplier": 1.0, "sample_rate": 0.02, "d_updates": 3},
                                {"noise_multiplier": 2.0, "sample_rate": 0.04, "d_updates": 4}]
    assert sheet["d_updates_counted"] == 7


def test_a_private_run_s_datasheet_leaves_out_training_split_metrics(tmp_path):
    """parzen200_train is a statistic of the private records with no clipping or noise: outside the guarantee,
    so a private run's datasheet names it as withheld instead of publishing it. A plain run's keeps it."""
    for name, private in (("dp", True), ("plain", False)):
        path = tmp_path / name
        run = _private_run(path, [[1.0, 0.02, 3]]) if private else _run(path)
        _eval_report(path, 10)
        report = json.loads((path / "eval" / "step-0000010.json").read_text())
        report["metrics"]["parzen200_train"] = {"values": {"parzen200_train": -12.0, "parzen200_train.se": 0.5},
                                                "protocol": {"reference": "digits/train (1200)"}}
        (path / "eval" / "step-0000010.json").write_text(json.dumps(report))
        metrics = datasheet.run_measurements(run)["metrics"]
        if private:
            assert metrics["values"] == {"fid300_test_lenet8": 41.5} and "parzen200_train" not in metrics["protocol"]
            assert "parzen200_train" in metrics["withheld"] and "training split" in metrics["withheld"]
        else:
            assert metrics["values"]["parzen200_train"] == -12.0 and "withheld" not in metrics


def test_a_private_image_run_s_datasheet_states_its_sampling_and_withholds_the_fingerprint(tmp_path):
    """The accountant assumes Poisson sampling. dp-noise-to-image draws it, so its datasheet adds no caveat; a
    checkpoint whose real stream was shuffled (a private run of a ganforge that drew shuffled fixed-size batches)
    gets the caveat, read from its state. The fingerprint is a sha256 of every training record: someone who knows
    all records but one could confirm the last, which the DP guarantee does not allow; it is withheld, saying why."""
    final = ganforge.train(DP, out=tmp_path / "dp", steps=3)

    def sheet():
        return datasheet.build(final, output=tmp_path / "x.npz", kind="npz", n=3, seed=0, shape=(1, 8, 8),
                               dtype="uint8", classes=None, class_balanced=False, truncation=None)

    first = sheet()
    assert "fingerprint" not in first["training_data"] and first["training_data"]["samples"] == 1500
    withheld = first["training_data"]["fingerprint_withheld"]
    assert "differential privacy" in withheld and "sha256" in withheld
    assert "sampling" not in first["differential_privacy"]
    assert "fingerprint_withheld" in datasheet.markdown(first)
    last = Path(final.checkpoint)
    state = json.loads((last / "state.json").read_text())
    assert state["real"]["sampling"] == "poisson"
    state["real"] = {"epoch": 0, "position": 3, "epoch_rng": state["real"]["rng"]}  # a shuffled stream's state
    (last / "state.json").write_text(json.dumps(state))
    manifest = json.loads((last / "manifest.json").read_text())
    manifest["files"]["state.json"] = sha256_file(last / "state.json")  # as that checkpoint was written
    (last / "manifest.json").write_text(json.dumps(manifest))
    final = ganforge.load_run(final.path)
    dp = sheet()["differential_privacy"]
    assert "shuffled fixed-size batches" in dp["sampling"] and "Poisson" in dp["sampling"]
