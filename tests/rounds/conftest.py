"""A two-round challenge spec and result builders for the round-engine tests."""

import datetime as dt

import pytest

from gauntlet import spec as spec_module
from gauntlet.domain.components import ComponentScore
from gauntlet.rounds import TeamResult

KST = dt.timezone(dt.timedelta(hours=9))

TWO_ROUNDS = """
[challenge]
id = "two-round"
name = "Two-round test challenge"
organiser = "Test ministry"

[scoring.weights]
benchmark = 40
expert = 35
user = 25

[[teams]]
id = "alpha"
name = "Alpha"
organisation = "Alpha Labs"
country = "KR"

[[teams]]
id = "bravo"
name = "Bravo"
organisation = "Bravo Inc"
country = "KR"

[[teams]]
id = "charlie"
name = "Charlie"
organisation = "Charlie AI"
country = "KR"

[[teams]]
id = "delta"
name = "Delta"
organisation = "Delta Corp"
country = "KR"

[[teams]]
id = "echo"
name = "Echo"
organisation = "Echo Tech"
country = "KR"

[[teams]]
id = "newco"
name = "NewCo"
organisation = "NewCo"
country = "KR"
joins_at_round = "final"
allotment = { B200 = 768 }

[[rounds]]
id = "first"
name = "First"
submission_deadline = 2025-12-30T18:00:00+09:00
decision_date = 2026-01-15T10:00:00+09:00
appeal_window_days = 10
policy = { eliminate_lowest = 1 }
pool = { B200 = 1536, H100 = 1536 }

[[rounds]]
id = "final"
name = "Final"
submission_deadline = 2026-06-30T18:00:00+09:00
decision_date = 2026-07-20T10:00:00+09:00
appeal_window_days = 10
policy = { winners = 2 }

[independence]
disqualifying_modules = ["embedding", "attention", "mlp", "vision_encoder", "lm_head"]
exempt_own_organisation = true

[[independence.references]]
id = "foreign-vl"
organisation = "Foreign Lab"
country = "CN"
licence = "apache-2.0"

[eligibility]
licences = ["apache-2.0", "mit"]

[resources]
allocation = "equal"
opening = { H100 = 1000 }
datasets = [{ id = "corpus", name = "Korean corpus", provider = "NIA" }]
"""


def at(month, day, hour=12, year=2026):
    return dt.datetime(year, month, day, hour, tzinfo=KST)


@pytest.fixture
def two_round_spec():
    return spec_module.loads(TWO_ROUNDS)


def result(team, benchmark, expert, user, *, width=1.0, independence="independent", findings=(), licence="apache-2.0"):
    def comp(v):
        return ComponentScore(v, max(0.0, v - width), min(100.0, v + width))

    return TeamResult(
        team,
        {"benchmark": comp(benchmark), "expert": comp(expert), "user": comp(user)},
        independence,
        tuple(findings),
        licence,
    )


@pytest.fixture
def make_result():
    return result


@pytest.fixture
def when():
    return at
