"""A damaged store names the command that rebuilds it as it was built: run as given, it makes a store that loads.

The command comes from the store's dataset.json (source, resolution, crop, channels, labels file), quoted for a
shell; a store built with an option ``ganforge dataset`` does not take says so; an unreadable dataset.json still
gets a command, with the source and options left to the user."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.data import load_dataset
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.errors import DataError


def _photos(folder, n=4):
    """Colour photos that are not square and not one size: a build needs --resolution and --crop."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = 20 + 2 * i, 28 + i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _damage(store, how):
    if how == "truncate images.u8":
        images = store / "images.u8"
        images.write_bytes(images.read_bytes()[:-5])
    else:
        (store / how).unlink()


def _fix(message):
    """The command a damaged-store message gives, as the argv of ganforge.cli.main."""
    assert "; the store is damaged, rebuild it with " in message, message
    argv = shlex.split(message.split("rebuild it with ", 1)[1])
    assert argv[:2] == ["ganforge", "dataset"] and argv[-1] == "--force", argv
    return argv[1:]


@pytest.mark.parametrize("how", ["labels.i64", "mean.npy", "truncate images.u8"])
def test_the_suggested_command_rebuilds_the_store_as_it_was(tmp_path, monkeypatch, capsys, how, one_line):
    work = tmp_path / "my work"  # a space in every path: the command must be quoted for a shell
    _photos(work / "my photos")
    (work / "my labels.json").write_text(json.dumps({"p0.png": 2, "p1.png": 0, "p2.png": 5, "p3.png": 0}))
    monkeypatch.chdir(work)  # relative paths at build time: the command must work from anywhere
    assert main(["dataset", "my photos", "--out", "photos 16", "--resolution", "16", "--crop", "center",
                 "--channels", "1", "--labels", "my labels.json"]) == 0
    store = work / "photos 16"
    before = json.loads((store / "dataset.json").read_text())
    _damage(store, how)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{store}")
    message = one_line(e)
    argv = _fix(message)
    assert argv[argv.index("--out") + 1] == str(store) and argv[1] == str(work / "my photos")
    for flag, value in (("--resolution", "16"), ("--crop", "center"), ("--channels", "1"),
                        ("--labels", str(work / "my labels.json"))):
        assert argv[argv.index(flag) + 1] == value, message
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    after = json.loads((store / "dataset.json").read_text())
    assert after["content_sha256"] == before["content_sha256"] and after["shape"] == [4, 1, 16, 16]
    ds = load_dataset(f"store:{store}")
    assert ds.y.tolist() == [2, 0, 5, 0] and len(ds.meta["classes"]) == 6


def test_train_names_the_command_for_a_store_built_with_the_default_options(tmp_path, capsys):
    src = tmp_path / "sq"
    src.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(src / f"{i}.png")
    assert main(["dataset", str(src), "--out", str(tmp_path / "st")]) == 0
    (tmp_path / "st" / "mean.npy").unlink()
    capsys.readouterr()
    assert main(["train", "dcgan-mnist", "--out", str(tmp_path / "r"), "--set", f"data.name=store:{tmp_path / 'st'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.endswith(f"rebuild it with ganforge dataset {shlex.quote(str(src))} --out "
                        f"{shlex.quote(str(tmp_path / 'st'))} --force"), err


def test_a_row_cut_off_after_opening_names_the_command(tmp_path):
    _photos(tmp_path / "ph")
    build_store(tmp_path / "ph", tmp_path / "st", BuildOptions(resolution=8, crop="center", labels="none"))
    ds = load_dataset(f"store:{tmp_path / 'st'}")
    images = tmp_path / "st" / "images.u8"
    images.write_bytes(images.read_bytes()[:-16])
    with pytest.raises(DataError) as e:
        ds.x._ganforge_store.rows(np.array([3]))
    assert str(e.value).endswith(f"ended before row 3; the store is damaged, rebuild it with ganforge dataset "
                                 f"{tmp_path / 'ph'} --out {tmp_path / 'st'} --resolution 8 --crop center "
                                 "--labels none --force")


def test_an_option_the_command_does_not_take_is_named(tmp_path, one_line):
    _photos(tmp_path / "ph")
    build_store(tmp_path / "ph", tmp_path / "st", BuildOptions(resolution=8, crop="center", dedupe=False,
                                                                upscale_small=True))
    (tmp_path / "st" / "mean.npy").unlink()
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'st'}")
    assert (f"rebuild it with ganforge dataset {tmp_path / 'ph'} --out {tmp_path / 'st'} --resolution 8 "
            f"--crop center --force (note: it was built with dedupe=false, upscale_small=true, which ganforge "
            f"dataset does not set; build_store with the options in {tmp_path / 'st' / 'dataset.json'} makes the "
            "same store)") in one_line(e)


@pytest.mark.parametrize("manifest", ["{not json", "[1, 2]"])
def test_an_unreadable_dataset_json_still_says_how_to_rebuild(tmp_path, manifest, one_line):
    _photos(tmp_path / "ph")
    build_store(tmp_path / "ph", tmp_path / "st", BuildOptions(resolution=8, crop="center"))
    (tmp_path / "st" / "dataset.json").write_text(manifest)
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'st'}")
    assert f"rebuild it with ganforge dataset SRC --out {tmp_path / 'st'} --force, giving the source and options " \
           "it was built with" in one_line(e)


def test_an_option_left_out_of_the_command_is_the_default_the_command_takes():
    from ganforge.cli import build_parser
    from ganforge.data.store_build import CLI_OPTIONS
    args = build_parser().parse_args(["dataset", "src", "--out", "o"])
    default = BuildOptions().record()
    assert {name: getattr(args, name) for name in CLI_OPTIONS} == {name: default[name] for name in CLI_OPTIONS}
