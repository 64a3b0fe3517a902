"""The blob case's fixtures (:mod:`blob_case`) for the anomaly tests."""

from blob_case import blob_folder, blob_runs, opened  # noqa: F401  (fixtures)
