"""Which config keys a run reads: the engine's own, declared once here, and each recipe's, declared on it.

Every section of :class:`~ganforge.config.schema.RunConfig` exists for every run, but a recipe reads
only some of them: CycleGAN has no gradient penalty, DCGAN no cycle loss. A key a run never reads
would be a silent no-op, so a preset or ``--set`` that states one is refused (:func:`check_stated`),
the saved ``config.yaml`` keeps only what is read (:func:`effective`), and ``ganforge train --dry-run``
prints only that, with where each value came from.

What "read" means: a key is read when some code path of the run uses its value. A value used only
under a condition still counts (``reg.r1_every`` is read when ``reg.r1 > 0``; ``reg.aux_weight`` when
D has a classifier head; ``translation.conditional_d`` when ``translation.gan > 0``): the refusal is
for keys that could never change anything, never for a setting whose effect depends on another.

Declarations are ``{section: keys}`` mappings (a :data:`Reads`); the top-level keys ``seed`` and
``recipe`` are read by every run and are never refused. A recipe declares its own in its ``reads``
class attribute (see :class:`ganforge.recipes.base.Recipe`), built from the groups below with
:func:`union`; the engine adds :data:`ENGINE`, :data:`SAMPLED_EVAL` and :data:`MOVING_AVERAGE`
where they apply (``Recipe.config_reads``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ganforge.config.schema import RunConfig
from ganforge.errors import ConfigError

# {section: the keys of that section that are read}
Reads = Mapping[str, frozenset[str]]
# Read by every run, whatever its recipe: never refused, always saved. (auto is read by every run's
# resolution: config/auto.py refuses it for nets it cannot size, and a run saves it so a resume re-picks alike.)
TOP_LEVEL = tuple(f.name for f in dataclasses.fields(RunConfig) if not dataclasses.is_dataclass(f.default_factory))


def _section_type(section: str) -> type:
    for f in dataclasses.fields(RunConfig):
        if f.name == section:
            return f.default_factory  # every section is a dataclass field with a default factory
    raise KeyError(section)


def every(section: str) -> frozenset[str]:
    """All keys of ``section`` (for a section a recipe reads whole, e.g. ``speed``)."""
    return frozenset(f.name for f in dataclasses.fields(_section_type(section)))


def union(*parts: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """The keys read by any of ``parts``, section by section."""
    out: dict[str, set[str]] = {}
    for part in parts:
        for section, keys in part.items():
            out.setdefault(section, set()).update(keys)
    return {section: frozenset(keys) for section, keys in out.items()}


def minus(reads: Mapping[str, Iterable[str]], drop: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """``reads`` without the keys of ``drop`` (a recipe that inherits another's reads but not all of them)."""
    return {section: frozenset(set(keys) - set(drop.get(section, ()))) for section, keys in reads.items()}


# What the engine reads for every recipe: building and running the loop, logging, checkpoints, the guard.
ENGINE: Reads = union({
    # data.digit is read by the datasets that take one (the anomaly protocols); the loader gets it for any recipe.
    "data": {"name", "split", "resolution", "channels", "size", "skip_unreadable", "digit", "limit"},
    "train": {"steps", "batch_size", "device", "sync_batchnorm"},
    "log": {"every", "sample_every", "sample_count", "checkpoint_every", "keep_checkpoints", "tensorboard",
            "progress"},
    # eval.every is read by every run: the recipes that name their own eval_command refuse it (engine/periodic).
    "eval": {"every"},
    "guard": {"action", "max_retries", "lr_factor", "reseed"},
    "speed": every("speed"),
})
# In-training evaluation of samples drawn from noise: read by recipes that `ganforge eval` measures
# (``Recipe.eval_command`` is None).
SAMPLED_EVAL: Reads = union({"eval": {"metrics", "n"}})
# The moving average: read by recipes that keep one (``Recipe.averaged()`` is not empty).
MOVING_AVERAGE: Reads = union({"ema": every("ema")})
# The collapse monitor (training/monitor.py) and what the guard does with its figure: recipes whose
# training parts have a monitor.
MONITOR: Reads = union({"log": {"diversity_n", "diversity_judge"},
                        "guard": {"collapse_diversity", "diversity_warmup", "stop_on_diversity", "collapse_steps"}})
# The guard's "D wins outright" signal reads the D_fake and loss_D statistics: recipes that log both.
D_COLLAPSE: Reads = union({"guard": {"collapse_d_fake", "collapse_d_loss", "collapse_steps"}})


def sections() -> list[str]:
    """The config's sections, in schema order (the top-level keys excluded)."""
    return [f.name for f in dataclasses.fields(RunConfig) if f.name not in TOP_LEVEL]


def stated_keys(layer: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(section, key) for every section key a layer of differences (a preset, an override) writes."""
    out = []
    for section, value in layer.items():
        if section in TOP_LEVEL or not isinstance(value, Mapping):
            continue  # top-level keys are always read; a section that is not a mapping fails its type check
        out += [(section, key) for key in value]
    return out


def check_stated(layers: Iterable[tuple[str, Mapping[str, Any]]], recipe: str, reads: Reads) -> None:
    """A one-line ConfigError for the first key a layer states that ``recipe`` never reads.

    ``layers`` are (where it came from, its differences), e.g. ("preset dcgan-mnist", {...}) or
    ("--set", {...}); ``reads`` is the recipe's full declaration (``Recipe.config_reads()``).
    """
    for source, layer in layers:
        for section, key in stated_keys(layer):
            read = reads.get(section, frozenset())
            if key in read:
                continue
            listed = ", ".join(k for k in _schema_order(section) if k in read) or "none"
            raise ConfigError(f"{section}.{key} (from {source}) is not read by recipe '{recipe}', so it would change "
                              f"nothing; the {section} keys {recipe} reads: {listed}. Remove it, or choose a "
                              f"recipe that reads it")


def _schema_order(section: str) -> list[str]:
    return [f.name for f in dataclasses.fields(_section_type(section))]


def effective(raw: Mapping[str, Any], reads: Reads) -> dict[str, Any]:
    """A config's plain dict (``RunConfig.to_dict()``) with only the keys ``reads`` says are read:
    what a run's config.yaml keeps and ``--dry-run`` prints. A section with no key read is left out."""
    out = {key: raw[key] for key in TOP_LEVEL if key in raw}
    for section in sections():
        if section not in raw:
            continue
        read = reads.get(section, frozenset())
        kept = {k: v for k, v in raw[section].items() if k in read}
        if kept:
            out[section] = kept
    return out


def saved_yaml(cfg: RunConfig, reads: Reads) -> str:
    """The text of a run's config.yaml: the keys the run reads. Keys left out load as their defaults
    (``from_dict``), which is what the run used, since it never read them; config.yaml files written
    before keys were declared hold every section and load unchanged."""
    return yaml.safe_dump(effective(cfg.to_dict(), reads), sort_keys=False)


def annotated(effective_raw: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """``effective_raw`` as YAML, each value followed by ``# where it came from`` (a layer's label from
    ``loading.sources``, or ``default``): what ``ganforge train --dry-run`` prints."""
    lines: list[str] = []

    def walk(value: Any, path: str, key: str, depth: int) -> None:
        pad = "  " * depth
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{key}:")
            for sub, v in value.items():
                walk(v, f"{path}.{sub}", sub, depth + 1)
            return
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
        lines.append(f"{f'{pad}{key}: {text}':<44} # {sources.get(path, 'default')}")

    for key, value in effective_raw.items():
        walk(value, key, key, 0)
    return "\n".join(lines) + "\n"


def unread(reads: Reads) -> list[str]:
    """Every ``section.key`` of the schema that ``reads`` leaves out (what a walking test tries)."""
    return [f"{s}.{k}" for s in sections() for k in _schema_order(s) if k not in reads.get(s, frozenset())]


__all__ = ["D_COLLAPSE", "ENGINE", "MONITOR", "MOVING_AVERAGE", "Reads", "SAMPLED_EVAL", "TOP_LEVEL", "annotated",
           "check_stated",
           "effective", "every", "minus", "saved_yaml", "sections", "stated_keys", "union", "unread"]
