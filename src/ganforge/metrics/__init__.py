"""Metrics, each named with its protocol (sample count, reference split, feature network).

Every metric is a registered *family* plus protocol parameters, and its name
spells them: ``parzen10k_test``, ``fid10k_test_lenet``, ``kid10k_test_lenet``,
``is10k_lenet``, ``pr10k_test_lenet``, ``dc10k_test_lenet``, ``modes2500_3std``,
``modes26k_lenet`` (see ``ganforge.metrics.registry`` for the grammar and
``ganforge eval --list-metrics`` for the families). A metric reports one or more
values under *keys*: its name, or ``name.part`` (``pr10k_test_lenet.recall``).
Features come from *judges* (``ganforge.metrics.judges``): per-dataset
classifiers trained once and cached, whose test accuracy is recorded with every
result, or the FID InceptionV3.

Python API
----------
One-shot::

    from ganforge.metrics import evaluate, higher_is_better
    values = evaluate(samples, "mnist", ["fid", "pr"], n=10_000)   # samples: uint8 (N, C, H, W)
    # {"fid10k_test_lenet": 1.23, "pr10k_test_lenet.precision": 0.8, "pr10k_test_lenet.recall": 0.7}
    higher_is_better("fid10k_test_lenet")      # False; None for informational keys (".std", ".se")

During training (``eval.every=N``; one evaluator for the whole run, so the judge,
the reference split and its features are loaded and computed once)::

    from ganforge.metrics import Evaluator
    ev = Evaluator(cfg.data.name, ["fid_valid", "pr_valid"], n=5000, data_dir=data_dir,
                   data_options=evaluator_data_options(cfg.data))   # ganforge.data.registry's
    ev.names        # resolved, protocol-labelled metric names (validated before training starts)
    ev.directions   # {value key: "higher" | "lower" | None}
    ev.primary      # the key to keep a best checkpoint by (first directed value)
    ev.num_samples  # samples one evaluation draws
    ...
    values = ev(lambda n: run.sample_with_labels(n, seed=0))   # or ev(array); -> {key: float}
    better = ev.directions[ev.primary] == "higher"        # compare with the best so far

Keeping the checkpoint that scores best on the *test* split fits the model to the test
split: evaluate during training against a validation split where the dataset has one
(MNIST: ``fid_valid`` -> ``fid5k_valid_lenet``) and keep the test split for the final report.

``ev.run(...)`` returns a :class:`Report` (values plus the protocol as run, judge
records and timings; ``.table()``, ``.to_dict()``); ``ganforge.api.evaluate_run``
measures a checkpoint of a run directory and writes ``RUN_DIR/eval/<checkpoint>.json``.
Samples may come with class labels (``ev(samples, labels)``, or ``fn(n) -> (x, y)``):
metric families receive them through their context, so class-conditional and
per-class metrics are added as families without changing this API.

Every user mistake (unknown metric, wrong sample shape, too few samples, missing
Inception weights) raises a :class:`ganforge.errors.GanforgeError` subclass.
"""

from ganforge.metrics.evaluation import Evaluator, Log, MetricResult, Report, evaluate, write_report
from ganforge.metrics.judges import JudgeError, load_judge
from ganforge.metrics.registry import MetricError, MetricSpec, describe, higher_is_better, list_families

__all__ = ["Evaluator", "JudgeError", "MetricError", "MetricResult", "MetricSpec", "Report", "describe",
           "Log", "evaluate", "higher_is_better", "list_families", "load_judge", "write_report"]
