"""What ``--resume`` checks before it continues a run: the same config, and the same data.

A run continued with other settings or on other data is a different experiment; the first
is refused unless accepted explicitly (and then recorded), the second is warned about,
since a dataset may legitimately move (a new cache directory) while staying the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from ganforge import config as config_mod
from ganforge import recipes
from ganforge.config import RunConfig
from ganforge.config.dormant import dormant
from ganforge.data import Dataset
from ganforge.data.fingerprint import fingerprint
from ganforge.errors import ConfigError, GanforgeError, warn
from ganforge.run_layout import CHECKPOINTS, STATS
from ganforge.runs import checkpoint, rundir


def check_records(run_dir: Path) -> dict:
    """options.json as resume will extend it, refused in one line when missing or unreadable (before anything
    is written: a resume would otherwise rewrite config.yaml and then fail, or start a new options.json
    without the run's seed, versions and data fingerprint); a missing stats.jsonl is warned about."""
    path = run_dir / rundir.OPTIONS
    fix = "restore it from a backup, or start a new run without --resume"
    try:
        options = json.loads(path.read_text())
    except FileNotFoundError:
        raise GanforgeError(f"cannot resume {run_dir}: its {rundir.OPTIONS} is missing (the run's seed, versions "
                            f"and data fingerprint, which resume checks and extends); {fix}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GanforgeError(f"cannot resume {run_dir}: {path} cannot be read ({getattr(e, 'strerror', None) or e}); "
                            f"{fix}") from None
    except ValueError as e:
        raise GanforgeError(f"cannot resume {run_dir}: {path} is not valid JSON ({str(e).splitlines()[0]}); "
                            f"{fix}") from None
    if not isinstance(options, dict):
        raise GanforgeError(f"cannot resume {run_dir}: {path} holds a {type(options).__name__}, not the run's "
                            f"record; {fix}")
    if not (run_dir / STATS).is_file() and (checkpoint.newest_step(run_dir / CHECKPOINTS) or 0) > 0:
        warn(f"{run_dir / STATS} is missing: the resumed run starts a new log from its checkpoint's step, "
             f"and the statistics logged before it are gone; restore the file first to keep them")
    return options


# What a resume may change without --allow-config-change, as it may train.steps: how the run is shown and
# where it runs, not what it computes (still recorded under config_changes in options.json). The CUDA backend
# flags go with the device: a GPU run with speed.tf32=true resumed on the CPU must drop it (it does nothing
# there, and is refused: training/speed.check_forced), and needed --allow-config-change as well.
ACCEPTED = frozenset({"log.progress", "log.tensorboard", "train.device", "speed.tf32", "speed.cudnn_benchmark"})


def check_config(run_dir: Path, cfg: RunConfig, allow_change: bool) -> list[str]:
    """The differences from the config the run was started with (raising unless allowed)."""
    saved = rundir.read_config(run_dir)
    check_records(run_dir)
    declared = recipes.reads_of(cfg.recipe)  # a key the recipe never reads cannot make the run differ
    # nor can a key both configs leave unread by a switch (Adam's run, saved with momentum_final: null)
    unread = dormant(saved).keys() & dormant(cfg).keys()
    changes = [d for d in config_mod.diff(saved, cfg) if not d.startswith("train.steps:") and _read(d, declared)
               and d.split(":", 1)[0] not in unread]
    free = [d for d in changes if d.split(":", 1)[0] in ACCEPTED]
    changes = [d for d in changes if d not in free]
    kinds = [d.split(":", 1)[0] for d in changes if d.startswith("optim.") and d.split(":", 1)[0].endswith(".name")]
    if kinds:  # refused even with --allow-config-change, and before anything in the run is rewritten
        raise ConfigError(f"{', '.join(kinds)} differs from the one {run_dir} was trained with ("
                          f"{'; '.join(d for d in changes if d.split(':', 1)[0] in kinds)}): an optimiser of "
                          f"another kind cannot continue the checkpoint's (its moments do not carry over); "
                          f"resume with the run's optimiser, or train a new run")
    if changes and not allow_change:
        raise ConfigError(f"the config differs from the one {run_dir} was trained with "
                          f"({'; '.join(changes)}); resume with the same preset and --set values, "
                          f"or pass --allow-config-change to accept the differences")
    return free + changes


def _read(change: str, declared: dict[str, frozenset[str]]) -> bool:
    """Whether a ``diff`` line ("section.key...: old -> new") is about a key the recipe reads."""
    parts = change.split(":", 1)[0].split(".")
    return parts[0] in config_mod.reads.TOP_LEVEL or len(parts) < 2 or parts[1] in declared.get(parts[0], ())


def check_steps(run_dir: Path, cfg: RunConfig, step: int) -> None:
    """Refuse a budget below the step the run already reached: it would train nothing and record a
    train.steps the checkpoints have already passed. (The same budget again is a harmless no-op.)"""
    if cfg.train.steps < step:
        raise GanforgeError(f"{run_dir} is already at step {step}, past --steps {cfg.train.steps} (train.steps); "
                            f"nothing to train: give --steps above {step} to train it further")


def check_checkpoint(run_dir: Path, cfg: RunConfig) -> None:
    """What restoring the newest checkpoint refuses, checked on the one the run would load (its files
    hashed, not loaded: ``--dry-run``): no checkpoint to resume, every one damaged, or a budget the run
    has already passed. A damaged newest one is skipped with the run's warning; by its manifest alone it
    had set the step, and a dry run refused what the run then did."""
    _, manifest = checkpoint.newest_verified(run_dir / CHECKPOINTS)
    step = manifest.get("step")
    if isinstance(step, int):
        check_steps(run_dir, cfg, step)


def record_steps(run_dir: Path, cfg: RunConfig, step: int) -> None:
    """A run continued to another budget (``--resume --steps N``, the one change resume takes without
    asking): config.yaml takes the new train.steps, so it says how far the run trains, and options.json
    keeps each change as ``{"step", "from", "to"}`` under ``steps_changes``. Without this a run grown
    by resumes (learns.py trains a progressive run stage by stage) kept its first leg's budget."""
    saved = rundir.read_config(run_dir)
    if saved.train.steps == cfg.train.steps:
        return
    entry = {"step": step, "from": saved.train.steps, "to": cfg.train.steps}
    saved.train.steps = cfg.train.steps
    rundir.add_option(run_dir, "steps_changes", entry)  # the record first: config.yaml never changes unrecorded
    (run_dir / rundir.CONFIG).write_text(rundir.saved_config(saved))


def record_changes(run_dir: Path, cfg: RunConfig, step: int, changes: list[str]) -> None:
    """With --allow-config-change: say what changed, and keep the record in the run directory."""
    if not changes:
        return
    print(f"resuming at step {step} with a changed config: {'; '.join(changes)}", flush=True)
    rundir.add_option(run_dir, "config_changes", {"step": step, "changes": changes})
    (run_dir / rundir.CONFIG).write_text(rundir.saved_config(cfg))


def describe_data(data: Dataset) -> dict:
    """What options.json records about the training data."""
    return {"samples": int(len(data.x)), "classes": data.num_classes, "shape": list(data.shape),
            "fingerprint": fingerprint(data)}


def check_data(run_dir: Path, data: Dataset) -> None:
    """Warn (one line) when the data differ from those the run was started on."""
    try:
        recorded = json.loads((run_dir / rundir.OPTIONS).read_text()).get("data") or {}
    except (OSError, ValueError):
        return
    if recorded.get("fingerprint") and recorded["fingerprint"] != fingerprint(data):
        shape = list(data.shape)
        reshaped = (f", samples {'x'.join(map(str, recorded['shape']))} -> {'x'.join(map(str, shape))}"
                    if isinstance(recorded.get("shape"), list) and recorded["shape"] != shape else "")
        warn(f"the training data differ from those {run_dir} was started on ({recorded.get('samples')} -> "
                  f"{len(data.x)} samples{reshaped}, fingerprint changed); the run continues on the new data")
