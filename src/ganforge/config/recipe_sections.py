"""The config sections that one family of recipes reads: growth, translation, super-resolution,
anomaly detection, DP-SGD and the semi-supervised GAN.

They live apart from ``schema`` (the sections every run reads) only to keep each file short; every
default is still written once, with its reason, and ``RunConfig`` holds them all by name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GrowthConfig:
    """The ``growth`` section: the fade-in and stable lengths, in images, of each stage of progressive
    growing; read by the ``progressive`` recipe's growth schedule (:mod:`ganforge.training.growth`).
    """

    # Progressive growing (Karras et al. 2018), for recipe "progressive": each new stage (twice the
    # resolution) fades in linearly over this many images (alpha 0 -> 1)... (the paper's 800k, its A.1).
    fade_images: int = 800_000
    # ... and then trains stable for this many; the first (4x4) stage trains this long too (800k).
    # Images are steps x train.batch_size (the global batch), as for ema.half_life_images.
    stable_images: int = 800_000


@dataclass
class TranslationConfig:
    """The image-to-image recipes (paired-translation: pix2pix; cycle-translation: CycleGAN)."""

    # Weight of the L1 distance between G(a) and its paired target: lambda = 100 in pix2pix.
    # 0 = no L1 (the paper's "cGAN alone" ablation).
    l1: float = 100.0
    # Weight of the adversarial term in G's loss (1 in both papers); 0 = no D is trained (the paper's
    # "L1 alone" ablation).
    gan: float = 1.0
    # pix2pix's D judges (input, output) pairs, a conditional GAN; false: D sees the output alone.
    conditional_d: bool = True
    # CycleGAN's cycle-consistency weight lambda (10 in the paper), on A->B->A and on B->A->B.
    cycle: float = 10.0
    # CycleGAN's identity loss ||G_AB(b) - b||, as a fraction of lambda (0.5 in the reference code).
    # 0 = off. It keeps colours (and here, ink) from being remapped when they need not be.
    identity: float = 0.5
    # CycleGAN: D trains on a history of this many generated images (Shrivastava et al. 2017),
    # 50 in the paper, so it does not chase G's latest output only; 0 = off.
    pool_size: int = 50
    # Chance that a new fake entering a full pool swaps with a stored one (which D sees instead): 0.5 in
    # the reference code.
    pool_swap: float = 0.5
    # How G runs after training (sample sheets, `ganforge translate`, metrics): "eval" uses batch norm's
    # running statistics and no dropout, so an image's translation never depends on its batch; "train"
    # uses each batch's statistics and keeps dropout on, as the pix2pix reference's test does unless
    # given --eval (its outputs then vary with the batch and from call to call; seeded here).
    test_mode: str = "eval"


@dataclass
class SuperresConfig:
    """The super-resolution recipes (``srresnet``, ``srgan``); the scale is the generator's own
    ``model.g.scale``, so it lives in one place."""

    # Side of the random high-res training crops, in pixels (96 in the SRGAN paper); must be a multiple
    # of the scale and fit the training images. null: the whole image (e.g. 32 for CIFAR-10).
    hr_crop: int | None = 96
    # Each training crop under a random flip or quarter turn (8 ways, BasicSR's hflip + rot90): eight
    # times the distinct crops of a small photo set; off keeps crops as they are in the photos.
    augment: bool = False
    # Pixel loss between SR and HR: "mse" (SRResNet/SRGAN-MSE, the PSNR objective) or "l1" (EDSR, ESRGAN).
    pixel_loss: str = "mse"
    # Weight of the pixel loss in G's objective: 1 for SRResNet; the paper's SRGAN-VGG54 uses 0
    # (content from features only).
    pixel_weight: float = 1.0
    # Weight of the adversarial term in G's objective (1e-3 in the SRGAN paper); only the srgan recipe uses it.
    adversarial_weight: float = 1.0e-3
    # D's loss: "plain" (SRGAN: -log D(HR) - log(1 - D(SR))) or "relativistic" (ESRGAN's RaGAN: each
    # logit relative to the mean logit of the other kind).
    adversarial: str = "plain"
    # Feature ("perceptual") content loss: "none"; "vgg19" (VGG19 conv5_4 features after its ReLU, the
    # paper's VGG54, from the weights file below); "d-features" (the srgan D's own last conv maps:
    # needs no download, and is named for what it is, never "VGG").
    feature_loss: str = "none"
    # Weight of the feature loss. SRGAN rescales VGG features by 1/12.75, i.e. a weight of about 0.006
    # on the squared error of raw features.
    feature_weight: float = 0.006
    # VGG19 weights for feature_loss=vgg19: a .pth (torchvision's layout, e.g. its vgg19-dcbb9e9d.pth
    # from https://download.pytorch.org/models/) or a .safetensors file with the same keys.
    vgg19_weights: str | None = None
    # sha256 of the weights file, checked before use; null checks the official file's published
    # prefix (dcbb9e9d) when the file name says it is the official one.
    vgg19_sha256: str | None = None
    # SRGAN starts from a trained SRResNet (as published): a run directory (its latest checkpoint) or a
    # checkpoint directory whose G has the same architecture. null: random init (with a warning).
    init_g: str | None = None


@dataclass
class AnomalyConfig:
    """Anomaly detection (ganforge.anomaly, recipes fanogan and ganomaly); ignored by other recipes."""

    # f-AnoGAN (Schlegl et al. 2019): the last N of train.steps train the encoder E ("izi_f") with G
    # and D frozen; the steps before are the WGAN-GP. 0 = no encoder stage.
    encoder_steps: int = 0
    # f-AnoGAN's weight kappa of the feature residual MSE(f(x), f(G(E(x)))) in izi_f (and in its
    # score); 1.0 in the paper.
    kappa: float = 1.0
    # GANomaly (Akcay et al. 2018) generator loss weights: adversarial (feature matching on D's
    # features), contextual (L1 of x - x^) and encoder (L2 of z - z^); 1, 50, 1 in the paper.
    w_adv: float = 1.0
    w_con: float = 50.0
    w_enc: float = 1.0
    # AnoGAN (Schlegl et al. 2017) scoring: gradient steps on z per image (500 in the reference
    # code), the weight lambda of the discrimination loss in (1 - lambda) * residual + lambda *
    # discrimination (0.1 in the paper), and the Adam learning rate of the search on z (the paper
    # does not give one; 0.01 kept the search stable on MNIST here).
    anogan_steps: int = 500
    anogan_lambda: float = 0.1
    anogan_lr: float = 0.01
    # The F1 threshold is this quantile of the validation (normal-only) scores: 0.95 flags 5% of
    # normal images, a false-positive rate chosen without seeing any anomaly.
    threshold_quantile: float = 0.95


@dataclass
class DpConfig:
    """DP-SGD for D (Abadi et al. 2016) through Opacus; read by the ``dp-noise-to-image`` recipe only.

    Only D sees real data, so only D's updates are made private; G learns from D alone and is
    covered by post-processing. (epsilon, delta) come from Opacus's RDP accountant.
    """

    # sigma: std of the Gaussian noise added to D's summed clipped per-sample gradients, in units
    # of max_grad_norm. 1.0 is Opacus's DCGAN example; larger = more private, less useful.
    noise_multiplier: float = 1.0
    # C: each sample's gradient (real and generated pair) is clipped to this L2 norm; 1.0 as in
    # Opacus's examples.
    max_grad_norm: float = 1.0
    # delta of (epsilon, delta)-DP; 1e-5 is below 1/N for MNIST's 50k images, the usual rule.
    delta: float = 1e-5


@dataclass
class SemiSupervisedConfig:
    """The ``semi-supervised`` recipe (Salimans et al. 2016): a K-class D that also tells real from fake."""

    # Weight of D's unlabelled real/fake terms beside the labelled cross-entropy (the paper's 1).
    # 0 trains D on the labelled subset alone: the supervised-only baseline with the same D.
    unlabelled: float = 1.0


@dataclass
class TabularConfig:
    """The ``tabular`` recipe (CTGAN, Xu et al. 2019; recipes/tabular.py); ignored by other recipes."""

    # Weight of G's conditional cross-entropy: G's softmax block for the conditioned column against the
    # category the conditional vector asked for (the paper adds it with weight 1); 0 = off (ablation).
    cond: float = 1.0
    # Training-by-sampling picks a category with probability proportional to log(1 + its count) (the
    # paper's log frequency), so rare categories are asked for more often than they occur; false: by count.
    log_frequency: bool = True
    # The paper counts training in epochs (300): when set, train.steps becomes epochs x (rows // batch)
    # (at least one step per epoch), printed at the start; null = train.steps as given.
    epochs: int | None = None
    # The convergence figure in stats.jsonl at every log step: column shapes (KS / TV complement) of this
    # many generated rows against as many fixed training rows (all rows when fewer); 0 = off.
    score_rows: int = 1000


__all__ = ["AnomalyConfig", "DpConfig", "GrowthConfig", "SemiSupervisedConfig", "SuperresConfig", "TabularConfig",
           "TranslationConfig"]
