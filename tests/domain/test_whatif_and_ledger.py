"""What-if comparisons and the pure hash chain."""

import copy

import pytest

from gauntlet.domain import ledger as chain
from gauntlet.domain.whatif import apply_scenario, what_if


def test_heavier_benchmark_weight_swaps_who_is_cut(make_team):
    doc = {
        "weights": {"benchmark": 40, "expert": 35, "user": 25},
        "eliminate_lowest": 1,
        "resources": {"B200": 10},
        "teams": [make_team("top", 95), make_team("x", 90, 60, 60), make_team("y", 60, 82, 80)],
    }
    result = what_if(doc, {"weights": {"benchmark": 60}})
    rows = {row["team"]: row for row in result["changes"]}
    assert set(rows) == {"x", "y"}  # "top" keeps rank 1, advances, keeps 5 GPUs: not listed
    assert rows["x"]["outcome"] == ["out (performance)", "advancing"] and rows["x"]["allocation"] == [{}, {"B200": 5}]
    assert rows["y"]["outcome"] == ["advancing", "out (performance)"] and rows["y"]["rank"] == [2, 3]
    assert result["outcomes_changed"] == 2


def test_cutting_two_instead_of_one_eliminates_the_next_lowest(skeleton):
    result = what_if(skeleton, {"eliminate_lowest": 2})
    rows = {row["team"]: row for row in result["changes"]}
    assert rows["upstage"]["outcome"] == ["advancing", "out (performance)"]
    assert rows["lg"]["allocation"][1] == {"B200": 512, "H100": 512}
    assert result["outcomes_changed"] == 1


def test_a_scenario_that_changes_nothing_has_no_rows(skeleton):
    assert what_if(skeleton, {"weights": {"benchmark": 41}})["changes"] == []


def test_none_removes_a_policy_key(skeleton):
    assert "eliminate_lowest" not in apply_scenario(skeleton, {"eliminate_lowest": None})
    result = what_if(skeleton, {"eliminate_lowest": None})
    assert {row["team"] for row in result["changes"] if row["outcome_changed"]} == {"nc"}


# -- the hash chain ----------------------------------------------------------

def build_chain(n=4):
    records, previous = [], None
    for i in range(n):
        previous = chain.seal(previous, kind="decision", code_version="test", inputs={"i": i}, outputs={"o": i}, round_id=f"r{i}")
        records.append(previous)
    return records


def kinds(problems):
    return [(p.kind, p.seq) for p in problems]


def test_an_intact_chain_verifies_and_its_head_is_the_last_hash():
    records = build_chain()
    assert chain.verify_chain(records, chain.chain_head(records)) == []
    assert chain.chain_head([]) == chain.GENESIS_HASH


def test_a_changed_record_is_named():
    records = build_chain()
    records[2]["outputs"] = {"o": 99}
    assert kinds(chain.verify_chain(records)) == [("changed", 2)]


def test_a_changed_and_resealed_record_breaks_the_next_link():
    records = build_chain()
    records[1]["outputs"] = {"o": 99}
    records[1]["hash"] = chain.record_hash(records[1])
    assert kinds(chain.verify_chain(records)) == [("unlinked", 2)]


def test_a_removed_record_is_named():
    records = build_chain()
    del records[1]
    problems = chain.verify_chain(records)
    assert ("removed", 1) in kinds(problems)
    assert "record 1 missing" in problems[-1].message or any("record 1 missing" in p.message for p in problems)


def test_reordered_records_are_named():
    records = build_chain()
    records[1], records[2] = records[2], records[1]
    assert ("reordered", 1) in kinds(chain.verify_chain(records))


def test_forged_appended_records_are_caught():
    records = build_chain()
    forged = copy.deepcopy(records[-1])
    forged.update(seq=4, outputs={"o": "forged"})  # copied and edited, hash left as it was
    assert ("changed", 4) in kinds(chain.verify_chain([*records, forged]))

    resealed = {k: v for k, v in forged.items() if k != "hash"}
    resealed["prev_hash"] = records[1]["hash"]  # sealed properly but hung on the wrong record
    resealed["hash"] = chain.record_hash(resealed)
    assert kinds(chain.verify_chain([*records, resealed])) == [("unlinked", 4)]

    duplicate = chain.seal(records[2], kind="decision", code_version="test")  # claims seq 3 again
    assert ("duplicate", 3) in kinds(chain.verify_chain([*records, duplicate]))


def test_a_rewritten_or_truncated_history_is_caught_by_the_published_head():
    records = build_chain()
    head = chain.chain_head(records)
    assert kinds(chain.verify_chain(records[:-1], head)) == [("head_missing", None)]
    rewritten, previous = [], None
    for r in records:
        previous = chain.seal(previous, kind=r["kind"], code_version="test", inputs=r["inputs"], outputs={"o": "rewritten"})
        rewritten.append(previous)
    assert chain.verify_chain(rewritten) == []  # self-consistent...
    assert kinds(chain.verify_chain(rewritten, head)) == [("head_missing", None)]  # ...but not what was published


def test_references_must_point_to_earlier_records():
    records = build_chain(2)
    correction = chain.seal(records[-1], kind="correction", code_version="test", references=[records[0]["hash"]])
    assert chain.verify_chain([*records, correction]) == []
    bad = chain.seal(records[-1], kind="correction", code_version="test", references=["f" * 64])
    assert kinds(chain.verify_chain([*records, bad])) == [("unknown_reference", 2)]


@pytest.mark.parametrize("junk", ["text", {"seq": 0}, {**build_chain(1)[0], "extra": 1}])
def test_malformed_lines_are_reported(junk):
    assert chain.verify_chain([junk])[0].kind in ("malformed",)


def test_sensitivity_finds_the_weight_where_the_cut_flips(make_team):
    from gauntlet.domain.whatif import sensitivity

    doc = {
        "weights": {"benchmark": 40, "expert": 35, "user": 25},
        "eliminate_lowest": 1,
        "teams": [
            make_team("top", 95),
            make_team("x", 90, 60, 60),
            make_team("y", {"value": 60, "lower": 50, "upper": 70}, 82, 80),
        ],
    }
    rows = {row["component"]: row for row in sensitivity(doc)}
    # x overtakes y once 30 b > 1270, i.e. benchmark weight above 42.33: first grid point 43.
    assert rows["benchmark"]["flips_at_or_above"] == 43.0 and rows["benchmark"]["teams_above"] == ["x", "y"]
    assert rows["benchmark"]["flips_at_or_below"] is None
    # more weight on expert or user only helps y: no change upwards.
    assert rows["expert"]["flips_at_or_above"] is None and rows["user"]["flips_at_or_above"] is None
