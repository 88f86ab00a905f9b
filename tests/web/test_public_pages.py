"""Public pages: each team's record and each round's decision, recomputable from
the inputs the page offers."""

import json

from gauntlet.domain.canonical import canonical_json
from gauntlet.rounds import decide


def test_the_leaderboard_links_teams_rounds_and_the_arena(world):
    page = world.client().get("/").text
    assert "/teams/lg?challenge=k-sovereign-2026" in page
    assert "/rounds/first?challenge=k-sovereign-2026" in page
    assert 'href="/arena"' in page
    assert "too close to call" in page  # the decision's close calls reach the public table


def test_a_team_page_shows_components_intervals_audits_and_submissions(world):
    client = world.client()
    page = client.get("/teams/naver")
    assert page.status_code == 200
    assert "HyperCLOVA X Omni" in page.text and "Naver Cloud" in page.text
    assert "80.0" in page.text and "[78.0, 82.0]" in page.text  # benchmark with its interval
    assert "derived" in page.text and "glm-4.5-air" in page.text
    assert "out: independence" in page.text
    profile = client.get("/api/teams/naver").json()
    assert profile["submissions"][0]["round"] == "first" and len(profile["submissions"][0]["files"]) == 2
    missing = client.get("/teams/ghost")
    assert missing.status_code == 404 and "no team &#39;ghost&#39;" in missing.text
    assert client.get("/api/teams/ghost").json() == {"error": "no team 'ghost' in challenge 'k-sovereign-2026'"}


def test_a_round_page_offers_the_inputs_that_reproduce_its_outputs(world, tmp_path):
    client = world.client()
    page = client.get("/rounds/first")
    assert page.status_code == 200
    decision = world.store.round_decisions(world.slug, "first")[0]
    head = world.store.ledger_head(world.slug)["head"]
    assert decision["record_hash"] in page.text and head in page.text  # record hash and the record's head
    assert "gauntlet round decide" in page.text
    inputs = client.get("/rounds/first/inputs.json")
    assert inputs.headers["content-disposition"].startswith("attachment")
    outputs = client.get("/rounds/first/outputs.json").text
    # Anyone can recompute: the downloaded inputs decide to the published outputs, byte for byte.
    assert canonical_json(decide(json.loads(inputs.text))) + "\n" == outputs


def test_a_web_appeal_upheld_re_decides_and_the_page_shows_the_corrected_decision(world):
    """Appeal and answer on the web are on the record; the re-decision, once published, is what
    the leaderboard shows, component cells included; the original stays visible."""
    from gauntlet.rounds import service

    lg, organiser = world.client("lg"), world.client("organiser")
    appeal = lg.post("/team/appeals", data={"round": "first", "grounds": "Our benchmark was mis-scored."}).json()["appeal"]
    assert organiser.post(f"/organiser/appeals/{appeal}/answer",
                          data={"upheld": "yes", "answer": "Re-scored: 50.0."}).status_code == 200
    spec = service.spec_of(world.store, world.slug)
    service.redecide(world.store, spec, "first", appeal, {"lg": {"benchmark": "50"}}, world.clock.now)
    assert organiser.post("/organiser/rounds/first/publish").status_code == 200
    kinds = [r["kind"] for r in world.store.records(world.slug)]
    assert kinds[-4:] == ["appeal", "appeal-answer", "re-decision", "publication"]
    client = world.client()
    board = client.get("/api/leaderboard").json()
    assert board["decision"]["sequence"] == 2 and board["components"]["lg"]["benchmark"]["value"] == 50.0
    lg_row = next(r for r in board["decision"]["outputs"]["ranking"] if r["team"] == "lg")
    assert lg_row["points"]["benchmark"] == 50.0 * 0.4
    page = client.get("/rounds/first").text
    assert "superseded" not in page
    original = client.get("/rounds/first", params={"sequence": 1}).text
    assert "superseded" in original
    assert client.get("/rounds/first/outputs.json", params={"sequence": 1}).json() == world.outputs


def test_bad_requests_get_one_line_answers(world):
    client = world.client()
    for path, status in [("/rounds/nope", 404), ("/rounds/first?sequence=abc", 400), ("/rounds/first?sequence=9", 404),
                         ("/nowhere", 404), ("/teams/lg?challenge=nope", 404)]:
        response = client.get(path, headers={"accept": "application/json"})
        assert response.status_code == status, path
        assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]
    assert "Traceback" not in client.get("/rounds/first?sequence=abc").text
    bad_body = client.post("/arena/vote", content=b"\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"})
    assert bad_body.status_code == 400
