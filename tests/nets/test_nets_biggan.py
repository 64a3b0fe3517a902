"""BigGAN's generator: shapes at tiny widths, one D and one G step, hierarchical z and the shared class code."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from ganforge.config import NetSpec, RunConfig
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.biggan import BigGANBlock, LinearConditionalBatchNorm2d
from ganforge.nets.layers import SelfAttention
from ganforge.objectives.orthogonal import orthogonal_penalty
from ganforge.recipes.noise_to_image import NoiseToImageModel


def _ctx(shape=(3, 32, 32), z_dim=32, num_classes=10):
    return NetContext(data_shape=shape, z_dim=z_dim, num_classes=num_classes)


def _g(ctx, **options):
    return build_generator(NetSpec("biggan", {"channels": 8, "shared_dim": 6, "conditioning": "cbn", **options}), ctx)


@pytest.mark.parametrize("shape, z_dim, blocks", [((3, 32, 32), 32, 3), ((3, 16, 16), 9, 2), ((1, 28, 28), 9, 2)])
def test_shapes_at_tiny_widths(shape, z_dim, blocks):
    torch.manual_seed(0)
    G = _g(_ctx(shape, z_dim))
    x = G(torch.randn(4, z_dim), torch.tensor([0, 3, 9, 3]))
    assert x.shape == (4, *shape) and G.output_range == (-1.0, 1.0) and x.abs().max() <= 1
    assert len(G.blocks) == blocks and G.chunk == z_dim // (blocks + 1)
    assert G.project.in_features == G.chunk  # only the first chunk reaches the 4x4 (7x7) start
    assert G.blocks[0].norm1.gain.in_features == 6 + G.chunk  # [shared(y), z_i]


def test_one_d_step_and_one_g_step_with_spectral_norm_and_attention():
    torch.manual_seed(0)
    ctx = _ctx()
    G = _g(ctx, channels=4, attention_res=16, spectral_norm=True)
    D = build_discriminator(NetSpec("resnet", {"channels": 4, "conditioning": "projection", "spectral_norm": True,
                                               "attention_res": 16}), ctx)
    assert sum(isinstance(m, SelfAttention) for m in G.modules()) == 1
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    real, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randint(0, 10, (4,))
    z = torch.randn(4, 32)
    d_before = [p.detach().clone() for p in D.parameters()]
    loss_d = F.relu(1 - D(real, y)).mean() + F.relu(1 + D(G(z, y).detach(), y)).mean()
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    assert any(not torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    g_before = G.shared.weight.detach().clone()
    loss_g = -D(G(z, y), y).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert not torch.equal(g_before, G.shared.weight)  # the class code learns
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)


def test_spectral_norm_leaves_g_s_class_embedding_plain_and_d_s_projection_normalised():
    """BigGAN-PyTorch keeps G's shared embedding unnormalised; D's projection embedding is normalised."""
    ctx = _ctx()
    G = _g(ctx, spectral_norm=True)
    D = build_discriminator(NetSpec("resnet", {"channels": 4, "conditioning": "projection", "spectral_norm": True}), ctx)
    assert not parametrize.is_parametrized(G.shared, "weight")
    assert parametrize.is_parametrized(G.project, "weight") and parametrize.is_parametrized(G.blocks[0].norm1.gain, "weight")
    embeddings = [m for m in D.modules() if isinstance(m, torch.nn.Embedding)]
    assert embeddings and all(parametrize.is_parametrized(m, "weight") for m in embeddings)


def test_hierarchical_z_splits_as_specified():
    """Chunk 0 feeds the start, chunk i + 1 joins block i's condition: changing chunk 2 leaves the
    start and block 0 untouched and changes block 1 onwards."""
    torch.manual_seed(0)
    G = _g(_ctx()).eval()
    z, y = torch.randn(3, 32), torch.tensor([1, 2, 3])
    first, conds = G.conditions(z, y)
    assert torch.equal(first, z[:, :8])
    for i, cond in enumerate(conds):
        assert cond.shape == (3, 6 + 8)
        assert torch.equal(cond[:, :6], G.shared(y)) and torch.equal(cond[:, 6:], z[:, 8 * (i + 1):8 * (i + 2)])
    seen = []
    for block in G.blocks:
        block.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
    G(z, y)
    z2 = z.clone()
    z2[:, 16:24] += 1.0  # the chunk of block 1
    G(z2, y)
    a, b = seen[:3], seen[3:]
    assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1]) and not torch.allclose(a[2], b[2])


def test_without_hierarchy_the_whole_z_feeds_the_start_and_blocks_read_the_class_code_only():
    G = _g(_ctx(z_dim=30), hierarchical=False)
    assert G.project.in_features == 30 and G.blocks[0].norm1.gain.in_features == 6
    unconditional = build_generator(NetSpec("biggan", {"channels": 8, "hierarchical": False}), _ctx(z_dim=30))
    assert isinstance(unconditional.blocks[0].norm1, torch.nn.BatchNorm2d)  # nothing to condition on: plain BN
    assert unconditional(torch.randn(2, 30)).shape == (2, 3, 32, 32)


def test_z_dim_that_does_not_split_is_one_config_line():
    with pytest.raises(ConfigError) as err:
        _g(_ctx(z_dim=30))
    assert "z_dim 30 is not a multiple of 4" in str(err.value) and "\n" not in str(err.value)


def test_zero_condition_is_plain_batch_norm():
    cbn = LinearConditionalBatchNorm2d(5, 7)
    x = torch.randn(4, 5, 3, 3)
    assert torch.allclose(cbn(x, torch.zeros(4, 7)), F.batch_norm(x, None, None, training=True), atol=1e-6)
    block = BigGANBlock(5, 4, 7)
    assert block(x, torch.randn(4, 7)).shape == (4, 4, 6, 6)


def test_orthogonal_init_leaves_no_orthogonal_penalty_on_wide_convs():
    """The penalty BigGAN adds (reg.ortho) is zero on an orthogonal weight: with orthogonal init, every
    3x3 conv of 8 -> 8 channels (8 rows of 72) starts with orthonormal rows, and N(0, 0.02) init does not."""
    torch.manual_seed(0)
    ortho, normal = _g(_ctx(), init="orthogonal"), _g(_ctx(), init="normal")
    assert orthogonal_penalty(ortho.blocks[0].conv1) < 1e-10
    assert orthogonal_penalty(normal.blocks[0].conv1) > 1e-6


def test_truncation_trades_variety_for_the_same_images_per_seed():
    """``sample_chunks(truncation=...)`` is the keyword ``ganforge sample --truncation`` uses: the same seed
    gives the same images, and a tighter threshold gives less varied ones."""
    torch.manual_seed(0)
    cfg = RunConfig()
    cfg.model.z_dim, cfg.model.z_dist, cfg.model.g = 32, "normal", NetSpec("biggan", {"conditioning": "cbn"})
    model = NoiseToImageModel(cfg, {"G": _g(_ctx()).eval()}, num_classes=10)

    def draw(t):
        return next(model.sample_chunks(200, seed=3, classes=4, truncation=t))[0].astype(float)

    assert (draw(0.3) == draw(0.3)).all()
    assert draw(0.1).std(0).mean() < draw(None).std(0).mean()


def test_a_checkpoint_with_the_embedding_under_spectral_norm_loads_as_the_plain_weight_it_acted_as():
    """Runs before round 18 normalised G's embedding; they load, and sample as they did."""
    torch.manual_seed(0)
    ctx = _ctx()
    old = _g(ctx, spectral_norm=True)
    torch.nn.utils.parametrizations.spectral_norm(old.shared)  # what round 17's spectral_norm_ did to it
    for _ in range(3):
        old(torch.randn(4, 32), torch.tensor([0, 1, 2, 3]))  # power iterations move u and v
    old.eval()
    z, y = torch.randn(4, 32), torch.tensor([0, 3, 9, 3])
    state = old.state_dict()
    assert "shared.parametrizations.weight.original" in state
    new = _g(ctx, spectral_norm=True).eval()
    new.load_state_dict(state)
    assert not parametrize.is_parametrized(new.shared, "weight")
    assert torch.allclose(new(z, y), old(z, y), atol=1e-5)
