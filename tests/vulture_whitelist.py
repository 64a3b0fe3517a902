"""Names vulture reports as unused in src/ganforge that are used, each with the reader it cannot see.

Read by ``tests/test_dead_code.py`` (never imported, never run: vulture only parses it). A line
here is a claim about a use outside what vulture reads; keep the reason beside it, and remove the
line when the use goes. Functions registered by a decorator (``@register``, ``@register_family``)
are not listed: the test tells vulture to treat those decorators as uses.
"""

# mypy: ignore-errors
# ruff: noqa
_ = None

_.find_class  # data/safe_pickle.py: pickle.Unpickler calls it by name for every global it meets
_._warned_capturable_if_run_uncaptured  # engine/graphs.py: an attribute torch's Adam reads, set to quiet a warning
_.eager_updates  # engine/graphs.py: counters that tests/engine/test_engine_graphs.py reads
_.replays  # engine/graphs.py: as above
_.passes  # serve/batching.py: forward passes shared by requests, read by tests/serve/test_serve_api.py
_.allow_tf32  # training/speed.py: torch.backends switches, read by torch itself
_.benchmark  # training/speed.py: torch.backends.cudnn.benchmark, read by torch
_.test_accuracy  # metrics/judges.py: Judge.test_accuracy, read by tests, benchmarks and docs/benchmarks.md's command
spectral_sigma  # nets/layers.py: sigma of a spectrally normalised weight, what tests/nets check is ~1
spectral_norm_iterations  # nets/registry.py: generic_options' keywords are the documented defaults, read by name
_.to_yaml  # config/schema.py: RunConfig.to_yaml, the saved form of a config (public API, used by the config tests)
_.sample_original  # tabular/conditional.py: the training-by-sampling reference, read by tests/tabular/test_tabular_conditional.py
_.mean_log_likelihood  # tabular/modes.py: the mode fit's figure, read by tests/tabular and benchmarks/tabular_gmm.py
