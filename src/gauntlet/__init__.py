"""Gauntlet: run sovereign-AI foundation-model challenges end to end."""

__version__ = "0.1.0"
