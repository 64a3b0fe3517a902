"""Resume continues the same run: same step, same data order, same noise, same dropout masks."""

import json
from pathlib import Path

import pytest
import torch

from ganforge import config, presets
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.runs import checkpoint
from ganforge.engine import state
from ganforge.engine.loop import Trainer
from ganforge.objectives.ada import Ada
from ganforge.objectives.historical import HistoricalAverage
from ganforge.objectives.path_length import PathLengthMean
from ganforge.recipes.private import DpState
from ganforge.training.image_pool import ImagePool

BASE = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[32]",
        "model.d.hidden=[16]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=10",
        "log.sample_every=1000", "train.batch_size=32"]


def _cfg(*extra, preset="gan2014-digits"):
    return config.resolve(presets.load_preset(preset)[0], [*BASE, *extra])


def _params(tr):
    return {f"{n}.{k}": v.clone() for n, net in tr.built.nets.items() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tmp_path, optim):
    opts = [f"optim.g.name={optim}", f"optim.d.name={optim}", "optim.g.lr_decay=1.01", "train.d_steps=2"]
    full = Trainer(_cfg("train.steps=30", *opts), tmp_path / "full")
    full.fit()

    first = Trainer(_cfg("train.steps=20", *opts), tmp_path / "split")
    assert first.fit().step == 20
    resumed = Trainer(_cfg("train.steps=30", *opts), tmp_path / "split", resume=True)
    assert resumed.step == 20
    assert resumed.built.schedules["G"].updates == 20 and resumed.built.schedules["D"].updates == 40
    resumed.fit()

    a, b = _params(full), _params(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    for name in ("G", "D"):
        assert full.built.optimizers[name].param_groups[0]["lr"] == resumed.built.optimizers[name].param_groups[0]["lr"]
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "stats.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 30


def test_resume_with_more_steps_records_the_new_budget(tmp_path):
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    Trainer(_cfg("train.steps=20"), tmp_path / "r", resume=True).fit()
    assert config.load_yaml((tmp_path / "r" / "config.yaml").read_text())["train"]["steps"] == 20
    options = json.loads((tmp_path / "r" / "options.json").read_text())
    assert options["steps_changes"] == [{"step": 10, "from": 10, "to": 20}]
    Trainer(_cfg("train.steps=20"), tmp_path / "r", resume=True)  # the same budget again: nothing to record
    again = json.loads((tmp_path / "r" / "options.json").read_text())
    assert again["steps_changes"] == options["steps_changes"]
    # each leg's own command, commit and versions (the first leg's alone described a run resumed elsewhere)
    assert [leg["step"] for leg in again["resumes"]] == [10, 20]
    assert again["resumes"][0]["versions"]["torch"] == torch.__version__ and "git_commit" in again["resumes"][0]


def test_resume_drops_stats_logged_after_the_checkpoint(tmp_path):
    Trainer(_cfg("train.steps=15", "log.checkpoint_every=10"), tmp_path / "r").fit()
    # Simulate a kill between step 10's checkpoint and the final save.
    ckpts = checkpoint.list_checkpoints(tmp_path / "r" / "checkpoints")
    import shutil
    shutil.rmtree(ckpts[-1])
    tr = Trainer(_cfg("train.steps=15", "log.checkpoint_every=10"), tmp_path / "r", resume=True)
    assert tr.step == 10
    steps = [json.loads(line)["step"] for line in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    assert max(steps) == 10


def test_resume_over_a_damaged_log_keeps_its_good_records(tmp_path):
    """A byte that is not UTF-8, a step that is not a number, a torn last line: the resume drops the torn
    line and the records after the checkpoint, and keeps the rest (the bad lines too, which every reader
    skips); it stopped with a UnicodeDecodeError before."""
    Trainer(_cfg("train.steps=10", "log.checkpoint_every=10"), tmp_path / "r").fit()
    log = tmp_path / "r" / "stats.jsonl"
    log.write_bytes(log.read_bytes() + b'{"step": "x", "loss": 1}\n\xff\xfe\n{"step": 15, "loss_D": 1}\n{"step": 9')
    Trainer(_cfg("train.steps=20", "log.checkpoint_every=10"), tmp_path / "r", resume=True)
    lines = log.read_bytes().splitlines()
    assert [json.loads(line)["step"] for line in lines[:2]] == [5, 10]
    assert lines[2:] == [b'{"step": "x", "loss": 1}', b"\xff\xfe"]


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    Trainer(_cfg("train.steps=0"), tmp_path / "r")  # writes the run dir, never trains
    with pytest.raises(CheckpointError, match="no checkpoint .* start it again without --resume, with --force .* or another --out"):
        Trainer(_cfg("train.steps=5"), tmp_path / "r", resume=True)


def test_resume_with_a_changed_config_is_refused_unless_allowed(tmp_path):
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    with pytest.raises(ConfigError, match=r"optim.d.lr: 0.001 -> 0.002.*--allow-config-change"):
        Trainer(_cfg("train.steps=20", "optim.d.lr=0.002"), tmp_path / "r", resume=True)
    tr = Trainer(_cfg("train.steps=20", "optim.d.lr=0.002"), tmp_path / "r", resume=True, allow_config_change=True)
    assert tr.step == 10


def test_resume_with_steps_below_the_runs_step_is_refused_and_records_nothing(tmp_path):
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    before = {name: (tmp_path / "r" / name).read_bytes() for name in ("config.yaml", "options.json", "stats.jsonl")}
    with pytest.raises(GanforgeError, match=r"already at step 10, past --steps 4 .*--steps above 10"):
        Trainer(_cfg("train.steps=4"), tmp_path / "r", resume=True)
    assert {name: (tmp_path / "r" / name).read_bytes() for name in before} == before
    assert config.load_yaml(before["config.yaml"].decode())["train"]["steps"] == 10


def _records_of(run):
    return {name: (run / name).read_bytes() for name in ("config.yaml", "options.json", "stats.jsonl")}


def test_an_optimiser_of_another_kind_is_refused_before_anything_is_recorded(tmp_path):
    """optim.d.name adam -> sgd was accepted with --allow-config-change, recorded in config.yaml, and the
    first step failed with a KeyError: the checkpoint's moments are another optimiser's."""
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    before = _records_of(tmp_path / "r")
    with pytest.raises(ConfigError, match=r"optim.d.name .*another kind.*train a new run"):
        Trainer(_cfg("train.steps=20", "optim.d.name=sgd"), tmp_path / "r", resume=True, allow_config_change=True)
    assert _records_of(tmp_path / "r") == before


@pytest.mark.parametrize("added, label, key", [
    ("ema.half_life_images=500", "G_ema", "ema.half_life_images"),
    ("reg.historical=0.1", "historical_D", "reg.historical"),
])
def test_a_component_added_on_resume_is_refused_in_one_line(tmp_path, added, label, key):
    """Its state is not in the checkpoint (a KeyError traceback before): refused, naming it and the key."""
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    before = _records_of(tmp_path / "r")
    with pytest.raises(GanforgeError, match=rf"holds no {label} state.*{key}") as e:
        Trainer(_cfg("train.steps=20", added), tmp_path / "r", resume=True, allow_config_change=True)
    assert "\n" not in str(e.value)
    assert _records_of(tmp_path / "r") == before


@pytest.mark.parametrize("component, key", [
    ("HistoricalAverage", "reg.historical"), ("Ada", "augment.ada_target"), ("PathLengthMean", "reg.path_length"),
    ("DpState", "dp.*"), ("ImagePool", "the changed config"),
])
def test_a_stateful_component_names_the_config_key_that_adds_it(component, key):
    """Each stateful component declares the key that adds it (``enabled_by``); one that does not is "the changed
    config". The message is the same one line for every component."""
    cls = {c.__name__: c for c in (HistoricalAverage, Ada, PathLengthMean, DpState, ImagePool)}[component]
    assert getattr(cls, "enabled_by", state.CHANGED_CONFIG) == key
    assert state._not_in_checkpoint(Path("ck"), "x_D", key) == (
        f"checkpoint ck holds no x_D state: the run was trained without it ({key} adds it), and it cannot be "
        f"added on resume; resume with the run's own {key}, or train a new run with it")


def test_a_changed_weight_decay_is_the_one_training_uses(tmp_path):
    """--allow-config-change recorded optim.d.weight_decay but the loaded param groups kept the old one."""
    Trainer(_cfg("train.steps=10"), tmp_path / "r").fit()
    tr = Trainer(_cfg("train.steps=20", "optim.d.weight_decay=0.01"), tmp_path / "r", resume=True,
                 allow_config_change=True)
    assert all(g["weight_decay"] == 0.01 for g in tr.built.optimizers["D"].param_groups)
    assert all(g["weight_decay"] == 0.0 for g in tr.built.optimizers["G"].param_groups)


def _logged(run):
    """stats.jsonl's records, less the one timing field (img_per_s) and the event lines (an interruption)."""
    records = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "img_per_s"} for r in records if "event" not in r]


def test_stats_log_lines_after_a_resume_are_the_uninterrupted_runs(tmp_path, monkeypatch):
    """A run stopped between log lines lost the sums since the last one: its first line after the resume
    averaged only the steps trained after it. The checkpoint now keeps the running sums and their counts."""
    opts = ["log.every=7", "log.checkpoint_every=100", "train.d_steps=2"]
    full = Trainer(_cfg("train.steps=30", *opts), tmp_path / "full")
    full.fit()
    monkeypatch.setattr(Trainer, "_stopping", lambda self, stop, at_log: self.step == 17)  # a SIGINT at step 17
    first = Trainer(_cfg("train.steps=30", *opts), tmp_path / "split")
    result = first.fit()
    assert result.interrupted and result.step == 17
    monkeypatch.undo()
    Trainer(_cfg("train.steps=30", *opts), tmp_path / "split", resume=True).fit()
    a, b = _logged(tmp_path / "full"), _logged(tmp_path / "split")
    assert [r["step"] for r in a] == [7, 14, 21, 28, 30] and a == b


def test_a_leg_that_ends_between_log_steps_resumes_to_the_uninterrupted_runs_log(tmp_path):
    """train.steps=17 with log.every=7: the leg's last record (step 17) emptied the running sums before the
    final checkpoint, so the resumed run's step-21 line averaged 4 steps instead of 7. The leg's record is
    now partial: the checkpoint keeps the period's sums and the resume drops the record."""
    opts = ["log.every=7", "log.checkpoint_every=100", "train.d_steps=2"]
    Trainer(_cfg("train.steps=30", *opts), tmp_path / "full").fit()
    Trainer(_cfg("train.steps=17", *opts), tmp_path / "split").fit()
    first_leg = _logged(tmp_path / "split")
    assert [r["step"] for r in first_leg] == [7, 14, 17] and first_leg[-1]["partial"] is True
    Trainer(_cfg("train.steps=30", *opts), tmp_path / "split", resume=True).fit()
    a, b = _logged(tmp_path / "full"), _logged(tmp_path / "split")
    assert [r["step"] for r in a] == [7, 14, 21, 28, 30] and a == b
    assert a[-1]["partial"] is True and "partial" not in a[-2]
    # resumed to the budget it has reached, the run trains nothing: its last record, partial, stays
    Trainer(_cfg("train.steps=30", *opts), tmp_path / "split", resume=True).fit()
    assert _logged(tmp_path / "split") == b
