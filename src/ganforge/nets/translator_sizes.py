"""Image sizes for translators: which sizes a net takes, and padding to them when configured.

A U-Net of depth d halves the image d times and a ResNet translator twice, so they need
sides that are multiples of 2**d (the reference implementation crashes with a shape error
deep inside ``torch.cat`` otherwise). ``size_policy`` says what happens to other sizes:
``error`` (one line naming the nearest valid size) or ``pad`` (replicate-pad up to the next
multiple, translate, crop back), so any size works when the user asks for it.
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
                                                                       "to pad and crop back") -> str | None:
    """None when (h, w) fits, else the message: the size, the rule, the nearest valid size, the fix."""
    if h % multiple == 0 and w % multiple == 0:
        return None
    return (f"{h}x{w} images do not fit {what}: height and width must be multiples of {multiple}; "
            f"the nearest valid size is {nearest_multiple(h, multiple)}x{nearest_multiple(w, multiple)}: {fix}")


def check_build_size(shape: tuple[int, ...], multiple: int, policy: str, what: str) -> None:
    """At build: a size the net cannot take under ``policy=error`` is a ValueError (a config line)."""
    if policy == "error" and len(shape) == 3:
        problem = size_problem(shape[1], shape[2], multiple, what)
        if problem:
            raise ValueError(problem)


def pad_to_multiple(x: torch.Tensor, multiple: int, policy: str, what: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` padded (bottom/right, replicating the edge) to multiples of ``multiple``, and its own size."""
    h, w = x.shape[-2:]
    problem = size_problem(h, w, multiple, what, "resize the input to it (a run trained with model.g.size_policy=pad "
                                                 "pads and crops back by itself)")
    if problem is None:
        return x, (h, w)
    if policy != "pad":
        raise DataError(problem)
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate"), (h, w)
