"""The output rule's checks against what a command reads (:func:`ganforge.outputs.check_not_input`,
:func:`check_folder_out`) and its suggestions, each one a name the command accepts (probe C items 16, 17, 19)."""

import os

import pytest

from ganforge import outputs
from ganforge.errors import GanforgeError


def test_an_output_that_is_the_input_is_refused(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.png").write_bytes(b"a")
    with pytest.raises(GanforgeError, match="--out is the --input file"):
        outputs.check_not_input(tmp_path / "x.npy", tmp_path / "x.npy")
    with pytest.raises(GanforgeError, match="--out is the --input folder"):
        outputs.check_not_input(tmp_path / "dir" / ".." / "dir", tmp_path / "dir")
    with pytest.raises(GanforgeError, match="holding the --input"):
        outputs.check_not_input(tmp_path, tmp_path / "dir")
    os.link(tmp_path / "x.npy", tmp_path / "hard.npy")  # the same file under another name
    with pytest.raises(GanforgeError, match="--out is the --input file"):
        outputs.check_not_input(tmp_path / "hard.npy", tmp_path / "x.npy")
    with pytest.raises(GanforgeError, match="an --input file being read"):
        outputs.check_not_input(tmp_path / "out", tmp_path / "dir", targets=[tmp_path / "dir" / "a.png"],
                                inputs=[tmp_path / "dir" / "a.png"])
    outputs.check_not_input(tmp_path / "y.npy", tmp_path / "x.npy")  # another file: fine
    outputs.check_not_input(tmp_path / "out", tmp_path / "dir", targets=[tmp_path / "out" / "a.png"],
                            inputs=[tmp_path / "dir" / "a.png"])


def test_a_folder_output_inside_the_input_folder_is_refused(tmp_path):
    """Folder inputs are read with their subfolders, so outputs written inside one joined the images it
    holds: the next translate of the same folder read 4 images where there were 2."""
    (tmp_path / "dir").mkdir()
    with pytest.raises(GanforgeError, match="--out .*out is inside the --input folder .*dir, so the outputs would "
                                            "join the images it holds"):
        outputs.check_not_input(tmp_path / "dir" / "out", tmp_path / "dir")


def test_a_folder_output_named_like_a_file_is_refused(tmp_path):
    with pytest.raises(GanforgeError, match="a folder --input needs a folder --out, got .*out.npy"):
        outputs.check_folder_out(tmp_path / "out.npy")
    (tmp_path / "old.png").mkdir()  # a folder of that name already: it is a folder
    outputs.check_folder_out(tmp_path / "old.png")
    outputs.check_folder_out(tmp_path / "big")


@pytest.mark.parametrize("given,suffixes,suggested", [
    ("", (".npy",), "--out out.npy"), (".", (".json",), "--out out.json"),
    ("", None, "--out out"), ("DIR", None, "DIR/out.npy"),
])
def test_suggestions_carry_the_commands_extension(tmp_path, monkeypatch, given, suffixes, suggested):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DIR.npy").mkdir()
    with pytest.raises(GanforgeError) as info:
        outputs.check_file("DIR.npy" if given == "DIR" else given, flag="--out", suffixes=suffixes)
    expected = suggested.replace("DIR", "DIR.npy")
    assert expected in str(info.value), str(info.value)
