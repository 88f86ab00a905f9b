"""Challenge specs: the shipped example loads; mistakes are named precisely."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gauntlet import spec
from gauntlet.errors import SpecError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"

MINIMAL = """
[challenge]
id = "mini"
name = "Mini"
organiser = "Org"

[scoring.weights]
benchmark = 40
expert = 35
user = 25

[[teams]]
id = "a"
name = "A"
organisation = "Org A"
country = "KR"

[[teams]]
id = "b"
name = "B"
organisation = "Org B"
country = "KR"

[[rounds]]
id = "one"
name = "One"
submission_deadline = 2026-01-01T00:00:00+09:00
decision_date = 2026-01-10T00:00:00+09:00
appeal_window_days = 10
policy = { winners = 1 }
"""


def test_the_example_spec_models_the_programme():
    s = spec.load(EXAMPLE)
    assert s.scoring.weights == {"benchmark": 40, "expert": 35, "user": 25}
    assert [t.id for t in s.starting_teams()] == ["lg", "skt", "upstage", "naver", "nc"]
    first, second, final = s.rounds
    assert first.policy.eliminate_lowest == 1 and first.appeal_window_days == 10
    assert set(first.pool) == {"B200", "H100"}
    assert [t.id for t in s.entrants("second")] == ["motif"] and s.team("motif").allotment == {"B200": 768}
    assert final.final and final.policy.winners == 2 and not first.final
    assert "vision_encoder" in s.independence.disqualifying_modules
    assert "architecture" not in s.independence.disqualifying_modules
    assert s.independence.reference("glm-4.5-air").country == "CN"
    assert "apache-2.0" in s.eligibility.licences
    assert s.expert_panel.reviews_per_submission == 3 and s.expert_panel.criteria[0].name.ko == "한국어 능력"
    assert sum(t.weight for t in s.benchmarks) == 40


def test_spec_hash_ignores_formatting_but_not_values():
    base = spec.loads(MINIMAL)
    assert spec.loads("# a comment\n" + MINIMAL.replace("benchmark = 40", "benchmark   =   40")).spec_hash == base.spec_hash
    assert spec.loads(MINIMAL.replace("benchmark = 40", "benchmark = 41")).spec_hash != base.spec_hash


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('country = "KR"\n\n[[teams]]\nid = "b"', 'country = 42\n\n[[teams]]\nid = "b"',
         "teams[0].country: expected a string, got an integer (42)"),
        ('organisation = "Org B"', 'organisation = "Org B"\ncontry = "KR"', "teams[1].contry: unknown key (did you mean 'country'?)"),
        ('[scoring.weights]', '[scoring.wieghts]', "scoring.wieghts: unknown key (did you mean 'weights'?)"),
        ('id = "b"', 'id = "a"', "teams[1].id: duplicate id 'a'"),
        ('appeal_window_days = 10', 'appeal_window_days = "ten"', "rounds[0].appeal_window_days: expected an integer"),
        ('decision_date = 2026-01-10T00:00:00+09:00', 'decision_date = 2026-01-10T00:00:00',
         "rounds[0].decision_date: expected a date-time with a UTC offset"),
        ('decision_date = 2026-01-10T00:00:00+09:00', 'decision_date = 2025-12-01T00:00:00+09:00',
         "rounds[0].decision_date: comes before the submission deadline"),
        ('policy = { winners = 1 }', 'policy = { eliminate_lowest = 1 }', "rounds[0].policy: the final round must name its winners"),
        ('policy = { winners = 1 }', 'policy = { winers = 1 }', "rounds[0].policy.winers: unknown key (did you mean 'winners'?)"),
        ('benchmark = 40\nexpert = 35\nuser = 25', 'benchmark = 0\nexpert = 0\nuser = 0', "scoring.weights: weights must not all be zero"),
        ('country = "KR"\n\n[[teams]]\nid = "b"', 'country = "KR"\njoins_at_round = "one"\n\n[[teams]]\nid = "b"',
         "teams[0].joins_at_round: entrants join after the first round"),
        ('[[teams]]\nid = "a"', '[[teams]]\nid = "a b"', "teams[0].id: expected an identifier"),
        ('name = "Mini"', '', "challenge: missing required key 'name'"),
    ],
)
def test_mistakes_are_reported_with_the_key_path(old, new, expected):
    assert old in MINIMAL
    with pytest.raises(SpecError) as err:
        spec.loads(MINIMAL.replace(old, new, 1))
    message = str(err.value)
    assert message.startswith("spec: ") and expected in message and "\n" not in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[independence]\ndisqualifying_modules = ["vision_encodr"]\n',
         "independence.disqualifying_modules[0]: unknown module kind 'vision_encodr'"),
        ('[resources]\nallocation = "tiered"\n', "resources: missing required key 'tier_weights'"),
        ('[resources]\nallocation = "fair"\n', "resources.allocation: expected one of 'equal', 'score_weighted', 'tiered'"),
        ('[eligibility]\nlicences = []\n', "eligibility.licences: expected at least one allowed licence"),
        ('[expert_panel]\nreviews_per_submission = 2\ncriteria = [{key = "k", name = {ko = "가", en = "A"}, '
         'instructions = {ko = "가", en = "A"}, scale = [1, 5]}]\n'
         'experts = [{id = "e1", name = "E1"}, {id = "e2", name = "E2", conflicts = ["a"]}]\n',
         "expert_panel.reviews_per_submission: team 'a' has only 1 expert(s) without a conflict of interest"),
        ('[expert_panel]\nreviews_per_submission = 1\ncriteria = [{key = "k", name = {ko = "가", en = "A"}, '
         'instructions = {ko = "가", en = "A"}, scale = [5, 1]}]\nexperts = [{id = "e1", name = "E1", conflicts = ["zz"]}]\n',
         "expert_panel.criteria[0].scale: the lowest point (5) must be below the highest (1)"),
    ],
)
def test_section_mistakes_are_reported_with_the_key_path(extra, expected):
    with pytest.raises(SpecError) as err:
        spec.loads(MINIMAL + extra)
    assert expected in str(err.value)


def test_entrants_must_name_a_real_round_and_only_they_bring_an_allotment():
    two_rounds = MINIMAL.replace("policy = { winners = 1 }", "policy = { eliminate_lowest = 1 }") + """
[[rounds]]
id = "two"
name = "Two"
submission_deadline = 2026-06-01T00:00:00+09:00
decision_date = 2026-06-10T00:00:00+09:00
appeal_window_days = 10
policy = { winners = 1 }
"""
    entrant = two_rounds.replace('country = "KR"\n\n[[teams]]\nid = "b"', 'country = "KR"\njoins_at_round = "tow"\n\n[[teams]]\nid = "b"')
    with pytest.raises(SpecError, match=r"teams\[0\]\.joins_at_round: expected one of 'one', 'two', got 'tow' \(did you mean 'two'\?\)"):
        spec.loads(entrant)
    assert spec.loads(entrant.replace('"tow"', '"two"\nallotment = { B200 = 8 }')).team("a").allotment == {"B200": 8}
    with pytest.raises(SpecError, match=r"teams\[0\]\.allotment: only entrants"):
        spec.loads(two_rounds.replace('country = "KR"', 'country = "KR"\nallotment = { B200 = 8 }', 1))


def test_invalid_toml_and_missing_files_are_one_line_errors(tmp_path):
    with pytest.raises(SpecError, match=r"^spec: invalid TOML: .*line 1"):
        spec.loads("[challenge\n")
    with pytest.raises(SpecError, match="no such file"):
        spec.load(tmp_path / "missing.toml")


def test_spec_check_cli_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('country = "KR"', "country = 42", 1))
    gauntlet = Path(sys.executable).with_name("gauntlet")
    result = subprocess.run([str(gauntlet), "spec", "check", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.fullmatch(r"error: spec .*bad\.toml: teams\[0\]\.country: expected a string, got an integer \(42\)\n", result.stderr)
    ok = subprocess.run([str(gauntlet), "spec", "check", str(EXAMPLE)], capture_output=True, text=True)
    assert ok.returncode == 0 and "k-sovereign" not in ok.stderr and "Sovereign AI" in ok.stdout


def test_submission_limits_have_stated_defaults_and_are_bounded():
    from gauntlet.artifacts.content_store import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES

    default = spec.loads(MINIMAL).submissions
    assert (default.max_bytes, default.max_files) == (DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES)
    chosen = spec.loads(MINIMAL + "\n[submissions]\nmax_bytes = 1000\nmax_files = 5\n").submissions
    assert (chosen.max_bytes, chosen.max_files) == (1000, 5)
    for bad, words in (("max_files = 0", "from 1 to 1000000"), ("max_bytes = -5", "from 1 to"),
                       ("max_bytes = " + "9" * 5000, "invalid TOML"), ("max_files = " + "9" * 30, "24 digits"),
                       ("max_file = 3", "did you mean 'max_files'")):
        with pytest.raises(SpecError, match=words) as refused:
            spec.loads(MINIMAL + f"\n[submissions]\n{bad}\n")
        assert "\n" not in str(refused.value)
