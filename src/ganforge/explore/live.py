"""The live 2D view's server side: one toy GAN trained in a background task, frames streamed over SSE.

``POST /api/live`` changes it (``{"action": "play" | "pause" | "step_d" | "step_g" | "reset",
"dataset", "lr", "k", "loss"}``); ``GET /api/live`` is the current frame; ``GET /api/live/stream``
is a server-sent-event stream of frames, one per chunk of training while playing and one per
change while paused. Training runs in a worker thread a chunk (``CHUNK`` G steps) at a time, so
pause, a new lr or a new loss take effect within a chunk, and the event loop keeps serving.
One toy model per explorer: it is a local tool, and every tab sees the same training.

A stream never ends by itself, and uvicorn's graceful shutdown waits for every response to finish
before it runs the app's lifespan shutdown: so the explorer hooks the server's own Ctrl-C and SIGTERM
handlers (:func:`on_exit_signals`) and ends every stream on them (:meth:`LiveTraining.end_streams`),
or Ctrl-C would wait for as long as a tab or ``curl -N`` stayed open.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import threading
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ganforge.explore.toy2d import DATASETS, LOSSES, Settings, ToyGAN
from ganforge.serve.requests import integral, read_body

CHUNK = 20  # G steps between frames while playing
MAX_BODY = 4096


class LiveError(Exception):
    pass


class LiveTraining:
    def __init__(self) -> None:
        self.toy: ToyGAN | None = None
        self.playing = False
        self.version = 0
        self.frame: dict | None = None
        self.lock = threading.Lock()
        self.changed: asyncio.Event | None = None
        self.task: asyncio.Task | None = None
        self.closing = False  # set on shutdown: every stream ends, and a new one ends at once

    def _ensure(self) -> None:
        if self.changed is None:
            self.changed = asyncio.Event()
        if self.toy is None:
            self.toy = ToyGAN()
            self._set_frame(self.toy.frame())
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _publish(self) -> None:
        """A new frame, drawn in a thread, announced in the event loop (asyncio.Event is not thread-safe)."""
        def draw() -> dict:
            with self.lock:
                return self.toy.frame()
        self._set_frame(await asyncio.to_thread(draw))

    def _set_frame(self, frame: dict) -> None:
        self.version += 1
        self.frame = {**frame, "playing": self.playing, "version": self.version}
        self.changed.set()

    async def _run(self) -> None:
        while True:
            if not self.playing:
                await asyncio.sleep(0.05)
                continue

            def chunk() -> None:
                with self.lock:
                    self.toy.train(CHUNK)
            await asyncio.to_thread(chunk)
            await self._publish()

    def end_streams(self) -> None:
        """End every open stream within a moment (the server is stopping): in the event loop's thread."""
        self.closing = True
        if self.changed is not None:
            self.changed.set()  # wakes the streams waiting for a frame

    async def close(self) -> None:
        self.end_streams()
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def control(self, request: Request) -> Response:
        self._ensure()
        if request.method == "GET":
            return JSONResponse(self.frame)
        body = await read_body(request, MAX_BODY)  # 413 unread when over it (ApiError, answered by the app)
        try:
            try:
                ask = json.loads(body or b"{}")
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
                raise LiveError("the body is not JSON; send an object such as {\"action\": \"play\"}") from None
            if not isinstance(ask, dict):
                raise LiveError("send a JSON object such as {\"action\": \"play\"}")
            await asyncio.to_thread(self._apply, ask)
            await self._publish()
        except LiveError as e:
            return JSONResponse({"error": str(e).splitlines()[0]}, status_code=422)
        return JSONResponse(self.frame)

    def _apply(self, ask: dict) -> None:
        unknown = set(ask) - {"action", "dataset", "lr", "k", "loss"}
        if unknown:
            raise LiveError(f"unknown field '{sorted(unknown)[0]}'; the fields are action, dataset, lr, k, loss")
        lr, k, loss, dataset = ask.get("lr"), ask.get("k"), ask.get("loss"), ask.get("dataset")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr)
                               or not 0 < lr <= 1):
            raise LiveError("lr must be a number in (0, 1]")
        if k is not None:
            k = integral(k)  # 2.0 is an integer, as JSON Schema and serve take it
            if k is None or not 1 <= k <= 20:
                raise LiveError("k (D steps per G step) must be an integer in 1..20")
        if loss is not None and (not isinstance(loss, str) or loss not in LOSSES):  # a list is not hashable
            raise LiveError(f"loss must be one of {', '.join(LOSSES)}")
        if dataset is not None and (not isinstance(dataset, str) or dataset not in DATASETS):
            raise LiveError(f"dataset must be one of {', '.join(DATASETS)}")
        action = ask.get("action")
        if action is not None and (not isinstance(action, str)
                                   or action not in ("play", "pause", "step_d", "step_g", "reset")):
            raise LiveError("action must be play, pause, step_d, step_g or reset")
        with self.lock:
            if action == "reset" or (dataset is not None and dataset != self.toy.settings.dataset):
                old = self.toy.settings
                self.toy = ToyGAN(Settings(dataset=dataset or old.dataset, lr=lr or old.lr, k=k or old.k,
                                           loss=loss or old.loss))
                self.playing = False
            self.toy.set(lr=lr, k=k, loss=loss)
            if action == "step_d":
                self.toy.step_d()
            elif action == "step_g":
                self.toy.step_g()
                self.toy.record()
            if action in ("play", "pause"):
                self.playing = action == "play"

    async def stream(self, request: Request) -> Response:
        self._ensure()

        async def events() -> AsyncIterator[str]:
            seen = 0
            while not self.closing and not await request.is_disconnected():
                if self.version != seen and self.frame is not None:
                    seen = self.version
                    yield f"data: {json.dumps(self.frame)}\n\n"
                self.changed.clear()
                try:
                    await asyncio.wait_for(self.changed.wait(), timeout=1.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def on_exit_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Have SIGINT and SIGTERM call ``callback`` in the running event loop, then the handler that was there
    (uvicorn's, which starts its graceful shutdown); returns what puts the old handlers back. Only in the
    main thread (the only one Python lets set a handler), and only over a handler that is a function: an
    ignored or default signal is left as it is."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):
            loop.call_soon_threadsafe(callback)  # a signal handler may run mid-way through the loop's own code
            previous(signum, frame)
        signal.signal(sig, handler)
        installed[sig] = (previous, handler)

    def restore() -> None:
        for sig, (previous, handler) in installed.items():
            if signal.getsignal(sig) is handler:  # not replaced since: put the server's back
                signal.signal(sig, previous)
    return restore
