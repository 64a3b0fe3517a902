"""The encoder both anomaly recipes build: f-AnoGAN's E and GANomaly's two encoders.

f-AnoGAN (:mod:`ganforge.recipes.fanogan`) trains an encoder into its frozen G's latent space, and
GANomaly (:mod:`ganforge.recipes.ganomaly`) builds its G as encoder -> decoder -> encoder; both papers
take the encoder from D's architecture, so both recipes build it from the run's config the same way.
It lives here, beside them, not in either recipe (neither is the other's base) and not in
:mod:`ganforge.nets.encoder`, which holds the network itself: nets are built from a context, and
reading D's width from the run's config is the recipes' side of the import order.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganforge.config import RunConfig
from ganforge.errors import ConfigError
from ganforge.nets import NetContext
from ganforge.nets import registry as net_registry
from ganforge.nets.encoder import ConvEncoder


def build_encoder(cfg: RunConfig, record: dict[str, Any]) -> nn.Module:
    """E mirrors D's width (its ``base_channels``, or the builder's default; the encoder's own default for a D
    without one) and codes into z's space."""
    d_options = net_registry.resolved_options("discriminator", cfg.model.d)
    width = {"base_channels": d_options["base_channels"]} if "base_channels" in d_options else {}
    ctx = NetContext(data_shape=tuple(record["data_shape"]), z_dim=cfg.model.z_dim, kind=record["kind"])
    try:
        return ConvEncoder(ctx, **width)
    except ValueError as e:
        raise ConfigError(f"the encoder cannot be built for this data: {e}") from None
