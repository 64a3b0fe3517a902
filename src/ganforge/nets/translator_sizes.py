"""Image sizes for translators: which sizes a net takes, and padding to them when configured.

A U-Net of depth d halves the image d times and a ResNet translator twice, so they need
sides that are multiples of 2**d (the reference implementation crashes with a shape error
deep inside ``torch.cat`` otherwise). A net may also need a smallest side (``min_side``): a
ResNet translator's residual blocks reflect-pad their input by 1, so its bottleneck must be
at least 2 px a side. ``size_policy`` says what happens to other sizes: ``error`` (one line
naming the nearest valid size) or ``pad`` (replicate-pad up to the next multiple, and up to
the smallest side, translate, crop back), so any size works when the user asks for it.
Sizes are written width x height, as Pillow's ``size`` and the upscale messages give them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.errors import DataError

SIZE_POLICIES = ("error", "pad")


def nearest_multiple(size: int, multiple: int) -> int:
    """The multiple of ``multiple`` nearest ``size`` (never below ``multiple``)."""
    return max(multiple, int(round(size / multiple)) * multiple)


def size_problem(h: int, w: int, multiple: int, what: str, fix: str = "resize to it, or set model.g.size_policy=pad "
                                                                       "to pad and crop back",
                 min_side: int | None = None) -> str | None:
    """None when (h, w) fits, else the message: the size (width x height), the rule, the nearest valid size, the fix.
    ``min_side``: the smallest side the net takes (a multiple of ``multiple``; None: ``multiple``)."""
    least = max(multiple, min_side or multiple)
    if h % multiple == 0 and w % multiple == 0 and min(h, w) >= least:
        return None
    rule = f"multiples of {multiple}" + (f" and at least {least}" if least > multiple else "")
    vw, vh = (max(least, nearest_multiple(s, multiple)) for s in (w, h))
    return (f"{w}x{h} (width x height) images do not fit {what}: height and width must be {rule}; "
            f"the nearest valid size is {vw}x{vh}: {fix}")


def check_build_size(shape: tuple[int, ...], multiple: int, policy: str, what: str,
                     min_side: int | None = None) -> None:
    """At build: a size the net cannot take under ``policy=error`` is a ValueError (a config line)."""
    if policy == "error" and len(shape) == 3:
        problem = size_problem(shape[1], shape[2], multiple, what, min_side=min_side)
        if problem:
            raise ValueError(problem)


def pad_to_multiple(x: torch.Tensor, multiple: int, policy: str, what: str,
                    min_side: int | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` padded (bottom/right, replicating the edge) to multiples of ``multiple`` of at least ``min_side``,
    and its own size."""
    h, w = x.shape[-2:]
    problem = size_problem(h, w, multiple, what, "resize the input to it (a run trained with model.g.size_policy=pad "
                                                 "pads and crops back by itself)", min_side)
    if problem is None:
        return x, (h, w)
    if policy != "pad":
        raise DataError(problem)
    least = max(multiple, min_side or multiple)
    ph, pw = (max(least, s + (-s) % multiple) - s for s in (h, w))
    return F.pad(x, (0, pw, 0, ph), mode="replicate"), (h, w)
