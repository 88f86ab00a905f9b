"""The spec accepts exactly the user-score conversions the ratings package implements."""

from pathlib import Path

import pytest

from gauntlet.errors import SpecError
from gauntlet.ratings.user_component import USER_COMPONENT_METHODS
from gauntlet.spec import load
from gauntlet.spec.parse import USER_SCORE_CONVERSIONS


def test_spec_choices_match_the_ratings_package():
    assert set(USER_SCORE_CONVERSIONS) == set(USER_COMPONENT_METHODS)


def test_unknown_conversion_is_refused_naming_the_key(tmp_path):
    text = (Path(__file__).parents[2] / "examples" / "k-sovereign-2026.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('user_score_conversion = "win_rate"', 'user_score_conversion = "elo_percentile"'))
    with pytest.raises(SpecError, match="user_score_conversion"):
        load(bad)
