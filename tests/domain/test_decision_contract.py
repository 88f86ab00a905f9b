"""The decision contract of `gauntlet round decide`, as organisers rely on it."""

import random

import pytest

from gauntlet.domain.canonical import canonical_bytes
from gauntlet.domain.decision import decide
from gauntlet.domain.validation import InvalidDocument


def reasons(outputs):
    return {e["team"]: e["reason"] for e in outputs["eliminated"]}


def test_totals_are_weight_averaged_sums_out_of_the_weights_sum(skeleton):
    out = decide(skeleton)
    lg = out["ranking"][0]
    # 84*0.40 + 90.3*0.35 + 100*0.25 = 33.6 + 31.605 + 25
    assert lg == {"team": "lg", "total": 90.205, "rank": 1, "points": {"benchmark": 33.6, "expert": 31.605, "user": 25.0}}
    skeleton["weights"] = {"benchmark": 4, "expert": 3.5, "user": 2.5}  # same proportions, other scale
    assert decide(skeleton)["ranking"][0]["total"] == 90.205


def test_derived_is_disqualified_and_the_cut_applies_among_the_rest(skeleton):
    out = decide(skeleton)
    assert [r["team"] for r in out["ranking"]] == ["lg", "skt", "naver", "upstage", "nc"]
    assert reasons(out) == {"naver": "independence", "nc": "performance"}
    assert out["advancing"] == ["lg", "skt", "upstage"]


def test_a_disqualified_team_at_the_bottom_does_not_use_up_the_performance_cut(skeleton, make_team):
    skeleton["teams"] = [
        make_team("a", 90), make_team("b", 80), make_team("c", 70), make_team("d", 10, independence="derived"),
    ]
    out = decide(skeleton)
    assert reasons(out) == {"d": "independence", "c": "performance"}
    assert out["advancing"] == ["a", "b"]


def test_inconclusive_is_flagged_but_not_disqualified(skeleton):
    out = decide(skeleton)
    assert "upstage" in out["advancing"]
    assert {"team": "upstage", "flag": "independence_inconclusive"}.items() <= out["flags"][0].items()


def test_ties_are_broken_by_heaviest_component_then_team_id_and_flagged(make_team):
    doc = {
        "weights": {"benchmark": 40, "expert": 35, "user": 25},
        "eliminate_lowest": 1,
        "teams": [
            # equal totals (80): "b" has the higher benchmark score, so it ranks above "a"
            make_team("a", 75, 85, 81),
            make_team("b", 85, 75, 79),
            # exact duplicates of each other: only the id can decide
            make_team("z", 60), make_team("y", 60),
        ],
    }
    out = decide(doc)
    assert [r["total"] for r in out["ranking"]] == [80.0, 80.0, 60.0, 60.0]
    assert [r["team"] for r in out["ranking"]] == ["b", "a", "y", "z"]
    assert reasons(out) == {"z": "performance"}
    ties = {f["team"]: f["detail"] for f in out["flags"] if f["flag"] == "tie"}
    assert "benchmark" in ties["a"] and "team id" in ties["z"]


def test_output_does_not_depend_on_the_order_of_teams_or_keys(skeleton):
    first = canonical_bytes(decide(skeleton))
    shuffled = dict(reversed(list(skeleton.items())))
    shuffled["teams"] = list(skeleton["teams"])
    random.Random(3).shuffle(shuffled["teams"])
    shuffled["teams"] = [dict(reversed(list(t.items()))) for t in shuffled["teams"]]
    assert canonical_bytes(decide(shuffled)) == first


def test_all_teams_disqualified_leaves_the_pool_unallocated(skeleton):
    for t in skeleton["teams"]:
        t["independence"] = "derived"
    out = decide(skeleton)
    assert out["advancing"] == [] and out["allocation"] == {}
    assert set(reasons(out).values()) == {"independence"}
    assert out["unallocated"] == {"B200": 1024, "H100": 1024}


@pytest.mark.parametrize("resources", [{}, {"B200": 0}])
def test_empty_pool_allocates_nothing_but_still_decides(skeleton, resources):
    skeleton["resources"] = resources
    out = decide(skeleton)
    assert out["advancing"] == ["lg", "skt", "upstage"]
    assert all(sum(units.values()) == 0 for units in out["allocation"].values())
    assert out["unallocated"] == {}


def test_allocation_is_integer_equal_by_default_and_sums_exactly(skeleton):
    out = decide(skeleton)
    for gpu in ("B200", "H100"):
        shares = [out["allocation"][t][gpu] for t in out["advancing"]]
        assert sum(shares) == 1024 and max(shares) - min(shares) <= 1
        assert shares[0] == 342  # the leftover unit goes to the best-ranked team


def test_score_weighted_and_tiered_allocation(skeleton):
    skeleton["allocation_policy"] = "score_weighted"
    out = decide(skeleton)
    b200 = [out["allocation"][t]["B200"] for t in out["advancing"]]
    assert sum(b200) == 1024 and b200 == sorted(b200, reverse=True) and b200[0] > b200[-1]
    skeleton["allocation_policy"] = {"policy": "tiered", "tier_weights": [2, 1]}
    out = decide(skeleton)
    assert [out["allocation"][t]["B200"] for t in out["advancing"]] == [512, 256, 256]


def test_threshold_at_most_and_winners_policies(skeleton):
    del skeleton["eliminate_lowest"]
    skeleton["min_total"] = 84.0
    assert decide(skeleton)["advancing"] == ["lg", "skt"]
    del skeleton["min_total"]
    skeleton["advance_at_most"] = 1
    out = decide(skeleton)
    assert out["advancing"] == ["lg"] and "outside the 1 who may advance" in out["eliminated"][-1]["detail"]
    del skeleton["advance_at_most"]
    skeleton["winners"] = 2
    out = decide(skeleton)
    assert out["winners"] == ["lg", "skt"] == out["advancing"]


def test_cutting_more_than_remain_eliminates_everyone_standing(skeleton):
    skeleton["eliminate_lowest"] = 10
    out = decide(skeleton)
    assert out["advancing"] == [] and reasons(out)["lg"] == "performance"


def test_licence_outside_the_allowed_list_is_an_eligibility_failure(skeleton):
    skeleton["eligibility"] = {"licences": ["apache-2.0", "mit"]}
    for t in skeleton["teams"]:
        t["licence"] = "Apache-2.0"
    skeleton["teams"][1]["licence"] = "cc-by-nc-4.0"
    del skeleton["teams"][2]["licence"]
    out = decide(skeleton)
    assert reasons(out)["skt"] == "eligibility" and "cc-by-nc-4.0" in out["eliminated"][0]["detail"]
    assert reasons(out)["upstage"] == "eligibility"
    assert out["advancing"] == ["lg"]  # nc is now the lowest of two eligible teams


FOREIGN = {"country": "CN", "organisation": "Alibaba Cloud", "licence": "apache-2.0"}


def finding(module, origin=FOREIGN, verdict="derived"):
    return {"module": module, "verdict": verdict, "reference": "qwen2.5-vl", "origin": origin, "p_value": 1e-30}


@pytest.mark.parametrize(
    ("findings", "policy", "disqualified"),
    [
        ([finding("vision_encoder")], {}, True),                 # reused encoder weights: out
        ([finding("architecture")], {}, False),                  # same architecture code: allowed
        ([finding("norm")], {}, False),                          # norms are not on the default list
        ([finding("weights")], {}, True),                        # an unnamed kind cannot be exempted
        ([finding("mlp", {"country": "US", "organisation": "Meta"})], {"disqualifying_origins": {"countries": ["CN"]}}, False),
        ([finding("mlp")], {"disqualifying_origins": {"countries": ["CN"]}}, True),
        ([finding("mlp", {"organisation": "Naver Cloud", "country": "KR"})], {"exempt_own_organisation": True}, False),
        ([finding("mlp")], {"exempt_origins": {"licences": ["apache-2.0"]}}, False),
        ([finding("vision_encoder")], {"disqualifying_modules": ["mlp"]}, False),
        ([finding("transformer_layer")], {"disqualifying_modules": ["mlp"]}, True),  # a whole layer holds an mlp
        ([finding("transformer_layer")], {"disqualifying_modules": ["vision_encoder"]}, False),
    ],
)
def test_module_findings_are_judged_by_the_independence_policy(skeleton, findings, policy, disqualified):
    naver = skeleton["teams"][3]
    naver.update(organisation="Naver Cloud", findings=findings)
    skeleton["independence_policy"] = policy
    out = decide(skeleton)
    assert (reasons(out).get("naver") == "independence") is disqualified
    if not disqualified:
        assert any(f["team"] == "naver" and f["flag"] == "permitted_reuse" for f in out["flags"])
    else:
        assert findings[0]["module"] in out["eliminated"][0]["detail"]


def test_inconclusive_can_be_made_disqualifying_by_policy(skeleton):
    skeleton["independence_policy"] = {"on_inconclusive": "disqualify"}
    assert reasons(decide(skeleton))["upstage"] == "independence"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("weights"), "missing required key 'weights'"),
        (lambda d: d.update(weigths={}), "weigths: unknown key (did you mean 'weights'?)"),
        (lambda d: d["teams"][2].update(benchmark="high"), "teams[2].benchmark: expected a number"),
        (lambda d: d["teams"][1].pop("user"), "teams[1]: missing component 'user'"),
        (lambda d: d["teams"][0].update(independence="maybe"), "teams[0].independence: expected one of"),
        (lambda d: d["teams"][4].update(team="lg"), "teams[4].team: duplicate team 'lg'"),
        (lambda d: d.update(eliminate_lowest=-1), "eliminate_lowest: expected a value of at least 0"),
        (lambda d: d.update(eliminate_lowest=True), "eliminate_lowest: expected an integer"),
        (lambda d: d.update(resources={"B200": 10.5}), "resources.B200: expected an integer"),
        (lambda d: d.update(weights={"benchmark": 0, "expert": 0, "user": 0}), "weights: weights must not all be zero"),
        (lambda d: d.update(teams=[]), "teams: expected at least one entry"),
        (lambda d: d["teams"][0].update(expert={"value": 90, "lower": 95, "upper": 99}), "teams[0].expert: interval"),
        (lambda d: d["teams"][0].update(findings=[{"module": "mlp"}]), "teams[0].findings[0]: missing required key 'verdict'"),
    ],
)
def test_invalid_documents_name_the_key(skeleton, mutate, message):
    mutate(skeleton)
    with pytest.raises(InvalidDocument) as err:
        decide(skeleton)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_not_an_object_is_refused():
    with pytest.raises(InvalidDocument, match="expected a table"):
        decide([1, 2])
