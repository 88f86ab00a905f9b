"""Nothing of a round reaches the public or a rival team before its decision is published:
every GET route, for every role.  A team sees its own results; organisers see everything."""

from __future__ import annotations

import re

import pytest

ROLES = (None, "lg", "skt", "e1", "organiser")  # anonymous, the team, a rival, an expert, an organiser


def _secret(team_scores: dict[str, tuple]) -> dict[str, set[str]]:
    secrets = {}
    for team, (bench, expert, _) in team_scores.items():
        secrets[team] = {f"{bench:.1f}", f"{expert:.1f}", f"{bench:.2f}", f"{expert:.2f}"}
    secrets["naver"] |= {"derived", "1e-09", "1.00e-09"}  # its audit: the verdict and its p-value as pages print it
    secrets["nc"] |= {"inconclusive", "0.04", "4.00e-02"}
    return secrets


# Words an audit report uses to explain itself (the verdicts' names; "0.04" in what it cannot see);
# it prints p-values as 1.00e-09.
AUDIT_VOCABULARY = {"derived", "inconclusive", "independent", "0.04"}


SCORES = {"lg": (84.0, 90.3, 100.0), "skt": (71.0, 72.0, 70.0), "upstage": (78.0, 80.0, 82.0),
          "naver": (80.0, 80.3, 80.0), "nc": (70.0, 71.5, 71.0)}


def _get_routes(client) -> list[str]:
    paths = []
    for path, ops in client.app.openapi()["paths"].items():
        if "get" not in ops or path in ("/healthz", "/login"):
            continue
        paths.append(path)
    return paths


def _expand(path: str, world) -> list[str]:
    path = path.replace("{round_key}", world.round)
    if "{team}" in path:
        return [path.replace("{team}", t) for t in world.teams]
    if path.startswith("/expert/reviews/"):
        return [f"/expert/reviews/{world.round}/{world.code_of(t)}" for t in world.teams]
    return [path]


@pytest.mark.parametrize("role", ROLES)
def test_no_unpublished_result_reaches_anyone_but_its_team_and_organisers(draft_world, role):
    secrets = _secret(SCORES)
    client = draft_world.client(role)
    allowed = set().union(*secrets.values()) if role == "organiser" else secrets.get(role, set())
    forbidden = set().union(*(v for k, v in secrets.items() if role != "organiser" and k != role)) - allowed
    draft = draft_world.store.round_decisions(draft_world.slug, draft_world.round, drafts=True)[0]
    checked = 0
    for pattern in _get_routes(client):
        for path in _expand(pattern, draft_world):
            page = client.get(path, params={"challenge": draft_world.slug})
            if page.status_code >= 500:
                pytest.fail(f"{path} as {role}: {page.status_code}")
            text = page.text
            if path == "/ledger.jsonl":  # its first record is the spec, public from the start (verdict names and all)
                text = text.split("\n", 1)[1]
            checked += 1
            words = forbidden - AUDIT_VOCABULARY if "/audits/" in path else forbidden
            leaked = [m for m in words if re.search(rf"(?<![\d.]){re.escape(m)}(?![\d])", text)]
            assert not leaked, f"{path} as {role or 'anonymous'} shows {leaked}"
            if role != "organiser":
                assert draft["record_hash"] not in text and draft["record_hash"][:12] not in text, path
    assert checked >= 10


def test_a_team_sees_its_own_results_before_publication_and_everyone_after(draft_world, world):
    own = draft_world.client("lg").get("/api/teams/lg").json()["submissions"][0]
    assert own["components"]["benchmark"]["value"] == 84.0 and own["audits"]
    rival = draft_world.client("skt").get("/api/teams/lg").json()["submissions"][0]
    assert rival["components"] == {} and rival["audits"] == []
    assert draft_world.client().get("/rounds/first").status_code == 404
    assert draft_world.client().get("/api/leaderboard").json()["decision"] is None
    public = world.client().get("/api/teams/lg").json()["submissions"][0]
    assert public["components"]["benchmark"]["value"] == 84.0


def test_an_organiser_publishes_the_draft_from_the_overview(draft_world):
    organiser = draft_world.client("organiser")
    page = organiser.get("/organiser")
    assert "Draft decision, not public" in page.text and "P(survive)" in page.text
    assert "What-if" in page.text and ("none in range" in page.text or "at " in page.text)
    assert draft_world.client("lg").post("/organiser/rounds/first/publish").status_code == 403
    done = organiser.post("/organiser/rounds/first/publish")
    assert done.status_code == 200, done.text
    assert draft_world.client().get("/api/leaderboard").json()["decision"]["round"] == "first"
    again = organiser.post("/organiser/rounds/first/publish")
    assert again.status_code == 400 and "no unpublished decision" in again.json()["error"]
    kinds = [r["kind"] for r in draft_world.store.records(draft_world.slug)]
    assert kinds[-2:] == ["decision", "publication"]


def test_audit_evidence_and_the_ledger_keep_the_embargo(draft_world):
    """Before publication: a team opens its own audit evidence only, the public and rivals get the
    same 404 as for the round itself, and the public ledger stops before the draft decision."""
    pages = ("/rounds/first/audits", "/rounds/first/audits/lg", "/rounds/first/audits/naver",
             "/api/rounds/first/audits", "/rounds/first/bundle.json")
    expected = {None: (404, 404, 404, 404, 404), "skt": (200, 404, 404, 200, 404), "lg": (200, 200, 404, 200, 404),
                "e1": (404, 404, 404, 404, 404), "organiser": (200, 200, 200, 200, 404)}
    for role, statuses in expected.items():
        client = draft_world.client(role)
        assert tuple(client.get(p).status_code for p in pages) == statuses, role
    own = draft_world.client("lg").get("/api/rounds/first/audits").json()
    assert [a["team"] for a in own] == ["lg"]
    draft = draft_world.store.round_decisions(draft_world.slug, "first", drafts=True)[0]
    public = draft_world.client().get("/ledger.jsonl").text
    kinds = [line.split('"kind":"')[1].split('"')[0] for line in public.splitlines()]
    assert "decision" not in kinds and draft["record_hash"] not in public
    assert draft["record_hash"] in draft_world.client("organiser").get("/ledger.jsonl").text
    assert draft_world.client("lg").get("/ledger.jsonl").text == public
