"""SR objectives: pixel losses, and the VGG19 feature loss's weights file checked before use (hash, keys).
SRGAN's adversarial losses are entries of the one registry (tests/objectives/test_objectives_losses.py)."""

import pytest
import torch
from safetensors.torch import save_file

from ganforge.errors import ConfigError
from ganforge.objectives import superres as sr


def test_pixel_losses():
    a, b = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5)
    assert sr.pixel_loss("mse", a, b).item() == pytest.approx(0.25)
    assert sr.pixel_loss("l1", a, b).item() == pytest.approx(0.5)


def test_feature_loss_is_zero_on_the_truth_and_pulls_the_output_towards_it():
    torch.manual_seed(0)
    hr = torch.rand(1, 3, 32, 32)
    assert sr.VGG19Features()(hr).shape == (1, 512, 2, 2)  # conv5_4: four 2x2 pools down
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, 2))  # any features
    assert sr.feature_loss(net, hr, hr).item() == 0
    out = torch.rand(1, 3, 32, 32, requires_grad=True)
    loss = sr.feature_loss(net, out, hr)
    loss.backward()
    stepped = (out - 0.5 * out.grad / out.grad.abs().max()).detach()
    assert sr.feature_loss(net, stepped, hr) < loss


def test_a_vgg19_file_with_the_wrong_hash_is_refused(tmp_path):
    weights = tmp_path / "vgg19-dcbb9e9d.pth"  # the official file's name, but not its bytes
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, weights)
    with pytest.raises(ConfigError, match="has sha256 .* not the expected dcbb9e9d"):
        sr.load_vgg19(str(weights), None)
    other = tmp_path / "mine.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(other))
    with pytest.raises(ConfigError, match="not the expected 0000"):
        sr.load_vgg19(str(other), "0000" * 16)
    with pytest.raises(ConfigError, match="does not hold VGG19 conv weights"):  # no hash given: checked by its keys
        sr.load_vgg19(str(other), None)
    with pytest.raises(ConfigError, match="does not exist"):
        sr.load_vgg19(str(tmp_path / "none.pth"), None)


def test_a_vgg19_file_in_torchvisions_layout_loads(tmp_path):
    torch.manual_seed(0)
    source = sr.VGG19Features()
    state = {k: v for k, v in source.state_dict().items() if k.startswith("features.")}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the classifier is in the file and is not needed
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    net, digest = sr.load_vgg19(str(path), None)
    x = torch.rand(1, 3, 16, 16)
    assert len(digest) == 64 and torch.equal(net(x), source(x))
    assert not any(p.requires_grad for p in net.parameters())
