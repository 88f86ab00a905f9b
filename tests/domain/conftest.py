"""Shared builders for decision documents."""

import copy

import pytest

SKELETON = {
    "weights": {"benchmark": 40, "expert": 35, "user": 25},
    "eliminate_lowest": 1,
    "resources": {"B200": 1024, "H100": 1024},
    "teams": [
        {"team": "lg", "benchmark": 84.0, "expert": 90.3, "user": 100.0, "independence": "independent"},
        {"team": "skt", "benchmark": 80.0, "expert": 85.0, "user": 90.0, "independence": "independent"},
        {"team": "upstage", "benchmark": 78.0, "expert": 80.0, "user": 85.0, "independence": "inconclusive"},
        {"team": "naver", "benchmark": 82.0, "expert": 84.0, "user": 80.0, "independence": "derived"},
        {"team": "nc", "benchmark": 70.0, "expert": 72.0, "user": 75.0, "independence": "independent"},
    ],
}


@pytest.fixture
def skeleton():
    """The walking-skeleton contract example (a fresh copy per test)."""
    return copy.deepcopy(SKELETON)


def team(name, benchmark, expert=None, user=None, independence="independent", **extra):
    expert = benchmark if expert is None else expert
    user = benchmark if user is None else user
    return {"team": name, "benchmark": benchmark, "expert": expert, "user": user, "independence": independence, **extra}


@pytest.fixture
def make_team():
    return team
