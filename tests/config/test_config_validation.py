"""Validation: ranges and choices that types cannot express, each failing with a message that names the fix."""

import pytest
import torch

from ganforge import config
from ganforge.api import resolve_config
from ganforge.config import RunConfig
from ganforge.errors import ConfigError
from ganforge.objectives import losses


@pytest.mark.parametrize("override, message", [
    ("train.batch_size=0", "batch_size must be >= 1"),
    ("train.steps=-1", "train.steps must be >= 0"),
    ("log.every=0", "log.every must be >= 1"),
    ("eval.n=1", "eval.n must be >= 2"),
    ("reg.gp=-1", "reg.gp must be >= 0"),
    ("reg.clip=0", "reg.clip must be > 0 or null"),
    ("loss.g=nonsat", "did you mean 'non-saturating'"),
    ("optim.d.name=adamw", "optim.d.name must be one of sgd, adam"),
    ("optim.g.lr_decay=0.5", "lr_decay must be >= 1"),
    ("model.z_dist=gauss", "model.z_dist must be one of uniform, normal"),
    ("model.g.hiden=[3]", "did you mean 'hidden'"),
    ("augment.policy=colour", "unknown augmentation 'colour' \\(did you mean 'color'\\?\\)"),
    ("ema.beta=1", "ema.beta must be in \\(0, 1\\)"),
    ("guard.action=retry", "guard.action must be stop or rollback"),
    ("data.channels=2", "data.channels must be 1, 3 or null"),
    ("speed.precision=fp16", "speed.precision must be auto, fp32 or bf16"),
    ("speed.compile=fast", "speed.compile must be true, false or a torch.compile mode"),
])
def test_bad_values_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        config.resolve(None, [override])


def test_label_smoothing_needs_a_loss_with_targets():
    config.resolve(None, ["loss.real_label=0.9"])  # minimax has targets
    with pytest.raises(ConfigError, match="needs a loss with targets .* set loss.real_label=1.0"):
        config.resolve(None, ["loss.d=wasserstein", "loss.real_label=0.9"])
    config.resolve(None, ["loss.d=wasserstein"])


def test_validate_checks_a_config_built_in_python():
    cfg = RunConfig()
    cfg.train.d_steps = 0
    with pytest.raises(ConfigError, match="train.d_steps must be >= 1"):
        config.validate(cfg)
    cfg = RunConfig()
    cfg.model.d.options["pices"] = 3
    with pytest.raises(ConfigError, match="unknown config key 'model.d.pices' .*did you mean 'pieces'"):
        config.validate(cfg)


@pytest.mark.parametrize("override, message", [
    ("optim.d.lr=.inf", "optim.d.lr must be a finite number, got inf"),
    ("optim.g.lr=-.inf", "optim.g.lr must be a finite number, got -inf"),
    ("optim.d.lr=.nan", "optim.d.lr must be a finite number, got nan"),
    ("reg.gp=.inf", "reg.gp must be a finite number, got inf"),
    ("optim.g.betas=[0.5, .inf]", "optim.g.betas[1] must be a finite number, got inf"),
    ("model.d.dropout=.inf", "model.d.dropout must be a finite number, got inf"),
])
def test_non_finite_numbers_are_refused(override, message, one_line):
    # probe C, item 18: nan failed the range checks (every comparison with it is false) but inf passed
    # `lr > 0`, and `optim.d.lr=.inf` trained straight into NaN with no checkpoint to go back to
    with pytest.raises(ConfigError) as e:
        config.resolve({}, [override])
    assert one_line(e) == message


def test_a_negative_seed_is_refused_by_its_own_name(one_line):
    # probe C, item 26: `--set seed=-1` said "data.seed=-1 is invalid", a key the user never wrote
    with pytest.raises(ConfigError) as e:
        config.resolve({}, ["seed=-1"])
    assert one_line(e) == "seed must be an integer >= 0, got -1"


def test_a_negative_label_seed_is_refused_like_a_negative_seed():
    """numpy refuses a negative seed: -20 was a ValueError traceback in training, and -3 trained under the
    name acc_test_100labels_seed-3, which eval --metrics could not then name."""
    with pytest.raises(ConfigError, match="data.label_seed must be an integer >= 0 or null"):
        resolve_config("ssgan-mnist-100", ["data.label_seed=-3"])
    resolve_config("ssgan-mnist-100", ["data.label_seed=3"])


@pytest.mark.parametrize("override, message", [
    ("seed=1e30", "seed must be at most 2**63-1 (torch's limit), got 1000000000000000019884624838656"),
    (f"seed={10**23}", f"seed must be at most 2**63-1 (torch's limit), got {10**23}"),
    (f"seed={2**63}", f"seed must be at most 2**63-1 (torch's limit), got {2**63}"),
    (f"data.label_seed={2**64}", f"data.label_seed must be at most 2**63-1 (torch's limit), got {2**64}"),
])
def test_a_seed_torch_cannot_take_is_refused(override, message, one_line):
    """seed=1e30 passed validation and was an OverflowError traceback in torch.manual_seed (training/rng.py);
    torch takes at most 2**64-1 and the run adds small stream offsets (training/seeds.py) to 2**63-1 at most."""
    with pytest.raises(ConfigError) as e:
        config.resolve({}, [override])
    assert one_line(e) == message
    assert config.resolve({}, [f"seed={2**63 - 1}"]).seed == 2**63 - 1


@pytest.mark.parametrize("override, message", [
    ("optim.g.weight_decay=-1", "optim.g.weight_decay must be >= 0 (0 = off), got -1.0"),
    ("optim.d.momentum_final=5", "optim.d.momentum_final must be in [0, 1) or null (constant momentum), got 5.0"),
    ("optim.g.momentum_final=-0.1", "optim.g.momentum_final must be in [0, 1) or null (constant momentum), got -0.1"),
    ("optim.d.lr_min=-1", "optim.d.lr_min (the decayed learning rate's floor) must be >= 0, got -1.0"),
    ("train.device=banana", "train.device 'banana' is not a device; use auto, cpu, cuda or cuda:N"),
])
def test_optimiser_and_device_values_torch_refuses_fail_with_the_config(override, message, one_line):
    """Each passed validation and failed only once training had started (torch's optimiser, torch.device)."""
    with pytest.raises(ConfigError) as e:
        config.resolve({}, [override])
    assert one_line(e) == message
    config.resolve({}, ["optim.g.weight_decay=0", "optim.g.momentum_final=null", "optim.g.lr_min=0",
                        "train.device=cuda:1"])  # whether the device exists is the run's check


@pytest.mark.parametrize("override, message", [
    ("tabular.epochs=0", "tabular.epochs must be >= 1, or null to train for train.steps, got 0"),
    ("tabular.score_rows=-1", "tabular.score_rows must be >= 0 (0 = no convergence figure), got -1"),
    ("tabular.cond=-1", "tabular.cond must be >= 0 (0 = no conditional cross-entropy), got -1.0"),
])
def test_tabular_ranges_are_refused_with_the_config(override, message, one_line):
    """These were checked in recipes/tabular.py once the table had loaded: --dry-run let them through."""
    with pytest.raises(ConfigError) as e:
        resolve_config("ctgan", [override])
    assert one_line(e) == message


def test_the_d_collapse_threshold_needs_a_probability():
    """Under a Wasserstein or hinge loss D(G(z)) is a raw critic score: a threshold of 0.05 on it fired or not
    by the scores' offset, not by D winning (ctgan, wgan-gp read the key and accepted it)."""
    with pytest.raises(ConfigError, match="shows raw scores\\); set guard.collapse_d_fake=null"):
        resolve_config("wgan-gp-mnist", ["guard.collapse_d_fake=0.05"])
    resolve_config("dcgan-mnist", ["guard.collapse_d_fake=0.05"])  # minimax: a probability


def test_loss_checks_ask_the_registry_s_declared_facts_not_names(monkeypatch):
    """mse is accepted wherever least-squares is (both losses with targets, on D and G); label smoothing and the
    collapse threshold follow DLoss.has_targets and DLoss.shows_probability, so a loss registered with them is
    judged by them, whatever its name."""
    for loss in ("least-squares", "mse"):
        cfg = config.resolve(None, [f"loss.d={loss}", f"loss.g={loss}", "loss.real_label=0.9"])
        assert (cfg.loss.d, cfg.loss.g, cfg.loss.real_label) == (loss, loss, 0.9)
    with pytest.raises(ConfigError, match=r"needs a loss with targets \(minimax, least-squares, mse\), "
                                          r"not 'relativistic'"):
        config.resolve(None, ["loss.d=relativistic", "loss.real_label=0.9"])
    monkeypatch.setitem(losses.D_LOSSES, "targeted", losses.DLoss(losses.d_hinge, has_targets=True))
    monkeypatch.setitem(losses.D_LOSSES, "probable", losses.DLoss(losses.d_hinge, shown=torch.sigmoid))
    config.resolve(None, ["loss.d=targeted", "loss.real_label=0.9"])
    with pytest.raises(ConfigError, match="shows raw scores"):
        config.resolve(None, ["loss.d=targeted", "guard.collapse_d_fake=0.05"])
    config.resolve(None, ["loss.d=probable", "guard.collapse_d_fake=0.05"])
    with pytest.raises(ConfigError, match="needs a loss with targets"):
        config.resolve(None, ["loss.d=probable", "loss.real_label=0.9"])


def test_an_unknown_loss_name_is_named_before_any_fact_about_it_is_asked():
    with pytest.raises(ConfigError, match="loss.d 'lsgan' is not a known loss.*choose one of .*mse"):
        config.resolve(None, ["loss.d=lsgan", "loss.real_label=0.9", "guard.collapse_d_fake=0.05"])


def test_weight_clipping_and_r1_together_are_refused():
    """R1 runs as a D update of its own, after which WGAN's clipping does not run: D's weights left [-c, c]
    (0.0205 at clip 0.01). The two are alternatives, so the pair is refused before the run."""
    with pytest.raises(ConfigError, match="set reg.r1=0 or reg.clip=null"):
        resolve_config("wgan-mnist", ["reg.r1=1.0"])
    resolve_config("wgan-mnist")
    resolve_config("wgan-mnist", ["reg.r1=1.0", "reg.clip=null"])


@pytest.mark.parametrize("override, message", [
    ("guard.collapse_d_fake=2", "guard.collapse_d_fake must be in (0, 1] or null, got 2"),
    ("guard.collapse_d_fake=-1", "guard.collapse_d_fake must be in (0, 1] or null, got -1"),
    ("guard.collapse_d_fake=0", "guard.collapse_d_fake must be in (0, 1] or null, got 0"),
    ("guard.collapse_d_loss=-1", "guard.collapse_d_loss must be > 0, got -1"),
    ("guard.collapse_d_loss=0", "guard.collapse_d_loss must be > 0, got 0"),
    ("augment.ada_interval=0", "augment.ada_interval must be >= 1, got 0"),
    ("augment.ada_kimg=0", "augment.ada_kimg must be > 0, got 0"),
    ("augment.ada_kimg=-5", "augment.ada_kimg must be > 0, got -5"),
])
def test_guard_and_ada_ranges_are_refused_whatever_else_is_set(override, message):
    """The collapse thresholds were accepted out of range (a probability of 2, a loss of -1), and ADA's
    interval and speed only when ADA was on, without the value."""
    with pytest.raises(ConfigError) as e:
        resolve_config("dcgan-mnist", [override])
    assert message in str(e.value)
    with pytest.raises(ConfigError, match="augment.ada_interval must be >= 1, got 0"):
        resolve_config("dcgan-mnist", ["augment.ada_target=0.6", "augment.ada_interval=0"])
    resolve_config("dcgan-mnist", ["guard.collapse_d_fake=1.0", "guard.collapse_d_loss=100"])


def test_a_growth_schedule_with_no_images_per_stage_is_refused(one_line):
    """fade_images=0 and stable_images=0 each pass alone; together the schedule divided by zero at step 0."""
    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["growth.fade_images=0", "growth.stable_images=0"])
    assert one_line(e).startswith("growth.fade_images and growth.stable_images are both 0")
    assert config.resolve(None, ["growth.fade_images=0", "growth.stable_images=5"]).growth.fade_images == 0


def test_a_linear_decay_that_ends_before_the_run_is_refused_with_numbers_that_fit(one_line):
    """A preset's 750 + 750 under --steps 3000 took the lr to 0 at update 1500 and trained the rest at lr 0."""
    preset = config.resolve(None, ["optim.g.lr_decay=1.0", "optim.g.linear_decay_start=750",
                                   "optim.g.linear_decay_steps=750", "train.steps=1500"])
    assert preset.optim.g.linear_decay_start == 750  # ends with the run: the papers' schedule
    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["optim.g.lr_decay=1.0", "optim.g.linear_decay_start=750",
                              "optim.g.linear_decay_steps=750", "train.steps=3000"])
    assert "the last 1500 at lr 0" in one_line(e)
    assert "--set optim.g.linear_decay_start=1500 --set optim.g.linear_decay_steps=1500" in one_line(e)
    with pytest.raises(ConfigError, match="gives D \\(2 a step\\) 3000 updates"):  # D counts its own updates
        config.resolve(None, ["optim.d.lr_decay=1.0", "optim.d.linear_decay_start=750",
                              "optim.d.linear_decay_steps=750", "train.steps=1500", "train.d_steps=2"])
    shorter = config.resolve(None, ["optim.g.lr_decay=1.0", "optim.g.linear_decay_start=750",
                                    "optim.g.linear_decay_steps=750", "train.steps=500"])
    assert shorter.train.steps == 500  # ends after the run: a shortened run of the schedule, allowed


@pytest.mark.parametrize("preset", ["fanogan-mnist", "ganomaly-mnist", "anogan-mnist"])
@pytest.mark.parametrize("split", ["test", "valid"])
def test_an_anomaly_protocol_trains_on_its_train_split_only(preset, split, one_line):
    """data.split=test on mnist-one-normal trained the GAN on the test images anomaly eval then measured (and
    valid on the images fixing its threshold); both were accepted. A dataset that is no protocol keeps any split."""
    with pytest.raises(ConfigError) as e:
        resolve_config(preset, [f"data.split={split}"])
    line = one_line(e)
    assert line.startswith(f"data.split={split} would train on images that anomaly eval then uses")
    assert line.endswith("set data.split=train")
    with pytest.raises(ConfigError, match="set data.split=train"):
        resolve_config(preset, [f"data.split={split}", "data.name=anomaly-folder:somewhere", "data.digit=null"])
    assert resolve_config(preset, ["data.split=train"])[0].data.split == "train"
    assert resolve_config("dcgan-mnist", [f"data.split={split}"])[0].data.split == split
