"""Options every builder takes (spectral norm), and the registry's bookkeeping of options."""

import copy
import inspect

import pytest
import torch
from torch import nn

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator, list_archs, options, registry
from ganforge.nets.layers import WEIGHTED, ConditionalBatchNorm2d, SelfAttention, spectral_sigma

CTX = NetContext(data_shape=(3, 16, 16), z_dim=8, num_classes=3, data_mean=torch.full((3, 16, 16), 0.5))
TINY = {"dcgan": {"base_channels": 4}, "resnet": {"channels": 8}, "mlp": {"hidden": [16]},
        "maxout": {"hidden": [16], "pieces": 2}}
TINY.update({"biggan": {"channels": 4, "hierarchical": False}, "mlp-deconv": {"hidden": [8], "deconv_channels": 0},
             "maxout-conv": {"units": [2, 2, 2], "hidden": [4]}})
TINY.update({"unet": {"base_channels": 4, "depth": 3}, "resnet-translator": {"base_channels": 4, "blocks": 1},
             "patchgan": {"base_channels": 4, "layers": 2}, "multiscale": {"base_channels": 4, "layers": 2, "scales": 2},
             "srresnet": {"channels": 4, "blocks": 1}, "sr-vgg": {"base_channels": 4, "stages": 2, "dense": 8},
             "stylegan2": {"channels": 4}, "progan": {"channels": 4}})
# Image-to-image nets take an image, not z, and the patch discriminators want room for their layers.
CTX_BY_ARCH = {arch: NetContext(data_shape=(3, 32, 32), z_dim=0) for arch in ("unet", "resnet-translator")}
CTX_BY_ARCH["multiscale"] = NetContext(data_shape=(3, 32, 32), z_dim=8)
# The table nets build their output head from the transform's spans: a tanh value and a 3-way one-hot.
CTX_BY_ARCH["ctgan"] = NetContext(data_shape=(4,), z_dim=8, kind="table", spans=((0, 1, "tanh"), (1, 3, "softmax")))
TINY["ctgan"] = {"hidden": [8]}


def _parametrized(net):
    return [m for m in net.modules() if isinstance(m, WEIGHTED)
            and nn.utils.parametrize.is_parametrized(m, "weight")]


@pytest.mark.parametrize("role", ["generator", "discriminator"])
def test_every_builder_accepts_the_generic_options(role):
    build = build_generator if role == "generator" else build_discriminator
    assert set(list_archs(role)) >= {"dcgan", "resnet"}
    for arch in list_archs(role):
        spec = NetSpec(arch, {**TINY.get(arch, {}), "spectral_norm": True, "spectral_norm_iterations": 2})
        registry.check_spec(role, spec, "model.x")
        try:
            net = build(spec, CTX_BY_ARCH.get(arch, CTX))
        except ConfigError as e:  # equalised-lr nets have nothing spectral norm could normalise: refused, not ignored
            assert "has no Linear, Conv or Embedding layer to normalise" in str(e), (arch, e)
            continue
        weighted = [m for m in net.modules() if isinstance(m, WEIGHTED)]
        assert weighted and _parametrized(net) == weighted, arch
        assert all(m.parametrizations.weight[0].n_power_iterations == 2 for m in weighted)


def test_spectral_norm_is_off_by_default():
    assert _parametrized(build_discriminator(NetSpec("dcgan", TINY["dcgan"]), CTX)) == []


def test_spectral_norm_gives_unit_sigma_and_spares_gains_and_gamma():
    torch.manual_seed(0)
    sn = {"spectral_norm": True, "spectral_norm_iterations": 10}
    spec = {**sn, "conditioning": "projection", "attention_res": 8, "aux_classifier": True}
    D = build_discriminator(NetSpec("resnet", {**TINY["resnet"], **spec}), CTX)
    G = build_generator(NetSpec("resnet", {**TINY["resnet"], **sn, "conditioning": "cbn"}), CTX)
    y = torch.randint(0, 3, (4,))
    for _ in range(10):  # power iterations run in training-mode forwards
        x = G(torch.randn(4, 8), y)
        D(x.detach(), y)
    for net in (G, D):
        for m in _parametrized(net):
            assert abs(spectral_sigma(m) - 1) < 0.02, m
    assert not nn.utils.parametrize.is_parametrized(next(m for m in D.modules() if isinstance(m, SelfAttention)))
    for m in G.modules():
        if isinstance(m, ConditionalBatchNorm2d):
            assert not nn.utils.parametrize.is_parametrized(m)
            assert torch.equal(m.class_gain, torch.ones_like(m.class_gain))


def test_spectral_norm_nets_copy_and_reload():
    """EMA deep-copies G and checkpoints reload state dicts: both must survive the parametrization."""
    torch.manual_seed(0)
    spec = NetSpec("dcgan", {**TINY["dcgan"], "spectral_norm": True})
    G = build_generator(spec, CTX)
    G(torch.randn(4, 8))
    twin = copy.deepcopy(G).eval()
    fresh = build_generator(spec, CTX)
    fresh.load_state_dict(G.state_dict())
    z = torch.randn(3, 8)
    G.eval(), fresh.eval()
    assert torch.equal(twin(z), G(z)) and torch.equal(fresh(z), G(z))


@pytest.mark.parametrize("value, match", [
    ({"spectral_norm": "yes"}, "spectral_norm must be true or false"),
    ({"spectral_norm_iterations": 0}, "must be an integer >= 1"),
    ({"spectral_norm_iterations": 1.5}, "spectral_norm_iterations must be an integer, got 1.5"),
    ({"minibatch_std": "no"}, "minibatch_std must be true or false, got 'no'"),
    ({"attention_res": "8"}, "attention_res must be an integer or null"),
    ({"base_channels": True}, "base_channels must be an integer, got True"),
    ({"spectral_nrom": True}, "did you mean 'spectral_norm'"),
])
def test_generic_options_are_validated_by_check_spec(value, match):
    with pytest.raises(ConfigError, match=match):
        registry.check_spec("discriminator", NetSpec("dcgan", value), "model.d")


def test_builder_option_types_are_checked_too():
    registry.check_spec("generator", NetSpec("mlp", {"hidden": [8, 8], "irange": 1}), "model.g")  # int is a number
    with pytest.raises(ConfigError, match="hidden must be a list of integers"):
        registry.check_spec("generator", NetSpec("mlp", {"hidden": [8, "8"]}), "model.g")
    with pytest.raises(ConfigError, match="irange must be a number"):
        build_generator(NetSpec("mlp", {"irange": "0.1"}), CTX)


def test_options_lists_defaults_including_generic_ones():
    opts = options("discriminator", "dcgan")
    assert opts["base_channels"] == 64 and opts["norm"] == "batch" and opts["spectral_norm"] is False
    assert options("generator", "resnet")["channels"] == 256


def test_resolved_options_are_the_spec_s_own_over_the_builder_s_and_the_generic_defaults():
    """Code that reads a config's option goes through resolved_options, so no default is written twice."""
    spec = NetSpec("dcgan", {"base_channels": 16, "pack": 2})
    opts = registry.resolved_options("discriminator", spec)
    assert opts == {**options("discriminator", "dcgan"), "base_channels": 16, "pack": 2}
    assert opts["norm"] == "batch" and opts["spectral_norm_iterations"] == 1
    assert "mbstd_group" not in opts and registry.resolved_options("discriminator", NetSpec("stylegan2"))[
        "mbstd_group"] == 4
    assert spec.options == {"base_channels": 16, "pack": 2}  # the spec itself is left as stated


@pytest.mark.parametrize("arch", sorted(set(list_archs("generator")) | set(list_archs("discriminator"))))
def test_an_arch_s_generator_and_discriminator_agree_on_the_default_conditioning(arch):
    """NetSpec.conditional reads conditioning's default without a role (option_default): both builders of an
    arch that take the option must default to the same value."""
    assert registry.option_default(arch, "conditioning") in (None, "none")
    assert registry.option_default("_unknown", "conditioning") is None
    assert NetSpec(arch).conditional is False


def test_option_default_refuses_builders_that_disagree():
    @registry.register("generator", "_disagree")
    def g(ctx, *, width: int = 1):  # pragma: no cover
        return nn.Identity()

    @registry.register("discriminator", "_disagree")
    def d(ctx, *, width: int = 2):  # pragma: no cover
        return nn.Identity()

    try:
        with pytest.raises(TypeError, match="disagree on the default of width"):
            registry.option_default("_disagree", "width")
    finally:
        for role in ("generator", "discriminator"):
            del registry._REGISTRIES[role]["_disagree"]
            del registry._CHOICES[(role, "_disagree")]


def test_a_builder_cannot_take_a_generic_option_itself():
    with pytest.raises(TypeError, match="generic option"):
        @registry.register("generator", "_clash")
        def clash(ctx, *, spectral_norm: bool = False):  # pragma: no cover
            return nn.Identity()
    assert "_clash" not in list_archs("generator")


def test_a_builder_name_registered_twice_is_refused():
    before = registry._REGISTRIES["generator"]["dcgan"]
    with pytest.raises(ValueError, match="generator 'dcgan' is registered twice"):
        @registry.register("generator", "dcgan")
        def again(ctx):  # pragma: no cover
            return nn.Identity()
    assert registry._REGISTRIES["generator"]["dcgan"] is before  # the first one is kept, not silently replaced


@pytest.mark.parametrize("fn", [registry.generic_options] + [
    registry._REGISTRIES[role][arch] for role in ("generator", "discriminator") for arch in list_archs(role)])
def test_every_option_has_a_default_and_a_comment(fn):
    source = inspect.getsource(fn)
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY:
            assert p.default is not p.empty, p.name
            line = next(ln for ln in source.splitlines() if ln.strip().startswith(f"{p.name}:"))
            assert "  # " in line, f"{fn.__name__}: option {p.name} has no comment"


@pytest.mark.parametrize("arch", ["dcgan", "resnet", "maxout"])
def test_pack_scores_groups_of_consecutive_samples(arch):
    torch.manual_seed(0)
    D = build_discriminator(NetSpec(arch, {**TINY.get(arch, {}), "pack": 2}), CTX).eval()
    x = torch.randn(6, 3, 16, 16)
    logits = D(x)
    assert logits.shape == (3,)
    # Group i is samples 2i and 2i+1 side by side: changing sample 3 changes group 1 only.
    x2 = x.clone()
    x2[3] += 1.0
    changed = (D(x2) - logits).abs() > 1e-6
    assert changed.tolist() == [False, True, False]
    # One D and one G step with a packed D.
    G = build_generator(NetSpec("dcgan", TINY["dcgan"]), CTX)
    d_loss = nn.functional.softplus(-D.train()(x)).mean() + nn.functional.softplus(D(G(torch.randn(6, 8)))).mean()
    d_loss.backward()
    assert all(p.grad is not None for p in D.parameters())
    G.zero_grad()
    nn.functional.softplus(-D(G(torch.randn(6, 8)))).mean().backward()
    assert all(p.grad is not None for p in G.parameters())


def test_pack_refuses_an_odd_batch_a_generator_and_a_conditional_d():
    D = build_discriminator(NetSpec("maxout", {**TINY["maxout"], "pack": 4}), CTX)
    with pytest.raises(ConfigError, match="multiple of 4"):
        D(torch.randn(6, 3, 16, 16))
    with pytest.raises(ConfigError, match="set model.d.pack"):
        build_generator(NetSpec("mlp", {"pack": 2}), CTX)
    with pytest.raises(ConfigError, match="class-conditional"):
        build_discriminator(NetSpec("dcgan", {**TINY["dcgan"], "conditioning": "projection", "pack": 2}), CTX)
    with pytest.raises(ConfigError, match=">= 1"):
        build_discriminator(NetSpec("maxout", {**TINY["maxout"], "pack": 0}), CTX)
