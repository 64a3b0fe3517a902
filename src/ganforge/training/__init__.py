"""The parts a recipe composes in ``Recipe.training(env)`` into ``TrainingParts``.

Phases, real batches and streams, schedules, moving averages, seeds and RNG, the speed
switches, growth, step windows, the image pool, the collapse monitor. Nothing here runs a loop:
the engine (:mod:`ganforge.engine`) builds a recipe, runs its phases and keeps its statistics,
checkpoints and guard.
"""
