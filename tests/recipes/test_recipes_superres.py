"""The srresnet and srgan recipes on the unchanged engine: SRResNet learns to beat bicubic, SRGAN starts
from its checkpoint (checksum checked), both resume bitwise, and their runs upscale rather than sample."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from ganforge import config, presets, recipes
from ganforge.data import load_dataset
from ganforge.data.superres import bicubic_up, downsample
from ganforge.engine.loop import Trainer
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.training.crops import CropBatches, dihedral
from ganforge.runs.run import load_run

TINY = ["data.name=digits", "superres.hr_crop=8", "model.g.scale=2", "model.g.channels=16", "model.g.blocks=2",
        "train.batch_size=16", "optim.g.lr=2e-3",
        "log.tensorboard=false", "log.progress=false", "log.every=10", "log.checkpoint_every=10",
        "log.sample_every=1000", "superres.augment=false"]  # turned digits are not digits; augment has its own test
TINY_D = ["model.d.base_channels=8", "model.d.stages=2", "model.d.dense=16"]  # srgan's D (srresnet has none)


def _trainer(preset, path, *extra, resume=False):
    raw = presets.load_preset(preset)[0]
    tiny = TINY + (TINY_D if raw.get("recipe") == "srgan" else [])
    return Trainer(config.resolve(raw, [*tiny, *extra], reads=recipes.reads_of), path, resume=resume)


def _weights(run: Path, group: str) -> dict[str, torch.Tensor]:
    last = sorted(p for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    return load_file(last / f"{group}.safetensors")


@pytest.fixture(scope="module")
def srresnet_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sr") / "srresnet"
    _trainer("srresnet-x4", path, "train.steps=80").fit()
    return path


def test_srresnet_learns_to_beat_bicubic_on_held_out_digits(srresnet_run):
    stats = [json.loads(line) for line in (srresnet_run / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["pixel_mse"] < 0.7 * stats[0]["pixel_mse"]  # (the bicubic skip starts it near bicubic)
    hr = load_dataset("digits", split="test").x.float() / 255
    lr = downsample(hr, 2)
    model = load_run(srresnet_run).model
    assert list(model.nets) == ["G"] and model.scale == 2
    ours = torch.mean((model.upscale(lr) - hr) ** 2)
    bicubic = torch.mean((bicubic_up(lr, 2) - hr) ** 2)
    assert ours < 0.8 * bicubic, (ours, bicubic)


def test_an_sr_run_upscales_and_does_not_sample(srresnet_run):
    run = load_run(srresnet_run)
    assert run.model.upscale(torch.rand(1, 1, 5, 7)).shape == (1, 1, 10, 14)
    with pytest.raises(GanforgeError, match="ganforge upscale"):
        run.sample(4)


def test_srgan_starts_from_the_srresnet_checkpoint_and_trains_g_against_d(srresnet_run, tmp_path):
    tr = _trainer("srgan-x4", tmp_path / "gan", f"superres.init_g={srresnet_run}", "train.steps=3", "log.every=1")
    start = {k: v.clone() for k, v in tr.built.nets["G"].state_dict().items()}
    assert all(torch.equal(start[k], v) for k, v in _weights(srresnet_run, "G").items())
    assert tr.built.record["init_g"]["path"].endswith("step-0000080")
    tr.fit()
    stats = [json.loads(line) for line in (tmp_path / "gan" / "stats.jsonl").read_text().splitlines()]
    assert {"loss_D", "loss_G", "D_real", "D_fake", "g_adversarial", "feat_dconv", "pixel_mse"} <= stats[-1].keys()
    groups = {f.stem for f in (tmp_path / "gan" / "checkpoints" / "step-0000003").glob("*.safetensors")}
    assert groups == {"G", "D", "optim_G", "optim_D"}
    assert not torch.equal(_weights(tmp_path / "gan", "G")["head.0.weight"], start["head.0.weight"])


def test_srgan_resumes_bitwise(srresnet_run, tmp_path):
    extra = [f"superres.init_g={srresnet_run}", "log.checkpoint_every=2", "superres.adversarial=relativistic"]
    _trainer("srgan-x4", tmp_path / "straight", *extra, "train.steps=4").fit()
    _trainer("srgan-x4", tmp_path / "split", *extra, "train.steps=2").fit()
    _trainer("srgan-x4", tmp_path / "split", *extra, "train.steps=4", resume=True).fit()
    for group in ("G", "D"):
        a, b = _weights(tmp_path / "straight", group), _weights(tmp_path / "split", group)
        assert all(torch.equal(a[k], b[k]) for k in a), group


def test_a_damaged_or_missing_init_checkpoint_is_one_error(srresnet_run, tmp_path):
    with pytest.raises(ConfigError, match="neither a run directory"):
        _trainer("srgan-x4", tmp_path / "a", f"superres.init_g={tmp_path}")
    broken = tmp_path / "broken"
    ckpt = sorted((srresnet_run / "checkpoints").glob("step-*"))[-1]
    broken.mkdir()
    for f in ckpt.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    data = bytearray((broken / "G.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (broken / "G.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        _trainer("srgan-x4", tmp_path / "b", f"superres.init_g={broken}")


def test_an_init_g_trained_with_other_g_options_is_refused_not_loaded_into_another_g(srresnet_run, tmp_path):
    """upsample_blur has no weights: the SRResNet's G loaded into a G with the blur on would load without a
    complaint and compute something else. Its run's model.g is checked first."""
    with pytest.raises(ConfigError, match="model.g.upsample_blur=False, and this run builds model.g.upsample_blur=True"):
        _trainer("srgan-x4", tmp_path / "a", f"superres.init_g={srresnet_run}", "model.g.upsample_blur=true")
    assert not (tmp_path / "a" / "checkpoints").exists()


@pytest.mark.parametrize("setting,message", [("superres.hr_crop=7", "not a multiple of the scale"),
                                             ("superres.hr_crop=16", "larger than the training images"),
                                             ("model.g.arch=dcgan", "needs a super-resolution generator")])
def test_configs_that_cannot_train_are_one_error(tmp_path, setting, message):
    raw = presets.load_preset("srresnet-x4")[0]
    first = [setting] if setting.startswith("model.g.arch") else []  # after TINY's model.g keys it would drop them
    rest = [s for s in TINY if not (first and s.startswith("model.g."))] + ([] if first else [setting])
    with pytest.raises(ConfigError, match=message):
        Trainer(config.resolve(raw, [*first, *rest], reads=recipes.reads_of), tmp_path / "r")


def test_real_pairs_are_cropped_at_the_same_place():
    hr = torch.randint(0, 256, (6, 3, 24, 20), dtype=torch.uint8)
    lr = hr[..., ::4, ::4].contiguous()  # any LR whose pixel (i, j) belongs to HR block (4i, 4j)
    batches = CropBatches(hr, lr, 4, 8, 4, seed=0, device=torch.device("cpu"))
    for _ in range(3):
        small, big = batches.next()
        assert small.shape == (4, 3, 2, 2) and big.shape == (4, 3, 8, 8)
        assert torch.equal(small, big[..., ::4, ::4])


def test_augmentation_turns_pairs_together_and_draws_all_eight_ways():
    lr = torch.randint(0, 256, (6, 3, 6, 5), dtype=torch.uint8)
    hr = lr.repeat_interleave(4, -2).repeat_interleave(4, -1)  # 4x4 blocks: any flip keeps LR = HR[::4, ::4]
    batches = CropBatches(hr, lr, 4, 8, 4, seed=0, device=torch.device("cpu"), augment=True)
    plain = CropBatches(hr, lr, 4, 8, 4, seed=0, device=torch.device("cpu"))
    (_, first), (_, first_plain) = batches.next(), plain.next()  # the same crops, drawn before the turns
    ways = [dihedral(first_plain, torch.full((4,), k)) for k in range(8)]
    assert all(any(torch.equal(first[i], w[i]) for w in ways) for i in range(4))
    assert not torch.equal(first, first_plain)
    for _ in range(5):
        small, big = batches.next()
        assert torch.equal(small, big[..., ::4, ::4])  # LR and HR turned the same way
    square = torch.arange(4.0).view(1, 1, 2, 2).expand(8, 1, 2, 2)
    assert len({tuple(t.flatten().tolist()) for t in dihedral(square, torch.arange(8))}) == 8


def test_real_pairs_from_a_paired_dataset_train_and_must_be_scale_apart(tmp_path):
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (20, 3, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "pairs.npz", a=hr[:, :, ::2, ::2], b=hr)  # a: LR, b: its HR target
    tr = _trainer("srresnet-x4", tmp_path / "r", f"data.name=npz:{tmp_path / 'pairs.npz'}", "train.steps=2")
    assert tr.built.data.paired and tr.built.record["data_shape"] == [3, 8, 8]
    tr.fit()
    np.savez(tmp_path / "bad.npz", a=hr[:, :, :12, :12], b=hr)
    with pytest.raises(ConfigError, match="not x2"):
        _trainer("srresnet-x4", tmp_path / "b", f"data.name=npz:{tmp_path / 'bad.npz'}")


def test_crop_batches_past_the_end_of_a_shrunk_epoch_start_a_new_one():
    """A resume on fewer images restores a position past the new epoch's end: the next batch is a full one
    from a new epoch (it was an empty stack, an error)."""
    hr = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    batches = CropBatches(hr, None, batch_size=4, crop=8, scale=2, seed=0, device=torch.device("cpu"))
    batches.position = 5  # restored from a run on 20 images; 8 images make 2 batches an epoch
    lr, out = batches.next()
    assert out.shape == (4, 1, 8, 8) and lr.shape == (4, 1, 4, 4) and batches.epoch == 1 and batches.position == 1


def test_an_init_g_from_a_run_that_is_not_super_resolution_names_the_run_to_give(tmp_path):
    """init_g pointing at a pix2pix run suggested --set model.g.arch=unet, which cannot build here: the fix is
    another init_g (a srresnet run), and model.g.arch=X is suggested only when X upscales."""
    other = tmp_path / "p2p"
    (other / "checkpoints" / "step-0000002").mkdir(parents=True)
    (other / "checkpoints" / "step-0000002" / "manifest.json").write_text('{"files": {}}')
    cfg = config.resolve(presets.load_preset("pix2pix-edges")[0], [], reads=recipes.reads_of)
    (other / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    with pytest.raises(ConfigError) as raised:
        _trainer("srgan-x4", tmp_path / "gan", f"superres.init_g={other}")
    message = str(raised.value)
    assert "is from a paired-translation run (model.g.arch=unet), not a super-resolution one" in message, message
    assert message.endswith("give a srresnet (or srgan) run as superres.init_g") and "--set model.g.arch" not in message
    assert not (tmp_path / "gan" / "checkpoints").exists()
