"""The stored spec, read back as a `ChallengeSpec` when it is a valid one.

A store can hold a challenge registered with any TOML (tests register
placeholders), so readers fall back to documented defaults when it does not
parse."""

from __future__ import annotations

from functools import lru_cache

from gauntlet.errors import GauntletError

DEFAULT_APPEAL_WINDOW_DAYS = 10  # the programme's window
DEFAULT_REVIEWS_PER_SUBMISSION = 3


@lru_cache(maxsize=16)
def parsed_spec(spec_toml: str):
    from gauntlet import spec

    try:
        return spec.loads(spec_toml)
    except GauntletError:
        return None


def appeal_window_days(spec_toml: str, round_key: str) -> int:
    parsed = parsed_spec(spec_toml)
    if parsed is not None:
        for rnd in parsed.rounds:
            if rnd.id == round_key:
                return rnd.appeal_window_days
    return DEFAULT_APPEAL_WINDOW_DAYS


def round_names(spec_toml: str) -> dict[str, str]:
    parsed = parsed_spec(spec_toml)
    return {} if parsed is None else {r.id: r.name for r in parsed.rounds}


def panel_rubric_table(spec_toml: str) -> tuple[dict, int] | None:
    """The spec's rubric in `gauntlet.ratings.panel.rubric_from_dict` form, and its k."""
    parsed = parsed_spec(spec_toml)
    if parsed is None or parsed.expert_panel is None:
        return None
    panel = parsed.expert_panel
    criteria = [{"key": c.key, "name": {"ko": c.name.ko, "en": c.name.en},
                 "instructions": {"ko": c.instructions.ko, "en": c.instructions.en},
                 "scale": [c.scale_min, c.scale_max], "weight": c.weight} for c in panel.criteria]
    return {"level_of_measurement": "interval", "criteria": criteria}, panel.reviews_per_submission
