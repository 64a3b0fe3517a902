"""f-AnoGAN's encoder stage trains E only: G and D (weights and batch-norm statistics) stay bitwise as
the GAN stage left them, the izi_f loss falls, and a resume across the stage switch is exact."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge import config, presets
from ganforge.engine.loop import Trainer
from ganforge.errors import ConfigError
from ganforge.runs.run import load_run

SMALL = ["data.name=digits", "data.digit=null", "model.g.base_channels=8", "model.d.base_channels=8",
         "model.z_dim=8", "train.batch_size=32", "train.d_steps=1", "optim.g.lr=0.001", "optim.d.lr=0.001",
         "log.tensorboard=false", "log.progress=false",
         "log.every=5", "log.sample_every=100000", "log.checkpoint_every=30", "log.keep_checkpoints=10"]


def _trainer(tmp_path, *extra, name="run", resume=False):
    cfg = config.resolve(presets.load_preset("fanogan-mnist")[0], [*SMALL, *extra])
    return Trainer(cfg, tmp_path / name, resume=resume)


def _checkpoint(run: Path, step: int) -> dict[str, torch.Tensor]:
    folder = run / "checkpoints" / f"step-{step:07d}"
    return {f"{f.stem}.{k}": v for f in folder.glob("*.safetensors") for k, v in load_file(f).items()}


def test_the_encoder_stage_leaves_g_and_d_bitwise_unchanged(tmp_path):
    tr = _trainer(tmp_path, "train.steps=90", "anomaly.encoder_steps=60")
    assert list(tr.built.nets) == ["G", "D", "E"]
    tr.fit()
    gan_end, final = _checkpoint(tmp_path / "run", 30), _checkpoint(tmp_path / "run", 90)
    frozen = [k for k in gan_end if k.split(".")[0] in ("G", "D")]
    assert any("running_mean" in k for k in frozen)  # G's batch norm statistics are among them
    for key in frozen:
        assert torch.equal(gan_end[key], final[key]), key
    assert any(not torch.equal(gan_end[k], final[k]) for k in gan_end if k.startswith("E."))
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    gan, enc = [s for s in stats if s["step"] <= 30], [s for s in stats if s["step"] > 30]
    assert all("loss_D" in s and "loss_E" not in s for s in gan) and all("loss_E" in s and "loss_D" not in s
                                                                         for s in enc)
    x = tr.built.parts.context.real.scale(tr.built.data.x[:200])
    before, after = (_izi_residual(tmp_path / "run", step, x) for step in (30, 90))
    # E learns to invert G: reconstructions come closer (by little: a 30-step G on 8x8 digits reaches few images)
    assert after < 0.97 * before, (before, after)


def _izi_residual(run: Path, step: int, x: torch.Tensor) -> float:
    model = load_run(run, run / "checkpoints" / f"step-{step:07d}").model
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model.generator(model.encoder(x)), x).item()


def test_a_resume_across_the_stage_switch_is_exact(tmp_path):
    _trainer(tmp_path, "train.steps=60", "anomaly.encoder_steps=30", name="straight").fit()
    # Stopped at step 45, inside the encoder stage (the switch is at step 30 in both halves) ...
    _trainer(tmp_path, "train.steps=45", "anomaly.encoder_steps=15", "log.checkpoint_every=15", name="split").fit()
    cfg = config.resolve(presets.load_preset("fanogan-mnist")[0], [*SMALL, "train.steps=60", "anomaly.encoder_steps=30",
                                                                    "log.checkpoint_every=15"])
    # ... and resumed to the end: every weight, buffer and optimiser state as in one go.
    Trainer(cfg, tmp_path / "split", resume=True, allow_config_change=True).fit()
    a, b = _checkpoint(tmp_path / "straight", 60), _checkpoint(tmp_path / "split", 60)
    assert a.keys() == b.keys() and {k.split(".")[0] for k in a} >= {"G", "D", "E", "optim_E"}
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_fanogan_without_an_encoder_stage_is_one_line(tmp_path, one_line):
    with pytest.raises(ConfigError) as e:
        _trainer(tmp_path, "train.steps=10", "anomaly.encoder_steps=0")
    assert "anomaly.encoder_steps" in one_line(e)
    with pytest.raises(ConfigError) as e:
        _trainer(tmp_path, "train.steps=10", "anomaly.encoder_steps=10")
    assert "must be less than train.steps" in one_line(e)


def test_ganforge_eval_sends_a_fanogan_run_to_anomaly_eval(tmp_path, one_line):
    """A run on a protocol's normal class scored by eval against that protocol's test split (mostly anomalies)
    measures nothing: eval refuses it with the recipe's own command, and train names that command next."""
    from ganforge import recipes
    from ganforge.api import check_eval_applies
    from ganforge.config import RunConfig
    from ganforge.errors import WrongCommandError

    recipe = recipes.get("fanogan")
    assert recipe.eval_command == recipe.next_command == "ganforge anomaly eval {run}"
    with pytest.raises(WrongCommandError) as e:
        check_eval_applies("runs/f", RunConfig(recipe="fanogan"))
    assert one_line(e) == "runs/f is a fanogan run: measure it with ganforge anomaly eval runs/f"
    with pytest.raises(ConfigError, match="eval.every"):  # in-training eval would score the same mixture
        _trainer(tmp_path, "train.steps=4", "anomaly.encoder_steps=2", "eval.every=2")


def test_scoring_uses_the_g_the_encoder_was_trained_against(tmp_path, one_line, monkeypatch):
    """E is fitted to the raw G (izi_f_term); with ema.beta set the run was scored with G_ema(E(x)), a G that E
    never saw (AUROC 0.61 -> 0.44 in a probe). fanogan keeps no moving average now, so ema.* is refused, and a
    run made before that rule, whose checkpoint holds a G_ema, is scored with its raw G."""
    from ganforge.anomaly import scorer
    from ganforge.recipes.fanogan import FAnoGAN
    from ganforge.runs import checkpoint

    from ganforge.api import resolve_config

    with pytest.raises(ConfigError) as e:  # as train and --dry-run resolve it: a key the recipe never reads
        resolve_config("fanogan-mnist", ["ema.beta=0.9"])
    assert "ema.beta" in one_line(e) and "is not read by recipe 'fanogan'" in one_line(e)
    with monkeypatch.context() as m:  # a run made when fanogan kept G_ema (as noise_to_image does)
        m.setattr(FAnoGAN, "averaged", lambda self: {"G": "G_ema"})
        _trainer(tmp_path, "train.steps=6", "anomaly.encoder_steps=3", "ema.beta=0.5", name="old").fit()
    run = load_run(tmp_path / "old")
    tensors, _ = checkpoint.load(run.checkpoint)
    assert "G_ema" in tensors and any(not torch.equal(v, tensors["G_ema"][k]) for k, v in tensors["G"].items())
    used = scorer(run).G.state_dict()
    assert scorer(run).method == "fanogan" and used.keys() == tensors["G"].keys()
    assert all(torch.equal(used[k], tensors["G"][k]) for k in used)
