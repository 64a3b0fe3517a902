"""Metrics, each named with its protocol (sample count, reference, features)."""
