"""Training a dataset judge from its spec: deterministic, on a fixed thread count, global RNG untouched.

A judge is trained once per content key and then reused for every metric, so
its weights must depend on the spec and the data alone: the recipe's seed fixes
initialisation, dropout and data order inside a forked RNG (the caller's random
stream is left exactly where it was), and the thread count is pinned because
PyTorch's CPU results differ between thread counts. A recipe with ``hflip: true`` mirrors a random
half of every batch (the CIFAR judges); the draw comes from the data-order generator and only when
asked for, so judges without the key train exactly as before it existed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.base import Dataset
from ganforge.metrics.judge_nets import ConvJudge, JudgeSpec


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            correct += int((net(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum())
    return correct / max(len(x), 1)


def train_classifier(spec: JudgeSpec, train: Dataset, test: Dataset,
                     log_fn: Callable[[str], None] | None = None) -> tuple[ConvJudge, dict]:
    """Train ``spec`` on ``train`` with its recipe; return the net and its stats (test accuracy, time)."""
    r = spec.recipe
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    # One thread by default: small convolutions gain little from more, a fixed count keeps the
    # trained weights the same on every machine, and on a busy CPU OpenMP threads can slow each
    # other down by an order of magnitude (measured here: 2 threads, 13x slower on a loaded 2-core box).
    torch.set_num_threads(r.get("threads", 1))
    try:
        net, loss = _fit(spec, train, log_fn, t0)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    acc = _accuracy(net, test.x, test.y)
    net.eval()
    return net, {"test_accuracy": acc, "train_seconds": round(seconds, 2), "train_size": len(train),
                 "test_size": len(test), "final_loss": round(loss, 5)}


def _fit(spec: JudgeSpec, train: Dataset, log_fn: Callable[[str], None] | None,
         t0: float) -> tuple[ConvJudge, float]:
    r = spec.recipe
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(r["seed"])
        net = spec.build()
        x, y = train.x, train.y
        steps_per_epoch = max(1, len(x) // r["batch_size"])
        total = steps_per_epoch * r["epochs"]
        opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=total)
        order = torch.Generator().manual_seed(r["seed"])
        for epoch in range(r["epochs"]):
            net.train()
            perm = torch.randperm(len(x), generator=order)
            for i in range(steps_per_epoch):
                idx = perm[i * r["batch_size"]:(i + 1) * r["batch_size"]]
                batch = x[idx]
                if r.get("hflip"):  # mirror half the batch; drawn only when asked, so other judges stay bitwise
                    flip = torch.rand(len(idx), generator=order) < 0.5
                    batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
                loss = F.cross_entropy(net(batch), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            if log_fn is not None and ((epoch + 1) % max(1, r["epochs"] // 3) == 0 or epoch + 1 == r["epochs"]):
                log_fn(f"judge {spec.name}: epoch {epoch + 1}/{r['epochs']} done "
                       f"({time.perf_counter() - t0:.0f} s, last loss {loss.item():.3f})")
    return net, float(loss.item())


__all__ = ["train_classifier"]
