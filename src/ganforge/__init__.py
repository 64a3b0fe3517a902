"""ganforge: train generative adversarial networks, measure them honestly, explore them."""

__version__ = "0.1.0"
