"""The semi-supervised GAN's CIFAR conv nets (ssgan-conv): K logits whose logsumexp is the realness logit,
the pooled features feature matching reads, weight-normalised convs whose data-dependent init whitens each
channel, G's 32 px output in [0, 1]; and one D and one G step of ssgan-cifar-4000 through the CLI.

CI has no cifar10-jpeg (and decoding its 60,000 JPEGs into each test's private data dir would take minutes),
so the preset steps on the digits, in colour at 32 px, as tests/test_presets.py does."""

import json

import torch
from torch.nn import functional as F

import ganforge
from ganforge.api import resolve_config
from ganforge.cli import main
from ganforge.config import NetSpec
from ganforge.engine.loop import Trainer
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.ssgan_conv import WNConv2d
from ganforge.training import seeds
from ganforge.training.batches import Noise

CTX = NetContext(data_shape=(3, 32, 32), z_dim=16, num_classes=10)


def _d(**options):
    return build_discriminator(NetSpec("ssgan-conv", {"channels": 4, **options}), CTX)


def _g(ctx=CTX):
    return build_generator(NetSpec("ssgan-conv", {"channels": 8}), ctx)


def test_shapes_the_pooled_features_and_the_realness_logit():
    torch.manual_seed(0)
    D, G = _d(), _g()
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 3, 32, 32) and 0 <= x.min() and x.max() <= 1 and G.output_range == (0.0, 1.0)
    assert [m.out_channels for m in G.ups if isinstance(m, torch.nn.ConvTranspose2d)] == [16, 8]  # 32-16-8 wide
    D.eval()
    f = D.features(x)
    assert f.shape == (3, 8) and D.classify(f).shape == (3, 10) and D(x).shape == (3,)
    assert torch.allclose(D(x), torch.logsumexp(D.classify(f), 1))
    h = x * 2 - 1  # the features are the global average pool of the last 1x1 layer's map (6x6 at 32 px)
    for layer in D.layers:
        h = F.leaky_relu(layer(h), 0.2)
    assert h.shape == (3, 8, 6, 6) and torch.allclose(f, h.mean((2, 3)), atol=1e-6)
    assert _g(NetContext(data_shape=(1, 28, 28), z_dim=16, num_classes=10))(torch.randn(2, 16)).shape == (2, 1, 28, 28)


def test_weight_norm_ignores_the_scale_of_v_and_the_init_whitens_each_channel():
    torch.manual_seed(0)
    x, scales = torch.rand(4, 3, 8, 8), torch.arange(1.0, 6.0)
    for conv, axis in ((WNConv2d(3, 5, 3, 1, 1), 0), (WNConv2d(3, 5, 5, 2, 2, transposed=True), 1)):
        before = conv(x)  # each output channel's kernel is normalised as a whole: its own scale cancels
        with torch.no_grad():
            conv.v.mul_(scales.view([-1 if d == axis else 1 for d in range(4)]))
        assert before.shape[1] == 5 and torch.allclose(conv(x), before, atol=1e-5)
    assert WNConv2d(3, 5, 5, 2, 2, transposed=True)(x).shape == (4, 5, 16, 16)
    D = _d(input_dropout=0.0, dropout=0.0)
    batch = torch.rand(64, 3, 32, 32)
    D.init_from_data(batch)
    h = D.layers[1](F.leaky_relu(D.layers[0](batch * 2 - 1), 0.2))  # the second layer, after the first's init
    assert torch.allclose(h.mean((0, 2, 3)), torch.zeros(4), atol=1e-4)
    assert torch.allclose(h.std((0, 2, 3), unbiased=False), torch.ones(4), atol=1e-3)
    trainable = {n for n, _ in D.named_parameters()}
    assert "layers.0.g" not in trainable and "layers.0.v" in trainable and "out.g" in trainable
    assert "out.g" in {n for n, _ in _g().named_parameters()}  # G's weight-normed output trains its scale


def test_the_output_layers_start_at_the_reference_s_std_of_0_1():
    """improved-gan's CIFAR model gives D's class logits and G's tanh input init_stdv=0.1 by its data-dependent
    init (D starts near-uniform over the classes, G near tanh's linear range): each output channel's mean is 0 and
    its std 0.1 on the init batch, and G's batch norms keep their running statistics."""
    torch.manual_seed(0)
    D = _d(input_dropout=0.0, dropout=0.0)
    batch = torch.rand(64, 3, 32, 32)
    D.init_from_data(batch)
    logits = D.classify(D.features(batch))
    assert torch.allclose(logits.mean(0), torch.zeros(10), atol=1e-4)
    assert torch.allclose(logits.std(0, unbiased=False), torch.full((10,), 0.1), atol=1e-4)
    G, z = _g(), torch.randn(64, 16)
    running = [m.running_mean.clone() for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    G.init_from_noise(z)
    assert all(torch.equal(a, m.running_mean) for a, m in
               zip(running, [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]))
    pre = G.out(G._trunk(z))  # training mode: the batch's statistics, as the init used
    assert torch.allclose(pre.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(pre.std((0, 2, 3), unbiased=False), torch.full((3,), 0.1), atol=1e-4)


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    D, x = _d(), torch.rand(2, 3, 32, 32)
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))


def _train(tmp_path, name, steps):
    out = tmp_path / name
    sets = ["data.name=digits", "data.channels=3", "data.resolution=32", "data.labels_per_class=2",
            "model.z_dim=16", "model.d.channels=4", "model.g.channels=8", "train.batch_size=20", "log.every=1",
            "log.tensorboard=false", "log.progress=false", "log.sample_every=1000", "log.checkpoint_every=1000"]
    argv = ["train", "ssgan-cifar-4000", "--steps", str(steps), "--out", str(out), "--device", "cpu"]
    assert main(argv + [a for s in sets for a in ("--set", s)]) == 0
    return out


def test_the_recipe_initialises_g_s_output_layer_from_a_batch_of_z(tmp_path):
    """The semi-supervised recipe runs G's data-dependent init too, on train.batch_size z of its own seed stream:
    at step 0 tanh's input has std 0.1 per channel on that batch (1 would mean it was never run)."""
    cfg, _ = resolve_config("ssgan-cifar-4000", ["data.name=digits", "data.channels=3", "data.resolution=32",
                                                 "data.labels_per_class=2", "model.z_dim=16", "model.d.channels=4",
                                                 "model.g.channels=8", "train.batch_size=20", "train.device=cpu",
                                                 "log.tensorboard=false", "log.progress=false"])
    G = Trainer(cfg, tmp_path / "r").built.nets["G"]
    z = Noise(16, cfg.model.z_dist, torch.device("cpu"), seed=seeds.stream(cfg.seed, seeds.G_INIT))(20)
    with torch.no_grad():
        pre = G.out(G._trunk(z))
    assert torch.allclose(pre.std((0, 2, 3), unbiased=False), torch.full((3,), 0.1), atol=1e-3)


def test_one_d_and_one_g_step_of_the_preset_through_the_cli(tmp_path):
    one, two = _train(tmp_path, "one", 1), _train(tmp_path, "two", 2)
    runs = [ganforge.load_run(d) for d in (one, two)]
    for name in ("G", "D"):  # the second step moved both networks
        pairs = zip(runs[0].nets[name].parameters(), runs[1].nets[name].parameters())
        assert any(not torch.equal(a, b) for a, b in pairs), name
    assert type(runs[0].nets["D"]).__name__ == "SSGANConvDiscriminator"
    rows = [json.loads(line) for line in (two / "stats.jsonl").read_text().splitlines() if line.strip()]
    last = [r for r in rows if "loss_lab" in r][-1]
    for key in ("loss_lab", "loss_unl", "D_real", "D_fake", "feature_matching"):
        assert key in last and torch.isfinite(torch.tensor(float(last[key]))), key
    logits = runs[1].model.class_logits(torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8))
    assert logits.shape == (5, 10) and torch.isfinite(logits).all()
