"""Recipes: the kinds of model ganforge trains, registered by name (config key ``recipe``).

A new GAN *variant* is a preset (plus at most one net, loss or term file); a new *kind of
model* (a different set of networks, phases or meaning of sampling) is a recipe: one module
here with a :class:`~ganforge.recipes.base.Recipe` subclass, registered below. The engine
and the run loader find it by name and never branch on it.
"""

from __future__ import annotations

import importlib

from ganforge.errors import ConfigError, did_you_mean
from ganforge.recipes.base import (DdpModule, Recipe, Stream, TrainedModel, TrainingEnv, TrainingParts,
                                   eval_mode)
from ganforge.recipes.noise_to_image import NoiseToImage
from ganforge.recipes.progressive import Progressive
from ganforge.recipes.style_based import StyleBased
from ganforge.recipes.paired_translation import PairedTranslation
from ganforge.recipes.cycle_translation import CycleTranslation
from ganforge.recipes.superres import SRGANRecipe, SRResNetRecipe
from ganforge.recipes.fanogan import FAnoGAN
from ganforge.recipes.ganomaly import Ganomaly
from ganforge.recipes.dp_noise_to_image import DpNoiseToImage
from ganforge.recipes.semi_supervised import SemiSupervised
from ganforge.recipes.tabular import DpTabular, Tabular

RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Make ``recipe`` available as ``recipe: <its name>`` in configs (tests register their own). A name
    is registered once: a second recipe under it would silently replace the first for every run."""
    if not recipe.name:
        raise ValueError(f"{type(recipe).__name__} has no name")
    if recipe.name in RECIPES:
        raise ValueError(f"recipe {recipe.name!r} is registered twice")
    RECIPES[recipe.name] = recipe
    return recipe


def get(name: str) -> Recipe:
    """The recipe called ``name``, or a one-line ConfigError listing the known ones.

    ``package.module:ClassName`` names a recipe of your own, outside ganforge: the module is
    imported and the class instantiated and registered under that name, so a config file can
    use it (and torchrun's worker processes find it the same way).
    """
    if name not in RECIPES and ":" in name:
        register(_imported(name))
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe '{name}'{did_you_mean(name, RECIPES)}; "
                          f"valid recipes: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def reads_of(name: str) -> dict[str, frozenset[str]]:
    """The config keys recipe ``name`` reads (``Recipe.config_reads``): what ``config.resolve(...,
    reads=reads_of)`` checks a preset and ``--set`` against."""
    return get(name).config_reads()


def _imported(path: str) -> Recipe:
    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"recipe '{path}' cannot be loaded ({e}); give an importable module:Class, "
                          f"with the module on PYTHONPATH") from None
    if not (isinstance(cls, type) and issubclass(cls, Recipe)):
        raise ConfigError(f"recipe '{path}' is not a ganforge.recipes.Recipe subclass")
    recipe = cls()
    recipe.name = path
    return recipe


register(NoiseToImage())
register(Progressive())
register(StyleBased())
register(PairedTranslation())
register(CycleTranslation())
register(SRResNetRecipe())
register(SRGANRecipe())
register(FAnoGAN())
register(Ganomaly())
register(DpNoiseToImage())
register(SemiSupervised())
register(Tabular())
register(DpTabular())

__all__ = ["DdpModule", "RECIPES", "Recipe", "Stream", "TrainedModel", "TrainingEnv", "TrainingParts", "eval_mode",
           "get", "reads_of", "register"]
