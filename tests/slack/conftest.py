"""Hypothesis without an example database: property tests stay deterministic enough and write no files."""

from hypothesis import settings

settings.register_profile("helmbot-slack", database=None, deadline=None)
settings.load_profile("helmbot-slack")
