"""What ganforge writes in a run directory, as name patterns, and which paths are therefore a run's records.

Two rules read this one list: ``train --force`` deletes a run only when everything in it is ganforge's
(:func:`ganforge.runs.rundir.foreign_entries`), and the output rule never lets a file a command writes
(``eval --json``, ``downstream --out``, ...) replace one of a run's records, even with ``--force``
(:func:`ganforge.outputs.check_file`). Pure names and paths: no torch, so ``outputs`` can import it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CONFIG, OPTIONS, STATS = "config.yaml", "options.json", "stats.jsonl"  # the run directory's records
# Its folders, named once: every path into one is built from these.
CHECKPOINTS = "checkpoints"  # one folder per saved step (and best), runs/checkpoint.py's layout
SAMPLES = "samples"  # the sample grids written every log.sample_every steps (engine/periodic.save_samples)
TB = "tb"  # TensorBoard's event files (engine/stats_log.py, with log.tensorboard)
EVAL = "eval"  # `ganforge eval`'s report of each checkpoint (eval_report)
FIGURES = "figures"  # `ganforge figures`' drawings of the run (figures/run_figures.py)

_STEP = r"step-\d{7}"
_CHECKPOINT = rf"(?:{_STEP}|best)"  # checkpoint.step_dir_name, or the label evaluation keeps the best under


def _written(stem: str, suffix: str) -> str:
    """A file ganforge writes through ganforge.outputs: its name, or the hidden temporary one beside it
    (``.{stem}.{pid}.partial{suffix}``) that a killed process leaves behind."""
    return rf"(?:(?:{stem})|\.(?:{stem})\.\d+\.partial){re.escape(suffix)}"


# Everything ganforge itself writes in a run directory, folder by folder ("" is the run directory, "*" a
# checkpoint folder), as (files, folders) name patterns. This is the one list --force checks the whole tree
# against: a run is deleted only when every file and folder in it, at any depth, is one of these, so a
# user's own file anywhere (samples/my_notes.txt, checkpoints/step-0000100/README) means it is not ours.
# The figure names are figures/run_figures.py's IMAGE_FIGURES and POINT_FIGURES (a test holds them equal).
RUN_LAYOUT: dict[str, tuple[str, str]] = {
    "": (r"config\.yaml|options\.json|stats\.jsonl|stats\.tmp|options\.tmp|\.lock",
         "|".join((TB, SAMPLES, CHECKPOINTS, EVAL, FIGURES))),
    TB: (r"events\.out\.tfevents\..+", ""),  # torch's SummaryWriter, one file per writer
    SAMPLES: (rf"{_STEP}\.png", ""),  # engine/periodic.save_samples
    EVAL: (_written(_CHECKPOINT, ".json"), ""),  # RUN_DIR/eval/<checkpoint>.json of `ganforge eval`
    FIGURES: (_written(r"curves|nn_distances|interp_linear|interp_slerp|nearest_neighbours|samples", ".png"), ""),
    CHECKPOINTS: ("", rf"{_CHECKPOINT}|\.{_CHECKPOINT}\.(tmp|old)"),  # a save or prune cut short
    "*": (r"\w[\w.-]*\.safetensors|state\.json|manifest\.json", ""),  # runs/checkpoint._write
}

# Folders only ganforge fills: anything written inside them is taken for part of the run, so no output a user
# names may go there (one file of the user's in them would also make `train --force` refuse the run). A
# command that fills one by design (eval's RUN/eval/, figures' RUN/figures/) writes there without this check.
OWNED_FOLDERS = (CHECKPOINTS, TB, EVAL, SAMPLES, FIGURES)
# How deep a record sits below its run directory (RUN/checkpoints/step-0000100/G.safetensors).
DEEPEST = 3


def eval_report(run_dir: str | os.PathLike, checkpoint: str) -> Path:
    """``RUN/eval/<checkpoint>.json``: where ``ganforge eval`` keeps its report of a checkpoint (its name:
    ``step-NNNNNNN`` or ``best``), and where the export datasheet and curves.png read it."""
    return Path(run_dir) / EVAL / f"{checkpoint}.json"


def child_kind(kind: str, folder: str) -> str:
    """The :data:`RUN_LAYOUT` entry for ``folder`` inside a folder of entry ``kind``: every checkpoint folder
    shares ``"*"``, any other folder is its own name."""
    return "*" if kind == CHECKPOINTS else folder


def _matches(pattern: str, name: str) -> bool:
    return bool(pattern) and re.fullmatch(pattern, name) is not None


def record_of(path: str | os.PathLike) -> Path | None:
    """The run directory of which ``path`` is (or would become) a record, else None: the run directory
    itself, a file or folder :data:`RUN_LAYOUT` names, or anything inside :data:`OWNED_FOLDERS`. A run
    directory is a folder holding both config.yaml and options.json."""
    path = Path(os.path.abspath(path))
    for run in (path, *list(path.parents)[:DEEPEST]):
        if not ((run / CONFIG).is_file() and (run / OPTIONS).is_file()):
            continue
        parts = path.relative_to(run).parts
        if not parts or parts[0] in OWNED_FOLDERS:
            return run
        kind = ""
        for i, part in enumerate(parts):
            files, folders = RUN_LAYOUT[kind]
            if i == len(parts) - 1:
                return run if _matches(files, part) or _matches(folders, part) else None
            if not _matches(folders, part):
                return None
            kind = child_kind(kind, part)
    return None


__all__ = ["CHECKPOINTS", "CONFIG", "DEEPEST", "EVAL", "FIGURES", "OPTIONS", "SAMPLES", "STATS", "TB", "child_kind",
           "OWNED_FOLDERS", "RUN_LAYOUT", "record_of"]
