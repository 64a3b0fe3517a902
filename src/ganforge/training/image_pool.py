"""A history of generated images for D to train on (Shrivastava et al. 2017; CycleGAN's pool of 50).

D trained only on G's newest outputs can chase them round a cycle; mixing in older fakes
damps that. Until the pool is full every new fake is stored and passed through. After that
each new fake, with probability ``swap``, replaces a stored one chosen at random and the
stored one goes to D instead; otherwise it passes through unchanged (the reference code's
rule, one image at a time).

The pool draws its decisions from its own CPU generator, and both its images and that
generator's state are saved in checkpoints by name (``state_tensors``), so a resumed run
makes exactly the draws the uninterrupted one would have.
"""

from __future__ import annotations

import torch


class ImagePool:
    """CycleGAN's pool of past fakes for one D: :meth:`query` swaps some of a batch of new fakes for stored
    ones before D sees them; ``size`` 0 makes it a pass-through.

    Its coin flips and slots come from its own CPU generator (no device sync per image), and
    :meth:`state_tensors` saves the stored images and that generator's state by name, so a resumed run
    makes the draws the uninterrupted one would have.
    """

    def __init__(self, size: int, swap: float, seed: int, device: torch.device | str = "cpu"):
        self.size, self.swap, self.device = size, swap, torch.device(device)
        self.images: torch.Tensor | None = None  # (size, C, H, W) once the first batch arrives
        self.count = 0
        self._gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """The batch D should see for ``fakes`` (detached), updating the pool on the way."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        if self.images is None:
            self.images = fakes.new_zeros((self.size, *fakes.shape[1:]))
        u = torch.rand(len(fakes), generator=self._gen).tolist()  # CPU draws: no device sync
        slots = torch.randint(0, self.size, (len(fakes),), generator=self._gen).tolist()
        out = []
        for image, p, slot in zip(fakes, u, slots):
            if self.count < self.size:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif p < self.swap:
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        state = {"count": torch.tensor(self.count), "rng": self._gen.get_state()}
        if self.images is not None:
            state["images"] = self.images.contiguous()
        return state

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.count = int(tensors["count"])
        self._gen.set_state(tensors["rng"].cpu())
        if "images" in tensors:
            self.images = tensors["images"].to(self.device).clone()
