"""Each fast-path switch, forced on the CPU, trains what the plain path trains (within its rounding)."""


import pytest
import torch
from warned import warned

from ganforge import config, presets
from ganforge.training import speed
from ganforge.engine.loop import Trainer
from ganforge.objectives import losses
from ganforge.training.speed import SpeedPlan


QUIET = ["log.tensorboard=false", "log.progress=false", "log.every=5", "log.sample_every=1000",
         "train.batch_size=16", "model.g={arch: dcgan, base_channels: 16}",
         "model.d={arch: dcgan, base_channels: 16}"]


@pytest.fixture
def dcgan_trainer(tmp_path):
    """A tiny DCGAN on the 8x8 digits (convolutions, batch norm: what channels_last and bf16 act on)."""

    def make(*extra, name):
        return Trainer(config.resolve(presets.load_preset("dcgan-digits")[0], [*QUIET, *extra]), tmp_path / name)

    return make


def _params(tr):
    return {f"{n}.{k}": v.detach().clone().float() for n, net in tr.built.nets.items() for k, v in net.state_dict().items()}


def _largest_difference(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


def _relative_update_error(start, plain, fast):
    """|| fast's change - plain's change || / || plain's change ||, over all weights."""
    num = sum(((fast[k] - plain[k]) ** 2).sum().item() for k in start)
    den = sum(((plain[k] - start[k]) ** 2).sum().item() for k in start)
    return (num / den) ** 0.5


def test_auto_is_the_plain_path_on_the_cpu_and_the_fast_path_on_cuda(monkeypatch):
    cpu = speed.plan(config.SpeedConfig(), torch.device("cpu"), image_data=True)
    assert cpu == SpeedPlan()  # fp32, for-loop optimiser, no layout change, no compile
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    gpu = speed.plan(config.SpeedConfig(), torch.device("cuda"), image_data=True)
    assert gpu.bf16 and gpu.channels_last and gpu.optimizer == "fused" and gpu.tf32 and gpu.cudnn_benchmark
    assert gpu.compile is None  # opt-in: see the SpeedConfig comment
    points = speed.plan(config.SpeedConfig(), torch.device("cuda"), image_data=False)
    assert not points.channels_last


def test_the_banner_says_graphs_run_eagerly_on_the_cpu(monkeypatch):
    """speed.graphs=true on a CPU takes the graph path's static buffers but captures nothing: the banner and
    options.json say so, rather than claim CUDA graphs."""
    on_cpu = speed.plan(config.SpeedConfig(graphs=True), torch.device("cpu"), image_data=True)
    assert on_cpu.graphs and "eager on the CPU (no CUDA graphs)" in on_cpu.describe()
    assert "whole-step CUDA graphs" not in on_cpu.describe()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    on_gpu = speed.plan(config.SpeedConfig(graphs=True), torch.device("cuda"), image_data=True)
    assert "whole-step CUDA graphs" in on_gpu.describe()


def test_optimizer_kwargs_fall_back_to_foreach_where_there_is_no_fused_kernel():
    assert speed.optimizer_kwargs(torch.optim.Adam, "fused") == {"fused": True}
    assert speed.optimizer_kwargs(torch.optim.RMSprop, "fused") == {"foreach": True}
    assert speed.optimizer_kwargs(torch.optim.SGD, "for-loop") == {"foreach": False}


@pytest.mark.parametrize("impl", ["fused", "foreach"])
@pytest.mark.parametrize("optim", ["adam", "sgd", "rmsprop"])
def test_fused_and_foreach_optimisers_match_the_for_loop(tiny_trainer, impl, optim):
    opts = ["train.steps=6", f"optim.g.name={optim}", f"optim.d.name={optim}"]
    plain = tiny_trainer(*opts, name="plain")
    plain.fit()
    fast = tiny_trainer(*opts, f"speed.optimizer={impl}", name="fast")
    if impl == "fused" and optim != "rmsprop":
        assert fast.built.optimizers["G"].defaults.get("fused") is True
    fast.fit()
    assert _largest_difference(_params(plain), _params(fast)) < 1e-5


def test_channels_last_matches_the_default_layout(dcgan_trainer):
    opts = ["train.steps=4", "optim.g.name=sgd", "optim.d.name=sgd", "optim.g.lr=0.05", "optim.d.lr=0.05"]
    plain = dcgan_trainer(*opts, name="plain")
    plain.fit()
    fast = dcgan_trainer(*opts, "speed.channels_last=true", name="fast")
    conv = next(m for m in fast.built.nets["D"].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    position = fast.built.parts.streams["real"].state_dict()
    assert fast.built.parts.streams["real"].next()[0].is_contiguous(memory_format=torch.channels_last)
    fast.built.parts.streams["real"].load_state_dict(position)
    fast.fit()
    assert _largest_difference(_params(plain), _params(fast)) < 1e-5


def test_bf16_autocast_keeps_fp32_weights_and_losses_and_follows_the_fp32_updates(dcgan_trainer):
    opts = ["train.steps=3", "optim.g.name=sgd", "optim.d.name=sgd", "optim.g.lr=0.05", "optim.d.lr=0.05"]
    plain = dcgan_trainer(*opts, name="plain")
    start = _params(plain)
    plain.fit()
    fast = dcgan_trainer(*opts, "speed.precision=bf16", name="fast")
    assert fast.built.speed.bf16
    seen = {}
    d_loss = fast.built.parts.context.d_loss

    def spy(real_logits, fake_logits, real_label=1.0):
        seen["logits"] = real_logits.dtype
        out = d_loss(real_logits, fake_logits)
        seen["loss"] = out.dtype
        return out

    fast.built.parts.context.d_loss = losses.DLoss(spy)
    fast.fit()
    assert seen == {"logits": torch.float32, "loss": torch.float32}
    assert all(p.dtype == torch.float32 for net in fast.built.nets.values() for p in net.parameters())
    # bf16 keeps 8 bits of mantissa: the updates agree to a few per cent, not bit for bit.
    error = _relative_update_error(start, _params(plain), _params(fast))
    assert error < 0.1, error


def test_bf16_runs_the_gradient_penalty_and_feature_matching(tiny_trainer):
    tr = tiny_trainer("train.steps=3", "speed.precision=bf16", "reg.gp=1.0", "reg.feature_matching=1.0",
                      "loss.d=wasserstein", "loss.g=wasserstein")
    result = tr.fit()
    stats = result.last_stats
    assert all(torch.isfinite(torch.tensor(v)) for k, v in stats.items() if isinstance(v, float))
    for key in ("gp", "feature_matching"):  # both terms ran under bf16 and measured something
        assert key in stats and stats[key] > 0, (key, stats)


def test_torch_compile_matches_eager(tiny_trainer):
    # Without dropout: compiled code draws its random masks from its own generator, not eager's.
    opts = ["train.steps=3", "model.d.input_dropout=0.0", "model.d.hidden_dropout=0.0", "optim.g.name=sgd",
            "optim.d.name=sgd"]
    plain = tiny_trainer(*opts, name="plain")
    plain.fit()
    fast = tiny_trainer(*opts, "speed.compile=true", name="fast")
    fast.fit()
    assert [fn.failed for fn in fast.built.compiled] == [None, None, None]
    assert _largest_difference(_params(plain), _params(fast)) < 1e-5


def test_a_failing_compile_falls_back_to_eager_with_one_warning(tiny_trainer, monkeypatch):
    def broken_compile(fn, mode=None):
        def run(*args, **kwargs):
            raise RuntimeError("backend compiler failed (simulated)")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    plain = tiny_trainer("train.steps=3", name="plain")
    plain.fit()
    fast = tiny_trainer("train.steps=3", "speed.compile=max-autotune", name="fast")
    with warned() as caught:
        fast.fit()
    assert sum("training goes on without it" in w for w in caught) == 3  # G, D.features, D.head
    assert all(fn.failed for fn in fast.built.compiled)
    assert _largest_difference(_params(plain), _params(fast)) == 0.0


def test_bad_speed_values_are_refused_with_the_choices(one_line):
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["speed.precision=fp16"])
    assert "auto, fp32 or bf16" in one_line(e)
    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["speed.optimizer=fusd"])
    assert "did you mean 'fused'" in one_line(e)


@pytest.mark.parametrize("arch", ["dcgan"])
def test_channels_last_nets_see_no_nchw_map_in_a_training_step(tmp_path, arch):
    """Every 4-D tensor into or out of every layer of G and D, in a D and a G update, is channels_last
    (a map in the other layout is what cuDNN converts with nchwToNhwcKernel on the GPU)."""
    nets = f"{{arch: {arch}, base_channels: 8}}"
    tr = Trainer(config.resolve(presets.load_preset("dcgan-digits")[0],
                                [*QUIET, "speed.channels_last=true", f"model.g={nets}", f"model.d={nets}",
                                 "data.resolution=16"]), tmp_path / arch)
    nchw = []

    def check(module, inputs, output):
        for t in [*inputs, output]:
            if torch.is_tensor(t) and t.dim() == 4 and not t.is_contiguous(memory_format=torch.channels_last):
                nchw.append((type(module).__name__, tuple(t.shape)))

    for net in tr.built.nets.values():
        for m in net.modules():
            if not list(m.children()):
                m.register_forward_hook(check)
    for phase in tr.built.phases:
        phase.run(tr.built.parts.context)
    assert nchw == []
