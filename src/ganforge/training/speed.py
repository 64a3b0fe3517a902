"""The fast path: switches that change how fast a step runs, never what it computes.

The config's ``speed`` section says "auto" for most switches; :func:`plan` turns it
into concrete choices for the device at hand, once, so the rest of the engine sees
plain booleans. Every switch but the two CUDA backend flags (``tf32``, ``cudnn_benchmark``)
can be forced on the CPU, which is how the tests hold each one to the plain path (bit-for-bit
where the arithmetic is the same, within bf16 rounding for autocast); a switch forced on where
it cannot act is refused (:func:`check_forced`), not dropped.

What is deliberately *not* here: the data already live on the training device and
are batched there (:class:`~ganforge.training.batches.RealBatches`), and statistics
are read back only every ``log.every`` steps, so a step has no host work and no
host-device synchronisation with or without these switches.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.utils._pytree
from torch import nn

from ganforge.config import SpeedConfig
from ganforge.errors import ConfigError, warn


@dataclass(frozen=True)
class SpeedPlan:
    """The resolved switches for one device."""

    bf16: bool = False
    channels_last: bool = False
    optimizer: str = "for-loop"  # fused | foreach | for-loop
    compile: str | None = None  # a torch.compile mode, or None
    tf32: bool = False
    cudnn_benchmark: bool = False
    graphs: bool = False  # whole-step CUDA graphs (engine/graphs.py)
    precision_why: str = ""  # how speed.precision=auto chose, when it did
    cuda: bool = False  # the device is a GPU: graphs are captured (on the CPU the graph path runs eagerly)

    def describe(self) -> str:
        precision = "bf16 autocast" if self.bf16 else "fp32"
        parts = [f"{precision} ({self.precision_why})" if self.precision_why else precision,
                 f"{self.optimizer} optimiser"]
        if self.channels_last:
            parts.append("channels_last")
        if self.compile:
            parts.append(f"torch.compile({self.compile})")
        if self.tf32:
            parts.append("TF32")
        if self.cudnn_benchmark:
            parts.append("cudnn.benchmark")
        if self.graphs:
            parts.append("whole-step CUDA graphs" if self.cuda else "graph path, eager on the CPU (no CUDA graphs)")
        return ", ".join(parts)


def _auto(value: bool | str, default: bool) -> bool:
    return default if value == "auto" else bool(value)


def _forced(value: bool | str) -> bool:
    return value != "auto" and bool(value)


def check_forced(cfg: SpeedConfig, device: torch.device, data_kind: str, data_name: str) -> None:
    """Refuse a switch forced on (``true``) where it would do nothing, as a config refuses what it will
    not read: channels_last on data that is not images, and the CUDA backend flags off CUDA. Here, at
    build, because ``train.device=auto`` and the data's kind are known only once the run starts."""
    if _forced(cfg.channels_last) and data_kind != "image":
        raise ConfigError(f"speed.channels_last=true lays out images, and '{data_name}' is {data_kind} data; "
                          f"remove it (--set speed.channels_last=auto)")
    if device.type != "cuda":
        for key in ("tf32", "cudnn_benchmark"):
            if _forced(getattr(cfg, key)):
                raise ConfigError(f"speed.{key}=true is a CUDA setting, and this run's device is {device}, where it "
                                  f"does nothing; remove it (--set speed.{key}=auto: on for CUDA)")


def plan(cfg: SpeedConfig, device: torch.device, image_data: bool) -> SpeedPlan:
    cuda = device.type == "cuda"
    if cfg.precision == "auto":
        bf16 = cuda and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        bf16 = cfg.precision == "bf16"
    optimizer = cfg.optimizer if cfg.optimizer != "auto" else ("fused" if cuda else "for-loop")
    mode = cfg.compile
    compile_mode = None if mode is False else ("default" if mode is True else str(mode))
    return SpeedPlan(bf16=bf16, channels_last=image_data and _auto(cfg.channels_last, cuda), optimizer=optimizer,
                     compile=compile_mode, tf32=cuda and _auto(cfg.tf32, True),
                     cudnn_benchmark=cuda and _auto(cfg.cudnn_benchmark, True), graphs=_auto(cfg.graphs, cuda),
                     cuda=cuda)


CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def choose_precision(p: SpeedPlan, cfg: SpeedConfig, nets: dict[str, nn.Module]) -> SpeedPlan:
    """``speed.precision=auto`` per model, once the networks exist: bf16 only for convolutional nets.

    The rule is measured (issue 16, an H100): a DCGAN's convolutions are tensor-core bound and gain
    from bf16, while the 2014 MLP GAN ran 4.90 ms/step in fp32 against 5.24 ms in bf16 -- its
    matrices are small, and the casts (20% of its GPU time) cost more than bf16 saves. So: any
    convolution in any network -> bf16 autocast where the GPU has it; none -> fp32 (with TF32
    matmuls on CUDA, speed.tf32). Where auto already means fp32 (the CPU) nothing changes.
    """
    if cfg.precision != "auto" or not p.bf16:
        return p
    if any(isinstance(m, CONVOLUTIONS) for net in nets.values() for m in net.modules()):
        return replace(p, precision_why="auto: convolutional nets, bf16 pays")
    return replace(p, bf16=False, precision_why="auto: no convolutions, an MLP's bf16 casts cost more than they save")


def apply_backend_flags(p: SpeedPlan) -> None:
    """Process-wide CUDA settings (they have no effect on the CPU)."""
    if p.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if p.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True


def autocast(p: SpeedPlan, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast around G and D; a no-op context for fp32. Under CUDA graphs without the cast
    cache, as torch requires for capture (the casts are the same, only not kept between calls)."""
    if not p.bf16:
        return contextlib.nullcontext()
    if p.graphs:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def optimizer_kwargs(cls: type[torch.optim.Optimizer], impl: str) -> dict[str, Any]:
    """The constructor flags for ``impl``; an optimiser without a fused kernel gets foreach instead."""
    params = inspect.signature(cls).parameters
    if impl == "fused" and "fused" in params:
        return {"fused": True}
    if impl in ("fused", "foreach") and "foreach" in params:
        return {"foreach": True}
    return {"foreach": False} if "foreach" in params else {}


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def in_layout_of(t: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """``t`` with ``param``'s strides, copied only where they differ.

    The fused CUDA optimisers refuse a gradient or a moment laid out unlike its parameter, and two
    producers hand a channels_last weight contiguous ones: Opacus's noised gradients, and optimiser
    moments read back from safetensors (which stores tensors contiguous).
    """
    return t if t.stride() == param.stride() else torch.empty_like(param, dtype=t.dtype).copy_(t)


class CompiledWithFallback:
    """A compiled function that falls back to the eager one, for good, the first time compiling fails.

    torch.compile compiles lazily at the first call, so that is where a missing compiler,
    an unsupported op or a backend bug shows up; training then goes on eagerly with one warning.
    """

    def __init__(self, eager: Callable, mode: str, name: str):
        self.eager, self.name, self.mode = eager, name, mode
        self.compiled: Callable | None = torch.compile(eager, mode=mode)
        self.failed: str | None = None
        functools.update_wrapper(self, eager)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                out = self.compiled(*args, **kwargs)
                return own_outputs(out) if self.mode == "reduce-overhead" else out
            except Exception as e:  # noqa: BLE001 - any compiler failure means: run eagerly
                self.failed = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                self.compiled = None
                warn(f"torch.compile of {self.name} failed ({self.failed}); training goes on without it")
        return self.eager(*args, **kwargs)


def own_outputs(out: Any) -> Any:
    """Copies of a reduce-overhead call's tensors. That mode replays a CUDA graph whose outputs live
    in its memory pool and are overwritten by the next replay; G's fake batch of the D update is still
    read after G ran again (issue 16: "accessing tensor output of CUDAGraphs that has been overwritten
    by a subsequent run"), so every output that leaves the call is the caller's own."""
    return torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, out)


def compile_nets(nets: dict[str, nn.Module], mode: str,
                 targets: list[tuple[str, str]] | None = None) -> list[CompiledWithFallback]:
    """Compile the ``(network, method)`` targets in place (default: every network's forward). The
    modules, and so their state dicts, stay the same objects; only the bound methods are replaced."""
    wrapped = []
    for net, method in targets if targets is not None else [(name, "forward") for name in nets]:
        module = nets[net]
        fn = CompiledWithFallback(getattr(module, method), mode, f"{net}.{method}")
        setattr(module, method, fn)
        wrapped.append(fn)
    return wrapped


def prepare_nets(nets: dict[str, nn.Module], p: SpeedPlan,
                 compile_targets: list[tuple[str, str]] | None = None) -> list[CompiledWithFallback]:
    if p.channels_last:
        for net in nets.values():
            net.to(memory_format=torch.channels_last)
    return compile_nets(nets, p.compile, compile_targets) if p.compile else []
