"""Finished (and running) runs: the run directory, its checkpoints, and a run opened as one object.

``rundir`` writes and reads the directory's records (config.yaml, options.json, stats.jsonl),
``checkpoint`` the atomic, checksummed checkpoints, and ``run.load_run`` opens a run at one
checkpoint with its networks built by the run's recipe.
"""
