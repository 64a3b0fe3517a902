"""The training engine: phases, the loop, checkpoints, the run directory."""
