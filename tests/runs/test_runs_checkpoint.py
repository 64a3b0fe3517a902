import json

import pytest
import torch

from ganforge.errors import CheckpointError
from ganforge.runs import checkpoint


def _save(root, step, value):
    return checkpoint.save(root, step, {"G": {"w": torch.full((64,), float(value))}}, {"step": step}, keep=5)


def test_save_is_complete_and_verified(tmp_path):
    path = _save(tmp_path, 7, 1.0)
    assert path.name == "step-0000007"
    manifest = json.loads((path / "manifest.json").read_text())
    assert set(manifest["files"]) == {"G.safetensors", "state.json"}
    tensors, state = checkpoint.load(path)
    assert state["step"] == 7 and torch.equal(tensors["G"]["w"], torch.ones(64))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary directory left behind


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, damage, capsys):
    _save(tmp_path, 10, 1.0)
    newest = _save(tmp_path, 20, 2.0)
    target = newest / "G.safetensors"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[-5] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[: len(data) // 2]))
    else:
        target.unlink()
    path, tensors, state = checkpoint.load_latest(tmp_path)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("ganforge: warning: skipping checkpoint")
    assert "step-0000020" in warning[0]
    assert path.name == "step-0000010" and state["step"] == 10
    assert torch.equal(tensors["G"]["w"], torch.ones(64))


def test_a_half_written_checkpoint_is_invisible(tmp_path):
    _save(tmp_path, 10, 1.0)
    partial = tmp_path / ".step-0000020.tmp"
    partial.mkdir()
    (partial / "G.safetensors").write_bytes(b"\0" * 10)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000010"]


def test_keep_last_n(tmp_path):
    for step in range(1, 6):
        checkpoint.save(tmp_path, step, {"G": {"w": torch.zeros(1)}}, {"step": step}, keep=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000004", "step-0000005"]


def test_a_reader_never_sees_a_checkpoint_half_deleted(tmp_path, monkeypatch):
    """Pruning (and saving a step again) renames the old folder out of sight before deleting its files: a
    reader listing checkpoints meanwhile (`sample` while training runs) sees each one whole or not at all."""
    real_rmtree, seen = checkpoint.shutil.rmtree, []

    def rmtree(path, *args, **kwargs):
        (path / "manifest.json").unlink(missing_ok=True)  # the moment a plain rmtree would leave behind
        seen.append([p.name for p in checkpoint.list_checkpoints(tmp_path)])
        for listed in checkpoint.list_checkpoints(tmp_path):
            checkpoint.verify(listed)
        real_rmtree(path, *args, **kwargs)

    for step in range(1, 4):
        checkpoint.save(tmp_path, step, {"G": {"w": torch.zeros(1)}}, {"step": step}, keep=2)
    monkeypatch.setattr(checkpoint.shutil, "rmtree", rmtree)
    checkpoint.save(tmp_path, 4, {"G": {"w": torch.zeros(1)}}, {"step": 4}, keep=2)  # prunes step 2
    checkpoint.save(tmp_path, 4, {"G": {"w": torch.ones(1)}}, {"step": 4}, keep=2)  # step 4 again
    assert seen == [["step-0000003", "step-0000004"], ["step-0000003", "step-0000004"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000003", "step-0000004"]
    assert torch.equal(checkpoint.load(tmp_path / "step-0000004")[0]["G"]["w"], torch.ones(1))


def test_all_damaged_is_a_clear_error(tmp_path):
    path = _save(tmp_path, 10, 1.0)
    (path / "state.json").write_text("{}")
    with pytest.raises(CheckpointError, match="every checkpoint .* is damaged"):
        checkpoint.load_latest(tmp_path)


def test_optimizer_state_round_trips_without_pickle(tmp_path):
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.01)
    p.grad = torch.ones(3)
    opt.step()
    tensors, meta = checkpoint.optimizer_tensors(opt)
    path = checkpoint.save(tmp_path, 1, {"optim": tensors}, {"optim": meta})
    loaded, state = checkpoint.load(path)
    q = torch.nn.Parameter(p.detach().clone())
    opt2 = torch.optim.Adam([q], lr=0.5)
    checkpoint.load_optimizer(opt2, loaded["optim"], state["optim"])
    assert opt2.param_groups[0]["lr"] == 0.01
    assert opt.state[p].keys() == opt2.state[q].keys()
    for key, value in opt.state[p].items():
        assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt2.state[q][key])), key


def test_optimizer_moments_load_back_in_their_parameters_memory_layout():
    """Moments are stored contiguous (safetensors); a channels_last weight gets them back channels_last,
    since the fused CUDA Adam refuses state laid out unlike its parameter (a resumed CUDA run crashed)."""
    conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(conv.parameters())
    conv(torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)).sum().backward()
    opt.step()
    tensors, meta = checkpoint.optimizer_tensors(opt)
    stored = {k: v.contiguous() for k, v in tensors.items()}
    assert stored["0.exp_avg"].stride() != conv.weight.stride()  # the case being tested
    fresh = torch.optim.Adam(conv.parameters())
    checkpoint.load_optimizer(fresh, stored, meta)
    for key in ("exp_avg", "exp_avg_sq"):
        loaded = fresh.state[conv.weight][key]
        assert loaded.stride() == conv.weight.stride()
        assert torch.equal(loaded, opt.state[conv.weight][key])


def test_a_checkpoint_without_its_manifest_is_damaged_not_absent(tmp_path, capsys):
    only = _save(tmp_path, 10, 1.0)
    (only / "manifest.json").unlink()
    (tmp_path / ".step-0000020.tmp").mkdir()  # one being written stays invisible
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000010"]
    with pytest.raises(CheckpointError, match=r"step-0000010 is damaged \(no manifest.json"):
        checkpoint.load_latest(tmp_path)
    good = _save(tmp_path, 5, 1.0)  # with an older good one, that one is used and the bad one named
    path, _, _ = checkpoint.load_latest(tmp_path)
    assert path == good and "step-0000010 is damaged (no manifest.json" in capsys.readouterr().err


@pytest.mark.parametrize("manifest", ['[]', '{"files": []}', '{"step": 20, "files": {}}', '{"files": {"state.json": 1}}'])
def test_a_manifest_of_the_wrong_shape_is_damaged_and_an_older_checkpoint_used(tmp_path, manifest, capsys):
    """A list for a manifest stopped resume and sample with a TypeError; one with no files passed the check
    and was then blamed on the config ("does not fit the configured G")."""
    good = _save(tmp_path, 10, 1.0)
    (_save(tmp_path, 20, 2.0) / "manifest.json").write_text(manifest)
    path, _, _ = checkpoint.load_latest(tmp_path)
    assert path == good and "step-0000020 has no readable manifest" in capsys.readouterr().err


def test_an_empty_checkpoint_folder_is_not_a_checkpoint(tmp_path):
    _save(tmp_path, 10, 1.0)
    (tmp_path / "step-0000020").mkdir()  # nothing in it to load or to report
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000010"]


def test_pruning_never_deletes_good_checkpoints_for_a_damaged_newer_one(tmp_path):
    """By name alone, a damaged step-99 (a run resumed from step 10 past it) counted as the newest: saving step
    20 with keep=1 deleted step 10 and the step 20 just written, leaving only the damaged one."""
    _save(tmp_path, 10, 1.0)
    damaged = tmp_path / "step-0000099"
    damaged.mkdir()
    (damaged / "G.safetensors").write_bytes(b"\0" * 10)  # no manifest: does not open
    checkpoint.save(tmp_path, 20, {"G": {"w": torch.zeros(1)}}, {"step": 20}, keep=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000010", "step-0000020", "step-0000099"]
    checkpoint.save(tmp_path, 30, {"G": {"w": torch.zeros(1)}}, {"step": 30}, keep=1)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000030", "step-0000099"]
    assert checkpoint.load_latest(tmp_path, warn=lambda line: None)[0].name == "step-0000030"


def test_loaded_optimizer_takes_the_configured_betas_and_weight_decay():
    """--allow-config-change records new optimiser settings: the loaded param groups must use them, not the
    checkpoint's, while the moments and the step count carry over."""
    w = torch.nn.Parameter(torch.ones(3))
    old = torch.optim.Adam([w], lr=0.1, betas=(0.5, 0.999), weight_decay=0.0)
    w.grad = torch.ones(3)
    old.step()
    tensors, meta = checkpoint.optimizer_tensors(old)
    new = torch.optim.Adam([w], lr=0.1, betas=(0.0, 0.99), weight_decay=0.01)
    checkpoint.load_optimizer(new, tensors, meta)
    group = new.param_groups[0]
    assert tuple(group["betas"]) == (0.0, 0.99) and group["weight_decay"] == 0.01
    assert torch.equal(new.state[w]["exp_avg"], old.state[w]["exp_avg"])


def test_pruning_hashes_a_kept_checkpoint_once(tmp_path, monkeypatch):
    """Every save re-hashed each kept checkpoint (keep=5: four of them, hundreds of MB for StyleGAN2); a
    checkpoint this process wrote or already verified is not hashed again, unless its manifest was replaced."""
    for step in (10, 20, 30):
        _save(tmp_path, step, 1.0)
    hashed = []
    real_verify = checkpoint.verify
    monkeypatch.setattr(checkpoint, "verify", lambda path: hashed.append(path.name) or real_verify(path))
    _save(tmp_path, 40, 1.0)
    assert hashed == []
    manifest = tmp_path / "step-0000030" / "manifest.json"
    manifest.write_text(manifest.read_text())  # a replaced manifest (another inode or time): hashed again
    _save(tmp_path, 50, 1.0)
    assert hashed == ["step-0000030"]
