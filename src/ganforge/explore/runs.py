"""The explorer's runs and the request helpers every panel shares.

Runs are addressed by their position in the command line's list and checkpoints by a name from
that run's own list: no request names a path. A panel's handler gets its run through
:func:`generating` (or :meth:`Runs.get`), its query values through :func:`int_param` and
:func:`options`, and refuses with :class:`Refused`, which the app answers as one JSON line.
"""

from __future__ import annotations

import asyncio
import base64
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from starlette.requests import Request

from ganforge import capabilities as cap
from ganforge.errors import GanforgeError, warn
from ganforge.recipes.truncation_centres import MAX_CENTRES, check_centres
from ganforge.run_layout import CHECKPOINTS
from ganforge.runs import checkpoint as ckpt
from ganforge.runs.run import Run, load_run
from ganforge.serve.requests import TRUNCATION_MAX

OPEN_RUNS = 4  # (run, checkpoint) pairs kept open: switching back is instant, memory stays bounded


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Runs:
    """The command line's runs, opened lazily, a few (run, checkpoint) pairs at a time; ``centres``: the K
    of truncation centres the style-based runs offer (``explore --truncation-centres K``), or None."""

    def __init__(self, paths: list[Path], device: torch.device, centres: int | None = None):
        self.paths, self.device, self.centres = paths, device, centres
        self.open: OrderedDict[tuple[int, str], Run] = OrderedDict()
        # checkpoints "latest" passed over: (their files' stamp, why), said once while the files stay as they were
        self.skipped: dict[tuple[int, str], tuple[tuple, str]] = {}
        self.opened: dict[int, str] = {}  # the checkpoint "latest" last opened for each run (the page selects it)
        self.lock = threading.Lock()
        self.memo_lock = threading.Lock()
        self.memo: dict[tuple, Any] = {}

    def path(self, rid: int) -> Path:
        if not 0 <= rid < len(self.paths):
            raise Refused(404, f"no run {rid}: this explorer has runs 0..{len(self.paths) - 1}")
        return self.paths[rid]

    def checkpoints(self, rid: int) -> list[str]:
        """The run's checkpoint names; 422 when its directory has gone since the explorer started (deleted
        or moved away): that run's line, the others stay usable."""
        if not self.path(rid).is_dir():
            raise Refused(422, f"run directory {self.path(rid)} no longer exists (deleted or moved since the explorer "
                               f"started); restore it, or restart the explorer without it")
        root = self.path(rid) / CHECKPOINTS
        names = [p.name for p in ckpt.list_checkpoints(root)]
        return names + (["best"] if (root / "best" / "manifest.json").exists() else [])

    def get(self, rid: int, name: str | None) -> Run:
        names = self.checkpoints(rid)
        if not names:
            raise Refused(404, f"run {rid} has no checkpoint yet")
        if name is None:
            return self._latest(rid, [n for n in names if n != "best"] or names)
        if name not in names:
            raise Refused(404, f"run {rid} has no checkpoint '{name[:40]}'; it has {', '.join(names[-5:])}")
        try:
            return self._open(rid, name)
        except GanforgeError as e:  # a checkpoint damaged or deleted after start: this run's line, not a 500
            raise Refused(422, str(e)) from None

    def _open(self, rid: int, name: str) -> Run:
        key = (rid, name)
        with self.lock:
            if key not in self.open:
                self.open[key] = load_run(self.path(rid), self.path(rid) / CHECKPOINTS / name, device=self.device)
                if len(self.open) > OPEN_RUNS:
                    self.open.popitem(last=False)
            self.open.move_to_end(key)
            return self.open[key]

    def _stamp(self, rid: int, name: str) -> tuple:
        """What a skip is keyed on: each file of the checkpoint with its size and modification time. A
        checkpoint rewritten since it was passed over (repaired, or its copy finished) is tried again on
        the next "latest", rather than staying skipped for the life of the server."""
        folder = self.path(rid) / CHECKPOINTS / name
        try:
            return tuple(sorted((p.name, st.st_size, st.st_mtime_ns)
                                for p in folder.iterdir() for st in [p.stat()]))
        except OSError:  # gone meanwhile: a stamp of its own, so that its reappearance is tried again
            return ("unreadable",)

    def _latest(self, rid: int, names: list[str]) -> Run:
        """The newest checkpoint that opens: a damaged newer one is passed over with one warning line, as
        ``serve``, ``sample`` and ``--resume`` pass it over (runs/checkpoint.load_latest): said only when
        there is one to fall back to, so a run none of whose checkpoints opens is the one line of the error.
        The name opened is kept in ``opened`` (the page must ask for that one, not the newest)."""
        problems = []
        for name in reversed(names):
            stamp = self._stamp(rid, name) if (rid, name) in self.skipped else None  # the usual case: no listing
            if stamp is not None and self.skipped[(rid, name)][0] == stamp:
                continue
            try:
                run = self._open(rid, name)
            except GanforgeError as e:
                self.skipped[(rid, name)] = (stamp or self._stamp(rid, name), str(e))
                problems.append(str(e))
                continue
            self.skipped.pop((rid, name), None)
            for problem in problems:
                warn(ckpt.skipping(problem))
            self.opened[rid] = name
            return run
        first = self.skipped[(rid, names[-1])][1]
        raise Refused(422, f"every checkpoint of {self.path(rid)} is damaged (the newest: {first}); "
                           f"train it again, or restore its checkpoints/")

    def open_latest(self) -> None:
        """Open every run's latest checkpoint now, so that a damaged one is said at start (a warning line and
        the previous one, or one line and exit 2 when none opens) rather than in the page. A run with no
        checkpoint yet is left for later."""
        for rid in range(len(self.paths)):
            try:
                if self.checkpoints(rid):
                    self.get(rid, None)
            except Refused as e:
                raise GanforgeError(e.message) from None

    def fit_centres(self, log: Callable[[str], None] | None = None) -> None:
        """Fit the K truncation centres of every style-based run's latest checkpoint now, before the page
        asks (a fit draws 10,000 samples: a minute or more on a CPU); another checkpoint fits on its first
        use. One line, before any fit, when no run has a style space for them."""
        if self.centres is None:
            return
        check_centres(self.centres)
        styled = [run for run in (self.get(rid, None) for rid in range(len(self.paths)) if self.checkpoints(rid))
                  if cap.TRUNCATION_CENTRES in cap.capabilities_of(run.model)]
        if not styled:
            raise GanforgeError(f"--truncation-centres {self.centres}: none of these runs has a style space to "
                                f"fit truncation centres in (only style-based runs, StyleGAN2, take them); "
                                f"leave the flag out")
        for run in styled:
            if log is not None:
                log(f"fitting {self.centres} truncation centres of {run.path.name}")
            run.model.truncation_centres(self.centres, run.device)  # cached by the model

    def summary(self, rid: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": rid, "name": self.path(rid).name, "checkpoints": []}
        try:
            names = self.checkpoints(rid)
        except Refused as e:  # the run's directory has gone: its line, the other runs stay usable
            return {**entry, "error": e.message, "capabilities": []}
        entry["checkpoints"] = names
        if names:
            try:
                run = self.get(rid, None)
            except Refused as e:  # this run's line; the other runs stay usable
                return {**entry, "error": e.message, "capabilities": []}
            caps = cap.capabilities_of(run.model)
            # opened: the checkpoint the step and capabilities are of, and the one the page selects; skipped:
            # the newer ones passed over as damaged (the picker marks them), each with its line
            entry.update(opened=self.opened[rid], skipped={n: self.skipped[(rid, n)][1] for n in names
                                                           if (rid, n) in self.skipped})
            entry.update(recipe=run.config.recipe, step=run.step,  # classes: what the class picker offers
                         num_classes=run.num_classes if cap.CLASSES in caps else None,
                         capabilities=sorted(caps), z_dist=run.config.model.z_dist)
            if cap.STYLE_MIX in caps:
                entry["num_ws"] = run.model.num_ws  # the mixing panel's layer range
            entry["truncation_centres"] = self.centres if cap.TRUNCATION_CENTRES in caps else None
            if cap.TRANSLATE in caps:
                entry["directions"] = list(run.model.directions)
            if cap.UPSCALE in caps:
                entry["scale"] = run.model.scale
        return entry

    def cached(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()`` once per key (a run's training set, its judge features, its test images)."""
        with self.memo_lock:  # not self.lock: a judge trained here must not hold up the grid
            if key not in self.memo:
                self.memo[key] = make()
            return self.memo[key]


def int_param(request: Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refused(422, f"{key} must be an integer, got '{raw[:20]}'") from None
    if not lo <= value <= hi:
        raise Refused(422, f"{key} must be in {lo}..{hi}, got {value}")
    return value


def lacks(run: Run, wanted: str, doing: str) -> Refused:
    """404 for an option the run's model does not take (as ``serve`` answers it), without the CLI hint."""
    return Refused(404, str(cap.refusal(run.model, wanted, run=run.path.name, recipe=run.config.recipe,
                                        doing=doing, command_hint=False)))


def options(request: Request, run: Run) -> dict[str, Any]:
    """The sampling options of a request (truncation, class, centres), each refused unless the run takes it,
    within the bounds ``serve`` uses."""
    caps = cap.capabilities_of(run.model)
    options: dict[str, Any] = {}
    raw = request.query_params.get("truncation", "")
    if raw not in ("", "off"):
        if cap.TRUNCATION not in caps:
            raise lacks(run, cap.TRUNCATION, "take a truncation")
        least = cap.least_truncation(run.model)
        try:
            t = float(raw)
        except ValueError:
            raise Refused(422, f"truncation must be a number, got '{raw[:20]}'") from None
        if not (math.isfinite(t) and least <= t <= TRUNCATION_MAX):
            raise Refused(422, f"truncation must be a number in {least:g}..{TRUNCATION_MAX:g}, got '{raw[:20]}'")
        options["truncation"] = t
    if request.query_params.get("class", "") != "":
        if cap.CLASSES not in caps:
            raise lacks(run, cap.CLASSES, "take a class")
        options["classes"] = int_param(request, "class", 0, 0, (run.num_classes or 1) - 1)
    if request.query_params.get("centres", "") != "":
        options["truncation_centres"] = centres(request, run, caps, "truncation" in options)
    return options


def centres(request: Request, run: Run, caps: frozenset[str], truncated: bool) -> int:
    """The ``centres`` K of a request, refused unless the run takes centres, the explorer fitted that K,
    and a truncation psi is there for them to pull by."""
    fitted = request.app.state.runs.centres
    k = int_param(request, "centres", 0, 2, MAX_CENTRES)
    if cap.TRUNCATION_CENTRES not in caps:
        raise Refused(422, f"run {run.path.name} has no style space: truncation centres apply to style-based runs")
    if k != fitted:
        has = f"it fitted {fitted}, so ask centres={fitted}" if fitted else "it fitted none"
        raise Refused(422, f"this explorer has no {k} truncation centres ({has}); restart it with "
                           f"--truncation-centres {k}")
    if not truncated:
        raise Refused(422, "centres needs truncation=PSI: the centres are what psi pulls towards (try 0.5)")
    return k


def encode(images) -> dict[str, Any]:
    return {"shape": list(images.shape[1:]), "dtype": str(images.dtype),
            "images": [base64.b64encode(x.tobytes()).decode() for x in images]}


def render(run: Run, latents: dict[str, torch.Tensor]) -> dict[str, Any]:
    return encode(run.model.render(latents))


def held_labels(la: dict[str, torch.Tensor], lb: dict[str, torch.Tensor]) -> dict[str, Any]:
    """What the interpolation and the plane say about their labels, which they cannot blend: the class held
    in every image (the picked one, or seed A's own draw; None for an unconditional run), and whether seed
    B's end is seed B's own sample, which it is only when B's label is that class too (a class picked, or
    B drawing the same one). Otherwise B's end is B's latent drawn in A's class, and the page says so."""
    labels = [k for k in la if not la[k].is_floating_point()]
    held = int(la[labels[0]].flatten()[0]) if labels and la[labels[0]].numel() == 1 else None
    return {"class": held, "b_is_sample": all(torch.equal(la[k], lb[k]) for k in labels)}


def generating(runs: Runs, request: Request) -> Run:
    rid = int(request.path_params["rid"])
    run = runs.get(rid, request.query_params.get("checkpoint") or None)
    if cap.GENERATE not in cap.capabilities_of(run.model) or not isinstance(run.model, cap.Generates):
        # the one refusal here with a command: a whole panel the run cannot fill, named as the user gave the run
        raise Refused(404, str(cap.refusal(run.model, cap.GENERATE, run=str(run.path), recipe=run.config.recipe,
                                           doing="draw samples")))
    return run


async def in_thread(fn, *args):
    try:
        return await asyncio.to_thread(fn, *args)
    except GanforgeError as e:
        raise Refused(422, str(e)) from None
