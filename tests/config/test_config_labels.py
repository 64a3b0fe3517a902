"""Which config layers the user typed: the labels `ganforge train` gives its layers, read by typed_by_user."""
import argparse

from ganforge.cli import train
from ganforge.config.labels import typed_by_user


def test_the_user_typed_set_and_the_flags_but_not_the_presets_in_an_extends_chain():
    args = argparse.Namespace(preset="stylegan2-mnist", set=["optim.g.lr=0.001"], steps=3, seed=None, device=None)
    labels = [label for label, _ in train._layers(args)]
    assert [typed_by_user(label) for label in labels] == [False] * (len(labels) - 2) + [True, True]
    assert labels[-2:] == ["--set optim.g.lr=0.001", "--steps 3"]
    assert len(labels) >= 2 and all(label.startswith("preset ") for label in labels[:-2])
