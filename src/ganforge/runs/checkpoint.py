"""Checkpoints: one directory per step, written atomically, verified on load.

Layout: ``checkpoints/step-NNNNNNN/`` holds ``<name>.safetensors`` for every
tensor group (networks, optimiser buffers), ``state.json`` for everything else,
and ``manifest.json`` with the sha256 of each file. The directory is assembled
under a temporary name, every file fsynced, then renamed into place: a reader
sees either a whole checkpoint or none. Loading checks the manifest, and the
newest checkpoint that verifies is the one resumed from.

Nothing here unpickles: weights go through safetensors, the rest through JSON.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.download import sha256_file
from ganforge.errors import CheckpointError, warn as warn_line
from ganforge.training.speed import in_layout_of

PREFIX = "step-"
# The state.json key of the checkpoint in-training eval kept as best ({key, value, step}): a copy of it under
# another name is still known as a choice made by a metric (anomaly eval refuses one chosen on its test split).
CHOSEN_BY_EVAL = "chosen_by_eval"
# Param-group settings a config sets (optim.*): taken from the optimiser as built, not from the checkpoint.
# The learning rate and SGD's momentum are the schedules' (restored with them).
CONFIGURED = ("betas", "weight_decay")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Checkpoints this process has hashed (written, or verified while pruning): path -> its manifest's (inode,
# mtime). Pruning checks the survivors, and without this it hashed every kept checkpoint again at every save
# (keep=5 StyleGAN2 checkpoints: four re-hashed per save). A manifest replaced since is hashed again; loading
# always verifies.
_known_good: dict[Path, tuple[int, int]] = {}


def _manifest_id(path: Path) -> tuple[int, int] | None:
    try:
        st = (path / "manifest.json").stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _verified_before(path: Path) -> bool:
    ident = _manifest_id(path)
    return ident is not None and _known_good.get(path.resolve()) == ident


def _remember_good(path: Path) -> None:
    ident = _manifest_id(path)
    if ident is not None:
        _known_good[path.resolve()] = ident


def step_dir_name(step: int) -> str:
    return f"{PREFIX}{step:07d}"


def save(root: Path, step: int, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any],
         keep: int | None = None, name: str | None = None) -> Path:
    """Write ``root/step-NNNNNNN`` (or ``root/<name>``, e.g. ``best``); prune to the newest ``keep`` steps."""
    final = root / (name or step_dir_name(step))
    tmp = root / f".{final.name}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        _write(tmp, tensors, state, step)
        # the same step saved again (e.g. the final save right after a periodic one): set the old one aside
        old = _set_aside(final) if final.exists() else None
        os.replace(tmp, final)
        _fsync(root)
        _remember_good(final)  # every file was hashed into its manifest just now
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = list_checkpoints(root)
        kept = f"; the previous checkpoint {previous[-1]} is intact" if previous else ""
        raise CheckpointError(f"could not write checkpoint {final}: {e.strerror or e}{kept}. "
                              f"Free disk space (or fix permissions), then continue with --resume") from None
    if keep is not None:
        _prune(root, final, keep)
    return final


def _prune(root: Path, final: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` checkpoints that open, the one just written (``final``) among them.

    By name alone a damaged checkpoint with a higher step (left by a run killed or resumed past it) counted
    as one of the newest, and the only good ones, the one just written too, were deleted in its favour.
    A damaged one is left where it is (loading names it and falls back), and only a checkpoint older than
    ``keep`` good ones is removed; each survivor is checked only while fewer than ``keep`` are known good.
    """
    good = 0
    for path in reversed(list_checkpoints(root)):
        if good >= keep:
            _remove(path)
            continue
        if path != final and not _verified_before(path):
            try:
                verify(path)
            except CheckpointError:
                continue  # damaged: neither counted nor pruned
            _remember_good(path)
        good += 1


def _set_aside(path: Path) -> Path:
    """Rename a checkpoint to a hidden ``.NAME.old`` in one step, so that a reader listing checkpoints at
    that moment sees it whole or not at all, never half-deleted (which would read as damaged)."""
    aside = path.with_name(f".{path.name}.old")
    if aside.exists():  # left by a run killed while removing it
        shutil.rmtree(aside, ignore_errors=True)
    os.replace(path, aside)
    return aside


def _remove(path: Path) -> None:
    """Delete a pruned checkpoint without a reader ever seeing it part-deleted (see :func:`_set_aside`)."""
    try:
        path = _set_aside(path)
    except OSError:
        pass  # a checkpoint that cannot be renamed is deleted where it is
    shutil.rmtree(path, ignore_errors=True)


def _write(tmp: Path, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any], step: int) -> None:
    """Fill ``tmp`` with the checkpoint's files and their manifest, every file fsynced."""
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, group in tensors.items():
        save_file({k: v.detach().contiguous().cpu() for k, v in group.items()}, str(tmp / f"{name}.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    files = sorted(p.name for p in tmp.iterdir())
    manifest = {"step": step, "files": {name: sha256_file(tmp / name) for name in files}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for p in tmp.iterdir():
        _fsync(p)
    _fsync(tmp)


def list_checkpoints(root: Path) -> list[Path]:
    """Checkpoint directories, oldest first. A checkpoint being written is ``.step-NNNNNNN.tmp`` (hidden,
    never listed), and only a finished one is renamed to ``step-NNNNNNN``; one being pruned is first renamed
    to a hidden ``.step-NNNNNNN.old``. So a ``step-`` folder holding files but no manifest is a damaged
    checkpoint, listed so that loading names it (:func:`verify`) rather than reporting "no checkpoint yet"."""
    if not root.is_dir():
        return []
    # an empty one holds nothing to load or report (e.g. one emptied by hand): not listed
    dirs = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and _not_empty(p)]
    return sorted(dirs, key=lambda p: p.name)


def _not_empty(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError:  # unreadable: listed, so that loading it says what is wrong
        return True


def verify(path: Path) -> dict:
    """The manifest, after checking every file it lists; CheckpointError names what is wrong."""
    manifest_path = path / "manifest.json"
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise CheckpointError(f"checkpoint {path} is damaged (no manifest.json, so its files cannot be checked); "
                              f"move that folder out of checkpoints/ to use an older one, or train again")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:  # TypeError: a manifest that is not an object
        raise CheckpointError(f"checkpoint {path} has no readable manifest ({e})") from None
    # a manifest edited or damaged into the wrong shape: a CheckpointError too, so an older one is used
    if not (isinstance(files, dict) and "state.json" in files
            and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
        raise CheckpointError(f"checkpoint {path} has no readable manifest (its files are not a list of "
                              f"file names and checksums including state.json)")
    for name, digest in files.items():
        f = path / name
        if not f.is_file():
            raise CheckpointError(f"checkpoint {path} is missing {name}")
        if sha256_file(f) != digest:
            raise CheckpointError(f"checkpoint file {f} does not match its checksum (corrupt or partly written)")
    return manifest


def load(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Verified tensors (by group name) and state of one checkpoint directory."""
    manifest = verify(path)
    tensors = {}
    try:
        for name in manifest["files"]:
            if name.endswith(".safetensors"):
                tensors[name[: -len(".safetensors")]] = load_file(str(path / name))
        state = json.loads((path / "state.json").read_text())
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from None
    return tensors, state


def skipping(problem: str) -> str:
    """The warning for a damaged newer checkpoint passed over for an older one (load_latest, explore)."""
    return f"skipping checkpoint: {problem}; falling back to the previous one"


def none_to_resume(root: Path) -> CheckpointError:
    return CheckpointError(f"no checkpoint in {root}: the run has not saved one yet, so there is "
                           f"nothing to resume; start it again without --resume, with --force (the run has "
                           f"no checkpoint to lose) or another --out")


def newest_step(root: Path) -> int | None:
    """The step the newest checkpoint with a readable manifest records, read without loading or hashing
    anything (whether a run has trained at all); None when there is none."""
    for path in reversed(list_checkpoints(root)):
        try:
            step = json.loads((path / "manifest.json").read_text()).get("step")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(step, int):
            return step
    return None


def _newest(root: Path, open_one: Callable[[Path], Any], warn: Callable[[str], None]) -> tuple[Path, Any]:
    """The newest checkpoint that ``open_one`` opens, and what it gave; a damaged newer one is skipped with
    a warning naming it."""
    candidates = list_checkpoints(root)
    if not candidates:
        raise none_to_resume(root)
    problems = []
    for path in reversed(candidates):
        try:
            opened = open_one(path)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        for problem in problems:  # said only when there is something to fall back to
            warn(skipping(problem))
        return path, opened
    raise CheckpointError(f"every checkpoint in {root} is damaged: {'; '.join(problems)}")


def load_latest(root: Path, warn: Callable[[str], None] = warn_line
                ) -> tuple[Path, dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """The newest checkpoint that verifies; a corrupt newer one is skipped with a warning naming it."""
    path, (tensors, state) = _newest(root, load, warn)
    return path, tensors, state


def newest_verified(root: Path, warn: Callable[[str], None] = warn_line) -> tuple[Path, dict]:
    """The checkpoint :func:`load_latest` would load, and its manifest, found by checking every file's
    checksum without loading any (what ``--dry-run`` checks a resume against, so that it names the same
    checkpoint, warnings included, as the run)."""
    return _newest(root, verify, warn)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state_dict into tensors (for safetensors) and JSON-able rest."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": [_portable_group(g) for g in sd["param_groups"]], "scalars": scalars}


def _portable_group(group: dict[str, Any]) -> dict[str, Any]:
    """A param group as JSON that loads on any device: a CUDA graph's device learning rate as a number,
    and ``capturable`` off (engine/graphs.py turns it on again where it captures)."""
    out = {k: (v.item() if torch.is_tensor(v) else v) for k, v in group.items()}
    if out.get("capturable"):
        out["capturable"] = False
    return out


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *meta["scalars"].items()]:
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    configured = [{k: g[k] for k in CONFIGURED if k in g} for g in optimizer.param_groups]
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    # The settings the config gives (as built for this run) win over the checkpoint's: a resume with
    # --allow-config-change records new betas or weight_decay, and they must be the ones training uses.
    # Unchanged, they are the same values, so an ordinary resume is untouched.
    for group, settings in zip(optimizer.param_groups, configured):
        group.update(settings)
    for group in optimizer.param_groups:  # moments were stored contiguous: give them their weight's layout
        for p in group["params"]:
            entries = optimizer.state.get(p, {})
            for key, value in list(entries.items()):
                if torch.is_tensor(value) and value.shape == p.shape:
                    entries[key] = in_layout_of(value, p)
