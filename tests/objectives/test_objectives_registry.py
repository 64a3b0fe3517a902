"""Objectives attach in the order objectives.registry.ORDER declares, whatever order they were imported
(registered) in, and each declares the config keys it reads."""

import pytest
from torch import nn

from ganforge import config, presets
from ganforge.objectives import registry
from ganforge.objectives.registry import ORDER, TermPlan, attach_all


class ClassifyingD(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 1)

    def classify(self, f):
        return f


def _plan():
    cfg = config.resolve(presets.load_preset("gan2014-digits")[0],
                         ["reg.gp=1", "reg.drift=0.1", "reg.r1=1", "reg.feature_matching=1", "reg.ortho=1e-4",
                          "augment.ada_target=0.6"])
    nets = {"G": nn.Linear(2, 4), "D": ClassifyingD()}
    return attach_all(cfg, TermPlan(nets, d="D", g="G"))


def _names(terms):
    return [getattr(t, "func", t).__qualname__ for t in terms]


def test_registration_in_reverse_order_attaches_in_the_declared_order(monkeypatch):
    before = _plan()
    reversed_attachers = dict(reversed(list(registry.ATTACHERS.items())))
    assert list(reversed_attachers) != list(registry.ATTACHERS)  # the "import" order really differs
    monkeypatch.setattr(registry, "ATTACHERS", reversed_attachers)
    assert registry.registered() == [n for n in ORDER if n in reversed_attachers]
    after = _plan()
    assert _names(after.terms["D"]) == _names(before.terms["D"])
    assert _names(after.terms["G"]) == _names(before.terms["G"])
    # the declared order, read off the D terms: ADA installs first, then gp, aux, R1 (every step: in D's
    # update), drift, then ADA observes
    assert _names(after.terms["D"]) == ["attach.<locals>.<lambda>", "gradient_penalty_term", "aux_classifier_d",
                                        "r1_on_d_batch", "drift_term", "attach.<locals>.<lambda>"]
    assert _names(after.terms["G"]) == ["aux_classifier_g", "feature_matching_term", "orthogonal_term"]


def test_an_objective_without_a_declared_place_is_refused():
    with pytest.raises(ValueError, match="no place in objectives.registry.ORDER"):
        registry.register("my_penalty", reads={"reg": {"gp"}})


def test_every_registered_objective_has_a_place_and_declares_its_keys():
    assert registry.registered() == list(ORDER)
    for name in ORDER:
        declared = registry.READS[name]
        assert declared and all(keys for keys in declared.values()), name
        for section, keys in declared.items():
            assert keys <= config.reads.every(section), (name, section)
