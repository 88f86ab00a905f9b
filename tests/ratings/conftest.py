"""Shared fixtures for the ratings tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def known_strengths() -> np.ndarray:
    # Natural-log strengths, spread like a real leaderboard (about 500 Elo top to bottom).
    return np.array([1.4, 0.9, 0.5, 0.2, 0.0, -0.4, -0.9, -1.5])
