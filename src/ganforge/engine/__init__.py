"""The engine: builds any recipe's run, runs its phases, checkpoints and resumes it.

``loop.Trainer`` is the loop; ``build`` constructs (in the order a seed fixes),
``state`` captures and restores every named component, ``outputs`` writes grids,
evaluations and checkpoints between steps, ``rollback`` handles divergence,
``resume_checks`` guards ``--resume``, ``signals`` turns Ctrl-C/SIGTERM into a clean stop.
"""
