"""The recipe registry (recipes/__init__.py): a name is registered once, as in every other registry."""

from __future__ import annotations

import pytest

from ganforge import recipes
from ganforge.recipes.noise_to_image import NoiseToImage


def test_a_recipe_name_registered_twice_is_refused():
    before = recipes.RECIPES["noise-to-image"]
    with pytest.raises(ValueError, match="recipe 'noise-to-image' is registered twice"):
        recipes.register(NoiseToImage())
    assert recipes.RECIPES["noise-to-image"] is before  # the first one is kept, not silently replaced
