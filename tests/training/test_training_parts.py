import math

import torch

from ganforge.config import OptimConfig
from ganforge.training.batches import Noise, RealBatches
from ganforge.training.rng import decode_rng
from ganforge.training.stream import _Order
from ganforge.objectives.adversarial import AdversarialShared
from ganforge.objectives.aux_classifier import aux_classifier_d
from ganforge.training.schedules import OptimSchedule


def test_lr_decays_per_update_to_its_floor_and_momentum_ramps_by_epoch():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.5)
    sched = OptimSchedule(opt, OptimConfig(lr=0.1, lr_decay=1.5, lr_min=0.02, momentum=0.5, momentum_final=0.7,
                                           momentum_ramp_epochs=3))
    sched.after_update(epoch=0)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1 / 1.5)
    for _ in range(10):
        sched.after_update(epoch=0)
    assert opt.param_groups[0]["lr"] == 0.02
    assert opt.param_groups[0]["momentum"] == 0.5
    sched.apply(epoch=2)
    assert math.isclose(opt.param_groups[0]["momentum"], 0.6)
    sched.apply(epoch=300)
    assert math.isclose(opt.param_groups[0]["momentum"], 0.7)


def test_paper_lr_schedule_in_closed_form():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = OptimSchedule(opt, OptimConfig())
    sched.updates = 100_000
    assert math.isclose(sched.lr(), 0.1 / 1.000004 ** 100_000, rel_tol=1e-9)
    sched.updates = 10**9
    assert sched.lr() == 1e-6


def test_real_batches_cover_each_epoch_once_and_scale_to_the_output_range():
    x = torch.arange(10, dtype=torch.uint8).mul(25).view(10, 1, 1, 1)
    rb = RealBatches(x, None, batch_size=3, seed=0, device=torch.device("cpu"), output_range=(-1.0, 1.0))
    seen = torch.cat([rb.next()[0].flatten() for _ in range(3)])
    assert len(set(seen.tolist())) == 9  # 3 full batches, no repeats; the 10th sample is the dropped remainder
    assert seen.min() >= -1 and seen.max() <= 1
    assert rb.epoch == 0
    rb.next()
    assert rb.epoch == 1


def test_sampler_state_restores_the_exact_stream():
    x = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1)
    a = RealBatches(x, None, 7, seed=3, device=torch.device("cpu"), output_range=(0.0, 1.0))
    for _ in range(9):
        a.next()
    b = RealBatches(x, None, 7, seed=99, device=torch.device("cpu"), output_range=(0.0, 1.0))
    b.load_state_dict(a.state_dict())
    for _ in range(20):
        assert torch.equal(a.next()[0], b.next()[0])
    n1, n2 = Noise(4, "uniform", torch.device("cpu"), 0), Noise(4, "uniform", torch.device("cpu"), 5)
    n1(3)
    n2.load_state_dict(n1.state_dict())
    assert torch.equal(n1(6), n2(6))


def test_uniform_noise_has_unit_variance_on_the_papers_interval():
    z = Noise(100, "uniform", torch.device("cpu"), 0)(2000)
    assert z.abs().max() <= math.sqrt(3)
    assert abs(z.var().item() - 1) < 0.02


def test_acgan_classifier_learns_from_fakes_only_when_asked():
    from types import SimpleNamespace

    import torch.nn.functional as F

    classify = torch.nn.Linear(4, 3)
    f_real, f_fake = torch.randn(5, 4), torch.randn(5, 4, requires_grad=True)
    y_real, y_fake = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 1, 0, 0])
    ctx = SimpleNamespace(nets={"D": SimpleNamespace(classify=classify)},
                          shared=AdversarialShared(f_real=f_real, f_fake=f_fake, y_real=y_real, y_fake=y_fake))
    real_only = F.cross_entropy(classify(f_real), y_real)
    both, _ = aux_classifier_d(1.0, True, ctx)
    assert torch.allclose(both, real_only + F.cross_entropy(classify(f_fake), y_fake))
    loss, stats = aux_classifier_d(2.0, False, ctx)
    assert torch.allclose(loss, 2 * real_only) and torch.allclose(stats["aux_D"], real_only)
    loss.backward()
    assert f_fake.grad is None  # generated samples play no part in D's classifier


def test_a_position_past_a_shrunk_epoch_starts_a_new_epoch_in_memory_and_streamed():
    """A run resumed after its data shrank restores a position past the new epoch's end (3 of 5 batches
    saved, 2 batches per epoch now). Both forms start a new epoch there with full batches, and the same
    ones: the streamed order's twin generator stays in step with the in-memory one."""
    big = torch.arange(20, dtype=torch.uint8).view(20, 1, 1, 1)
    before = RealBatches(big, None, 4, seed=1, device=torch.device("cpu"), output_range=(0.0, 255.0))
    for _ in range(3):
        before.next()
    saved = before.state_dict()
    small = big[:9]
    after = RealBatches(small, None, 4, seed=7, device=torch.device("cpu"), output_range=(0.0, 255.0))
    after.load_state_dict(saved)
    drawn = [after.next()[0].flatten().long().tolist() for _ in range(5)]
    assert all(len(batch) == 4 and len(set(batch)) == 4 and max(batch) < 9 for batch in drawn), drawn
    assert after.epoch == saved["epoch"] + 3 and after.position == 1
    order = iter(_Order(9, 4, slice(0, 4), decode_rng(saved["epoch_rng"]), saved["position"]))
    assert [next(order) for _ in range(5)] == drawn
