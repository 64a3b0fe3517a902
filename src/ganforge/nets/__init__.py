"""Generator and discriminator builders, looked up by name (see :mod:`ganforge.nets.registry`)."""

from ganforge.nets import mlp  # noqa: F401  (registers the 2014 MLP family)
from ganforge.nets.registry import NetContext, build_discriminator, build_generator, list_archs

__all__ = ["NetContext", "build_discriminator", "build_generator", "list_archs"]
