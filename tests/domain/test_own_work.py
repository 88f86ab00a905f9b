"""Evidence of own work in a decision: a required chain, and what a contamination finding does."""

import pytest

from gauntlet.domain.decision import decide
from gauntlet.domain.validation import InvalidDocument


def _doc(skeleton, **policy):
    doc = dict(skeleton, eliminate_lowest=0)
    if policy:
        doc["own_work_policy"] = policy
    return doc


def _out(doc):
    result = decide(doc)
    return {e["team"]: e for e in result["eliminated"]}, {(f["team"], f["flag"]) for f in result["flags"]}, result


def test_documents_without_evidence_decide_as_before(skeleton):
    assert decide(_doc(skeleton)) == decide(_doc(skeleton, require_chain=False, on_contamination="flag"))


def test_a_required_chain_that_is_missing_or_broken_is_a_stated_independence_reason(skeleton):
    doc = _doc(skeleton, require_chain=True)
    for t in doc["teams"]:
        t["chain"] = {"verdict": "consistent"}
    doc["teams"][0]["chain"] = {"verdict": "broken", "detail": "link 16 -> 24 is broken"}
    del doc["teams"][1]["chain"]
    out, flags, _ = _out(doc)
    assert out["lg"]["reason"] == "independence" and "link 16 -> 24 is broken" in out["lg"]["detail"]
    assert out["skt"]["reason"] == "independence" and "no training-run chain" in out["skt"]["detail"]
    assert "nc" not in out


def test_without_the_requirement_a_broken_chain_is_flagged_not_punished(skeleton):
    doc = _doc(skeleton)
    doc["teams"][0]["chain"] = {"verdict": "broken", "detail": "step 0 is not a fresh initialisation"}
    doc["teams"][4]["chain"] = {"verdict": "inconclusive"}
    out, flags, _ = _out(doc)
    assert "lg" not in out and ("lg", "chain_broken") in flags and ("nc", "chain_inconclusive") in flags


@pytest.mark.parametrize("consequence", ["flag", "drop_task", "disqualify"])
def test_a_contamination_finding_has_the_consequence_the_policy_states(skeleton, consequence):
    doc = _doc(skeleton, on_contamination=consequence)
    doc["teams"][0]["contamination"] = [{"task": "kmmlu", "verdict": "contaminated", "p_value": 1e-6, "gap": 0.4},
                                        {"task": "haerae", "verdict": "clean", "p_value": 0.5, "gap": 0.01}]
    doc["teams"][1]["contamination"] = [{"task": "kmmlu", "verdict": "clean", "p_value": 0.3}]
    out, flags, _ = _out(doc)
    if consequence == "disqualify":
        assert out["lg"]["reason"] == "contamination" and "kmmlu" in out["lg"]["detail"] and "haerae" not in out["lg"]["detail"]
    else:
        assert "lg" not in out
        assert ("lg", "contamination" if consequence == "flag" else "contamination_task_dropped") in flags
    assert not any(team == "skt" for team, _ in flags if _.startswith("contamination"))


def test_bad_evidence_is_refused_naming_the_key(skeleton):
    doc = _doc(skeleton, on_contamination="shrug")
    with pytest.raises(InvalidDocument, match="on_contamination"):
        decide(doc)
    doc = _doc(skeleton)
    doc["teams"][0]["chain"] = {"verdict": "fine"}
    with pytest.raises(InvalidDocument, match="verdict"):
        decide(doc)
