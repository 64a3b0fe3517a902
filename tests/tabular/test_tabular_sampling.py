"""The training preview of a table run (tabular/sampling.py's save_table_preview)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from ganforge.tabular.sampling import save_table_preview


def test_a_cjk_column_name_previews_without_glyph_warnings(tmp_path, recwarn):
    """A table with a CJK column name printed 8 matplotlib "Glyph ... missing from font" warnings while training."""
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"类别": rng.choice(["是", "否"], 50), "x": rng.normal(size=50)})
    syn = pd.DataFrame({"类别": rng.choice(["是", "否"], 50), "x": rng.normal(size=50)})
    path = save_table_preview(real, syn, tmp_path / "p.png", title="step 2")
    assert Image.open(path).format == "PNG"
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
