"""The semi-supervised GAN's D losses: D(x) = Z/(Z+1) from K logits with the fake logit fixed at 0, the
unlabelled terms equal to the textbook -log D(x) - log(1 - D(G(z))) and finite for huge logits."""

import torch
from torch.nn import functional as F

from ganforge.objectives.semi_supervised import labelled_loss, log_z, prob_real, unlabelled_loss


def test_probability_of_real_is_z_over_z_plus_one_for_random_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 10, generator=g, dtype=torch.float64) * 3
    z = logits.exp().sum(1)
    assert torch.allclose(prob_real(logits), z / (z + 1), rtol=1e-12)
    # the same as a (K+1)-way softmax with a zero fake logit: p(real) = 1 - p(fake)
    full = torch.cat([logits, torch.zeros(64, 1, dtype=torch.float64)], 1).softmax(1)
    assert torch.allclose(prob_real(logits), 1 - full[:, -1], rtol=1e-12)


def test_unlabelled_loss_is_the_textbook_gan_loss_and_stays_finite():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(32, 10, generator=g, dtype=torch.float64), torch.randn(32, 10, generator=g,
                                                                                   dtype=torch.float64)
    textbook = 0.5 * (-prob_real(real).log().mean() - (1 - prob_real(fake)).log().mean())
    assert torch.allclose(unlabelled_loss(real, fake), textbook, rtol=1e-10)
    huge = torch.full((4, 10), 200.0, requires_grad=True)  # exp(200) overflows float32
    loss = unlabelled_loss(huge, -huge)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(huge.grad).all()


def test_labelled_loss_is_cross_entropy_over_the_real_classes():
    logits, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    assert torch.allclose(labelled_loss(logits, y), -(logits.log_softmax(1)[torch.arange(8), y]).mean())
    assert torch.allclose(log_z(logits), torch.logsumexp(logits, 1))
    assert torch.allclose(F.logsigmoid(log_z(logits)).exp(), prob_real(logits))
