"""BigGAN's generator (Brock et al. 2019) at CIFAR size: a shared class embedding and hierarchical z
feeding conditional batch norm in every residual up-block.

Why a generator of its own rather than an option of ``resnet``: what BigGAN changes is how the
condition reaches the blocks. Every block's batch norm takes its gain and bias from one vector,
``c_i = [shared(y), z_i]``, through two linear maps (gain ``1 + W_g c_i``, bias ``W_b c_i``):

* **shared embedding** -- one ``nn.Embedding(classes, shared_dim)`` serves every block, instead of a
  separate per-class table in each BN (``resnet``'s ``cbn``), so the class code is learned once and
  the per-layer maps are linear (and can be spectrally normalised) rather than lookup tables; the
  embedding itself stays plain under ``spectral_norm`` (BigGAN-PyTorch's G: SN on it "seems to randomly
  cripple G"), while D's projection embedding is normalised;
* **hierarchical z** -- z is cut into ``blocks + 1`` equal chunks: the first goes through the linear
  map to the 4x4 start, chunk ``i + 1`` joins the class code of block ``i``, so noise acts at every
  resolution, not only at the start. ``hierarchical: false`` gives the whole z to the linear map and
  the class code alone to the blocks.

The block is the SNGAN/BigGAN up-block (BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU, 3x3 conv,
plus an upsampled 1x1 shortcut); optional self-attention after the block giving ``attention_res``;
output BN, ReLU, 3x3 conv, tanh. Widths follow BigGAN-PyTorch's 32 px layout (``G_ch`` 64, 4x64 = 256
channels in each of the three blocks). BigGAN's discriminator at 32 px is the SNGAN projection
ResNet D, which ganforge has as ``resnet`` (``conditioning: projection``); the ``biggan-cifar``
preset uses it, so there is no second copy here. Spectral norm is the registry's generic
``spectral_norm`` option, orthogonal regularisation ``reg.ortho``, the moving average ``ema`` and
truncation the sampler's ``truncation`` (redraw |z| beyond the threshold): none of them is
BigGAN-only code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Generator, check_attention_res, check_choice, check_width, image_plan
from ganforge.nets.layers import INITS, SelfAttention, init_weights_, without_spectral_norm
from ganforge.nets.registry import NetContext, register

CONDITIONING = ("cbn", "none")


class LinearConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are linear functions of a condition vector (BigGAN's ``ccbn``).

    Statistics are shared; gain = 1 + W_g c and bias = W_b c, so a zero condition is plain
    (unscaled) batch norm. W_g and W_b are ``nn.Linear`` without bias: the generic spectral norm
    and the init schemes act on them like on every other linear map.
    """

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return h * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class BigGANBlock(nn.Module):
    """Residual up-block whose two batch norms read the block's condition (plain BN when there is none)."""

    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.conditioned = cond_dim > 0
        norm = (lambda c: LinearConditionalBatchNorm2d(c, cond_dim)) if self.conditioned else nn.BatchNorm2d
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.conv2 = norm(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def _norm(self, norm: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return norm(x, cond) if self.conditioned else norm(x)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self._norm(self.norm1, x, cond)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self._norm(self.norm2, self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _normalised_embedding_as_plain(module: nn.Module, state: dict, prefix: str, *args) -> None:
    """A checkpoint from before round 18 holds the shared embedding under spectral norm (original, u, v):
    load it as the plain weight it acted as, W / sigma with sigma = u . (W v) from its stored vectors (what
    torch's spectral norm uses in eval mode), so such a run samples as it did. Training on from it works too,
    though Adam's moments were kept for W, not W / sigma."""
    base = prefix + "parametrizations.weight."
    if prefix + "weight" in state or base + "original" not in state:
        return
    w, u, v = state.pop(base + "original"), state.pop(base + "0._u"), state.pop(base + "0._v")
    state[prefix + "weight"] = w / torch.dot(u, torch.mv(w.reshape(w.shape[0], -1), v))


class BigGANGenerator(Generator):
    """BigGAN's 32 px G: linear to 4x4, one :class:`BigGANBlock` per doubling, BN, ReLU, 3x3 conv, tanh.

    A class of its own rather than a ``resnet`` option because what BigGAN changes is how the condition
    reaches the blocks: every block's batch norms read ``[shared(y), z_i]`` (one shared class embedding plus
    that block's chunk of z) through linear maps, instead of per-class tables. :meth:`split_z` and
    :meth:`conditions` compute those inputs; the ``hierarchical`` check on ``z_dim`` fails at build because
    z must cut into ``blocks + 1`` equal chunks.
    """

    def __init__(self, ctx: NetContext, channels: int, shared_dim: int, hierarchical: bool, conditioning: str,
                 attention_res: int | None, init: str):
        check_choice("conditioning", conditioning, CONDITIONING)
        super().__init__(ctx, "cbn" if conditioning == "cbn" else "none")
        check_choice("init", init, INITS)
        check_width("channels", channels)
        image_channels, start, steps = image_plan(ctx, "biggan")
        sizes = [start * 2 ** (i + 1) for i in range(steps)]
        check_attention_res(attention_res, sizes)
        self.attention_index = sizes.index(attention_res) if attention_res is not None else -1
        self.start, self.channels, self.hierarchical = start, channels, bool(hierarchical)
        if self.hierarchical and ctx.z_dim % (steps + 1):
            raise ValueError(f"hierarchical z cuts z into {steps + 1} equal chunks ({steps} blocks + the start) at "
                             f"{sizes[-1]} px, and z_dim {ctx.z_dim} is not a multiple of {steps + 1}; set "
                             f"model.z_dim to one (e.g. {32 * (steps + 1)}) or model.g.hierarchical=false")
        self.chunk = ctx.z_dim // (steps + 1) if self.hierarchical else 0
        if self.conditional:
            check_width("shared_dim", shared_dim)
            self.shared = without_spectral_norm(nn.Embedding(self.num_classes, shared_dim))  # as BigGAN-PyTorch
            self.shared.register_load_state_dict_pre_hook(_normalised_embedding_as_plain)
        cond_dim = (shared_dim if self.conditional else 0) + self.chunk
        self.project = nn.Linear(ctx.z_dim - steps * self.chunk, channels * start * start)
        self.blocks = nn.ModuleList([BigGANBlock(channels, channels, cond_dim) for _ in range(steps)])
        if attention_res is not None:
            self.attention = SelfAttention(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.to_image = nn.Conv2d(channels, image_channels, 3, 1, 1)
        self.output_range = (-1.0, 1.0)
        init_weights_(self, init)

    def split_z(self, z: torch.Tensor) -> list[torch.Tensor]:
        """[z for the start, z for block 1, ..., z for block n]; block chunks are empty (N, 0) when not
        hierarchical."""
        if not self.hierarchical:
            return [z] + [z[:, :0]] * len(self.blocks)
        return list(z.split(self.chunk, dim=1))

    def conditions(self, z: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The start's input and each block's condition vector ``[shared(y), z_i]`` (None: plain BN)."""
        first, *rest = self.split_z(z)
        code = self.shared(y) if self.conditional else None
        conds = []
        for zi in rest:
            parts = [p for p in (code, zi) if p is not None and p.shape[1] > 0]
            conds.append(torch.cat(parts, 1) if parts else None)
        return first, conds

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        first, conds = self.conditions(z, self.labels(y))
        h = self.project(first).view(z.shape[0], self.channels, self.start, self.start)
        for i, (block, cond) in enumerate(zip(self.blocks, conds)):
            h = block(h, cond)
            if i == self.attention_index:
                h = self.attention(h)
        return torch.tanh(self.to_image(F.relu(self.norm(h))))


@register("generator", "biggan", choices={"conditioning": CONDITIONING, "init": INITS})
def biggan_generator(
    ctx: NetContext,
    *,
    channels: int = 256,  # width of every block (BigGAN-PyTorch at 32 px: 4 x G_ch 64)
    shared_dim: int = 128,  # width of the shared class embedding (BigGAN: 128)
    hierarchical: bool = True,  # cut z into blocks + 1 chunks, one per block's BN (BigGAN's hierarchical z)
    conditioning: str = "none",  # none: unconditional (z chunks alone) | cbn: class code into every BN (needs labels)
    attention_res: int | None = None,  # self-attention after the up-block giving this size; null = off
    init: str = "orthogonal",  # orthogonal as the BigGAN paper | normal N(0, 0.02) as the CIFAR script | xavier
) -> nn.Module:
    return BigGANGenerator(ctx, channels, shared_dim, hierarchical, conditioning, attention_res, init)
