"""Generator and discriminator builders, looked up by name (see :mod:`ganforge.nets.registry`).

The call protocol every net follows (features/head, labels, ``output_range``) is in
:mod:`ganforge.nets.base`.
"""

from ganforge.nets import dcgan, mlp, resnet  # noqa: F401  (register the builders)
from ganforge.nets import biggan, maxout_conv  # noqa: F401  (the BigGAN G; the 2014 paper's CIFAR-10 nets)
from ganforge.nets import stylegan2, progan  # noqa: F401  (register the builders)
from ganforge.nets import multiscale, patchgan, resnet_translator, unet  # noqa: F401  (translation nets)
from ganforge.nets import sr_discriminator, srresnet  # noqa: F401  (super-resolution G and D)
from ganforge.nets import ssgan  # noqa: F401  (the semi-supervised GAN's MNIST G and K-output D)
from ganforge.nets import ssgan_conv  # noqa: F401  (the semi-supervised GAN's CIFAR conv G and D)
from ganforge.nets import ctgan  # noqa: F401  (CTGAN's residual G and packed D, for tables)
from ganforge.nets.registry import NetContext, build_discriminator, build_generator, list_archs, options

__all__ = ["NetContext", "build_discriminator", "build_generator", "list_archs", "options"]
