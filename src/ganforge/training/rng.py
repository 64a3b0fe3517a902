"""Seeding and capture of the process-wide random states (python, numpy, torch CPU and CUDA).

Dropout and parameter initialisation draw from torch's global generator; a
resumed run restores it exactly, so it draws the same masks the uninterrupted
run would have.
"""

from __future__ import annotations

import base64
import random

import numpy as np
import torch


def encode_rng(state: torch.Tensor) -> str:
    """A generator state as text, for JSON checkpoints."""
    return base64.b64encode(state.cpu().numpy().tobytes()).decode("ascii")


def decode_rng(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": encode_rng(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [encode_rng(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(decode_rng(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([decode_rng(s) for s in state["cuda"]])
