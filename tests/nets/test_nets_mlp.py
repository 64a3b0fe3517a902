import pytest
import torch

from ganforge.objectives import losses
from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.layers import Maxout


def _ctx(shape=(1, 28, 28), kind="image", z_dim=100):
    return NetContext(data_shape=shape, z_dim=z_dim, kind=kind, data_mean=torch.full(shape, 0.13))


def test_paper_generator_shapes_and_sigmoid_range():
    G = build_generator(NetSpec("mlp"), _ctx())
    assert [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)] == [1200, 1200, 784]
    x = G(torch.randn(7, 100))
    assert x.shape == (7, 1, 28, 28)
    assert x.min() >= 0 and x.max() <= 1 and G.output_range == (0.0, 1.0)


def test_generator_output_bias_starts_at_data_marginals():
    G = build_generator(NetSpec("mlp"), _ctx())
    # With the pre-activation bias at logit(mean) and small weights, outputs sit near the mean.
    assert torch.sigmoid(G.head.bias).sub(0.13).abs().max() < 1e-5
    assert (G(torch.zeros(1, 100)).mean() - 0.13).abs() < 0.05


def test_points_generator_is_linear_and_unbounded():
    G = build_generator(NetSpec("mlp", {"hidden": [16]}), _ctx((2,), "points", z_dim=2))
    assert G.output_range is None
    assert G(torch.randn(5, 2)).shape == (5, 2)


def test_paper_discriminator_shapes():
    D = build_discriminator(NetSpec("maxout"), _ctx())
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces) for m in maxouts] == [(240, 5), (240, 5)]
    assert D(torch.rand(4, 1, 28, 28)).shape == (4,)


def test_maxout_takes_the_max_of_its_pieces():
    m = Maxout(3, units=2, pieces=4)
    x = torch.randn(5, 3)
    pieces = m.linear(x).view(5, 2, 4)
    assert torch.equal(m(x), pieces.max(-1).values)


def test_dropout_active_only_in_training():
    D = build_discriminator(NetSpec("maxout", {"hidden": [32, 32]}), _ctx((1, 8, 8)))
    x = torch.rand(16, 1, 8, 8)
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))
    drops = [m.p for m in D.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5]  # input keep 0.8, hidden keep 0.5


@pytest.mark.parametrize("g_loss", sorted(losses.G_LOSSES))
def test_one_d_and_one_g_step_each_loss(g_loss):
    torch.manual_seed(0)
    ctx = _ctx((1, 8, 8), z_dim=8)
    G = build_generator(NetSpec("mlp", {"hidden": [32]}), ctx)
    D = build_discriminator(NetSpec("maxout", {"hidden": [16], "pieces": 2}), ctx)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    real, z = torch.rand(8, 1, 8, 8), torch.randn(8, 8)
    d_before = [p.clone() for p in D.parameters()]
    loss_d = losses.D_LOSSES["minimax"](D(real), D(G(z).detach()))
    opt_d.zero_grad(); loss_d.backward(); opt_d.step()
    assert any(not torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    g_before = [p.clone() for p in G.parameters()]
    loss_g = losses.G_LOSSES[g_loss](D(G(z)), D(real) if losses.G_LOSSES[g_loss].needs_real else None)
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
    assert torch.isfinite(loss_g)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters()))


def test_unknown_arch_and_option_are_config_errors():
    with pytest.raises(ConfigError, match="did you mean 'mlp'"):
        build_generator(NetSpec("mpl"), _ctx())
    with pytest.raises(ConfigError, match="did you mean 'pieces'"):
        build_discriminator(NetSpec("maxout", {"piece": 3}), _ctx())
    with pytest.raises(ConfigError, match="drop probability"):
        build_discriminator(NetSpec("maxout", {"input_dropout": 1.5}), _ctx())


def test_batch_norm_in_g_normalises_each_hidden_layer_over_the_batch():
    G = build_generator(NetSpec("mlp", {"hidden": [16, 16], "batch_norm": True}),
                        NetContext(data_shape=(2,), z_dim=4, kind="points"))
    bns = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) == 2
    seen = []
    hook = bns[0].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    G.train()(torch.randn(64, 4) * 5 + 3)
    hook.remove()
    assert seen[0].mean(0).abs().max() < 1e-5 and (seen[0].std(0, unbiased=False) - 1).abs().max() < 1e-2
    assert G.eval()(torch.randn(3, 4)).shape == (3, 2)  # eval mode: running statistics, any batch size
