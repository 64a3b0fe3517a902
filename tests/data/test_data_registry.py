from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ganforge.tabular  # noqa: F401 - registers csv:PATH and parquet:PATH
from ganforge.data import Dataset, list_datasets, load_dataset, register, registry, resolve_data_dir
from ganforge.data.registry import REGISTRY, dataset_splits
from ganforge.errors import DataError, GanforgeError


def test_list_datasets_names_builtins_and_prefixes():
    assert {"digits", "grid25", "mnist", "ring8", "folder:PATH", "npz:PATH"} <= set(list_datasets())
    assert list_datasets() == sorted(list_datasets())


def test_unknown_name_suggests_and_lists_valid(one_line):
    with pytest.raises(DataError) as e:
        load_dataset("mnsit")
    msg = one_line(e)
    assert "did you mean 'mnist'" in msg and "ring8" in msg and "folder:PATH" in msg
    assert issubclass(DataError, GanforgeError)


def test_bare_path_hints_at_prefixes():
    with pytest.raises(DataError, match="folder:/some/where"):
        load_dataset("/some/where")


@pytest.mark.parametrize("name", ["folder", "folder:", "npz:  "])
def test_prefix_without_path(name, one_line):
    with pytest.raises(DataError, match="needs a path") as e:
        load_dataset(name)
    one_line(e)


def test_names_are_case_insensitive_and_canonical():
    assert load_dataset("Ring8", size=10).name == "ring8"


def test_skip_unreadable_is_a_permission_every_dataset_accepts():
    assert len(load_dataset("ring8", size=5, skip_unreadable=True)) == 5


def test_unknown_split_lists_valid_splits(one_line):
    with pytest.raises(DataError) as e:
        load_dataset("digits", split="tset")
    msg = one_line(e)
    assert "did you mean 'test'" in msg and "train, test, all" in msg


@pytest.mark.parametrize(
    "kwargs", [{"channels": 2}, {"resolution": 0}, {"size": -5}, {"seed": -1}, {"size": 1.5}, {"resolution": True}]
)
def test_bad_option_values(kwargs, one_line):
    with pytest.raises(DataError, match="is invalid") as e:
        load_dataset("ring8", **kwargs)
    one_line(e)


def test_options_that_do_not_apply_are_refused_not_ignored():
    with pytest.raises(DataError, match="data.resolution"):
        load_dataset("ring8", resolution=32)
    with pytest.raises(DataError, match="data.size"):
        load_dataset("digits", size=100)


def test_register_adds_a_dataset_in_one_function():
    @register("tiny-test-set", splits=("train", "test"))
    def _load(req):
        return Dataset(name=req.name, kind="points", x=torch.zeros(3, 2), meta={"split": req.split})

    try:
        assert "tiny-test-set" in list_datasets()
        assert load_dataset("tiny-test-set", split="test").meta["split"] == "test"
        with pytest.raises(ValueError):
            register("tiny-test-set")
    finally:
        REGISTRY.pop("tiny-test-set")


def test_dataset_invariants_and_meta_is_json():
    ds = load_dataset("digits", split="test")
    assert len(ds) == 297 and ds.shape == (1, 8, 8)
    json.dumps(ds.meta)
    assert "n=297" in repr(ds)
    with pytest.raises(ValueError):
        Dataset(name="bad", kind="image", x=torch.zeros(2, 1, 4, 4))  # float images are a loader bug


def test_resolve_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert (tmp_path / "arg").is_dir()
    assert resolve_data_dir() == (tmp_path / "env").resolve()
    monkeypatch.delenv("GANFORGE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == (tmp_path / "home" / ".cache" / "ganforge" / "data").resolve()


def test_resolve_data_dir_rejects_a_file(tmp_path, one_line):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="not a directory") as e:
        resolve_data_dir(f)
    one_line(e)
    assert isinstance(resolve_data_dir(Path(tmp_path)), Path)


def test_dataset_splits_names_each_datasets_splits():
    assert dataset_splits("digits") == ("train", "test", "all")
    assert "valid" in dataset_splits("mnist") and "valid" not in dataset_splits("npz:/any/file.npz")


def test_check_options_reads_no_data_and_refuses_what_loading_refuses(tmp_path, monkeypatch):
    """``train --dry-run``'s data check (registry.check_options): every loader calls req.reject before it reads
    anything, so the check passes with no data at all (a missing path, an empty data dir), and refuses what
    the loader would (data.size on digits, data.resolution on points)."""
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "no-data"))
    for name, entry in registry.REGISTRY.items():
        given = name.replace(registry.PATH_SUFFIX, ":/no/such/path")
        assert registry.check_options(given, split=entry.splits[0], data_dir=tmp_path / "no-data"), name
    assert not (tmp_path / "no-data").exists()
    with pytest.raises(DataError, match="data.size=50 does not apply to dataset 'digits'"):
        registry.check_options("digits", size=50)
    with pytest.raises(DataError, match="data.resolution=8 does not apply to dataset 'ring8'"):
        registry.check_options("ring8", resolution=8)
    with pytest.raises(DataError, match="data.channels=1 does not apply to dataset 'stacked-mnist'"):
        registry.check_options("stacked-mnist", channels=1)


def test_train_dry_run_refuses_a_data_option_the_run_would(capsys, tmp_path, monkeypatch):
    from ganforge.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "gan2014-digits", "--set", "data.size=50", "--dry-run", "--out", "r"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data.size=50 does not apply to dataset 'digits'" in err
    assert not (tmp_path / "r").exists()
