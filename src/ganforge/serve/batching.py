"""Dynamic request batching: concurrent generate requests share one forward pass.

A request draws its own latents from its own seed (``model.latents``: the noise of a seed does not
depend on who else is asking), puts them on an asyncio queue and waits. One worker task takes
the first waiting request, then every other one already queued while the total stays within
``max_batch`` samples, concatenates their latents, runs ``model.render`` once in a thread (so the
event loop keeps accepting requests while the model computes) and hands each request its own
rows. Networks are in eval mode, so a sample does not depend on the other samples of its batch;
a request's images are the same as when it is served alone (tested). ``max_batch`` 1 turns
batching off: one request, one forward pass (a request of n images is always one pass).

Written by hand because it is some 60 lines on asyncio; the serving frameworks that batch
(Ray Serve, BentoML, TorchServe) would each bring a server of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

Latents = dict[str, torch.Tensor]


@dataclass
class _Job:
    latents: Latents
    n: int
    done: asyncio.Future = field(repr=False)


class Batcher:
    """``await batcher.run(latents)`` -> the rendered rows of those latents, batched with others."""

    def __init__(self, render: Callable[[Latents], np.ndarray], max_batch: int, lock: threading.Lock):
        self.render, self.max_batch, self.lock = render, max_batch, lock
        self.queue: asyncio.Queue[_Job] | None = None
        self.task: asyncio.Task | None = None
        self.passes = 0  # forward passes run: what the tests read to see that requests were batched

    async def run(self, latents: Latents) -> np.ndarray:
        if self.task is None:  # started by the first request, in the event loop that serves it
            self.queue = asyncio.Queue()
            self.task = asyncio.get_running_loop().create_task(self._work())
        n = len(next(iter(latents.values())))
        job = _Job(latents, n, asyncio.get_running_loop().create_future())
        await self.queue.put(job)
        return await job.done

    async def close(self) -> None:
        """Stop the worker once the queue is empty (uvicorn has already let in-flight requests finish)."""
        if self.task is not None:
            await self.queue.join()
            self.task.cancel()
            self.task = None

    async def _work(self) -> None:
        held = None  # a job taken from the queue that did not fit the last batch: the next one starts with it
        while True:
            jobs = [held or await self.queue.get()]
            held, total = None, jobs[0].n
            while not self.queue.empty():
                job = self.queue.get_nowait()
                if total + job.n > self.max_batch:
                    held = job
                    break
                jobs.append(job)
                total += job.n
            try:
                out = await asyncio.to_thread(self._render, [j.latents for j in jobs])
                start = 0
                for job in jobs:
                    if not job.done.done():  # a client that left has its future cancelled
                        job.done.set_result(out[start:start + job.n])
                    start += job.n
            except Exception as e:  # noqa: BLE001 - handed to every waiting request, which answers it
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(e)
            finally:
                for _ in jobs:
                    self.queue.task_done()

    def _render(self, parts: list[Latents]) -> np.ndarray:
        batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        with self.lock:
            self.passes += 1
            return self.render(batch)
