"""The run configuration: typed, every default written once, unknown keys rejected.

A run is resolved in three layers, each only stating what differs from the one
below: the defaults in the dataclasses (``schema``: the 2014 paper's
hyperparameters, with the embedded ``digits`` data), a preset YAML (which may
``extends:`` another preset), then ``--set key=value`` overrides (``loading``).
The result is a :class:`RunConfig`, checked by ``validation`` and saved as
``config.yaml`` in the run directory.

Network options are free-form in YAML (``model.g: {arch: mlp, hidden: [..]}``)
but validated against the builder's signature, so a misspelt option fails
before any training starts.
"""

from ganforge.config import reads
from ganforge.config.loading import (diff, differences, from_dict, merge, override_layers, parse_override,
                                     resolve, sources)
from ganforge.config.schema import (AugmentConfig, DataConfig, EmaConfig, EvalConfig, GuardConfig, LogConfig,
                                    LossConfig, ModelConfig, NetSpec, OptimConfig, OptimPair, RegConfig, RunConfig,
                                    SpeedConfig, TrainConfig)
from ganforge.config.schema import TranslationConfig
from ganforge.config.schema import SuperresConfig
from ganforge.config.schema import AnomalyConfig
from ganforge.config.schema import DpConfig
from ganforge.config.validation import validate
from ganforge.config.yaml_reader import load_yaml

__all__ = ["AugmentConfig", "DataConfig", "EmaConfig", "EvalConfig", "GuardConfig", "LogConfig", "LossConfig",
           "ModelConfig", "NetSpec", "OptimConfig", "OptimPair", "RegConfig", "RunConfig", "SpeedConfig",
           "TrainConfig", "diff", "differences", "from_dict", "load_yaml", "merge", "override_layers", "parse_override", "reads", "resolve", "sources", "validate",
           "TranslationConfig", "SuperresConfig", "AnomalyConfig", "DpConfig"]
