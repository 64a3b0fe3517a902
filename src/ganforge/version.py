"""The package version, in a module of its own so that anything (the run directory's record,
``ganforge --version``) can read it without importing the package's public API."""

__version__ = "0.1.0"
