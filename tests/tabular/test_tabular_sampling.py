"""A table run's samples (tabular/sampling.py): the training preview, and ``ganforge sample``'s table output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.tabular.sampling import save_table_preview


def test_a_cjk_column_name_previews_without_glyph_warnings(tmp_path, recwarn):
    """A table with a CJK column name printed 8 matplotlib "Glyph ... missing from font" warnings while training."""
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"类别": rng.choice(["是", "否"], 50), "x": rng.normal(size=50)})
    syn = pd.DataFrame({"类别": rng.choice(["是", "否"], 50), "x": rng.normal(size=50)})
    path = save_table_preview(real, syn, tmp_path / "p.png", title="step 2")
    assert Image.open(path).format == "PNG"
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


TRAIN = ["--steps", "2", "--set", "train.batch_size=50", "--set", "model.d.pack=5", "--set", "log.tensorboard=false",
         "--set", "log.progress=false"]


@pytest.fixture(scope="module")
def coded_run(tmp_path_factory):
    """A table run whose integer-coded column has blanks (read by pandas as float64), learned as categories
    (module-scoped, so before the per-test GANFORGE_DATA: its table cache goes to a folder of its own)."""
    root = tmp_path_factory.mktemp("coded")
    rng = np.random.default_rng(0)
    codes = pd.array(rng.integers(-2, 5, 100), dtype="Int64")
    codes[rng.random(100) < 0.2] = pd.NA
    src = root / "t.csv"
    pd.DataFrame({"x": rng.normal(size=100).round(2), "code": codes, "town": rng.choice(["York", "Hull"], 100)}
                 ).to_csv(src, index=False)
    assert main(["train", "ctgan-fast", "--out", str(root / "run"), "--set", f"data.name=csv:{src}",
                 "--set", "data.discrete=code", "--data-dir", str(root / "data"), *TRAIN]) == 0
    return root / "run"


def test_a_condition_on_integer_codes_with_blanks_is_written_as_an_integer(coded_run, tmp_path, capsys):
    """--condition code=3 wrote 3.0 (and every other code with .0): the codes came back as floats."""
    out = tmp_path / "s.csv"
    assert main(["sample", str(coded_run), "--n", "20", "--out", str(out), "--condition", "code=3"]) == 0
    assert set(pd.read_csv(out, dtype=str)["code"]) == {"3"}
    free = tmp_path / "free.csv"
    assert main(["sample", str(coded_run), "--n", "200", "--out", str(free)]) == 0
    written = set(pd.read_csv(free, dtype=str, keep_default_na=False)["code"])
    assert written <= {"", "-2", "-1", "0", "1", "2", "3", "4"}, written  # no 3.0


@pytest.mark.parametrize("flag", [["--truncation-centres", "4"], ["--truncation", "1"]])
def test_image_only_flags_are_refused_on_a_table_run(coded_run, tmp_path, capsys, flag):
    """--truncation-centres was silently ignored on a table run (--truncation was refused)."""
    out = tmp_path / "s.csv"
    capsys.readouterr()
    assert main(["sample", str(coded_run), "--n", "20", "--out", str(out), *flag]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganforge: ") and "Traceback" not in err, err
    assert f"{flag[0]} does not apply to a table run" in err and "drop it" in err
    assert not out.exists()
