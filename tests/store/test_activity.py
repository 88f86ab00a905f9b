"""The store's activity verbs refuse what would rewrite the record, and leave it intact when they do."""

from datetime import datetime, timezone

import pytest

from gauntlet.errors import InputError, StoreError
from gauntlet.ratings.arena import Prompt
from gauntlet.store.access import AccessDenied
from gauntlet.store.repository import Store

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(database_url):
    s = Store(database_url)
    s.register_challenge("k", "K", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    s.register_team("k", "lg", "K-EXAONE", "LG AI Research", "KR")
    s.register_team("k", "nc", "VARCO", "NC AI", "KR")
    s.add_arena_prompts("k", "r1", [Prompt("p1", "ko", "안녕하세요?"), Prompt("p2", "en", "Hello?")])
    return s


def test_tokens_name_a_real_subject_and_die_when_revoked(store):
    with pytest.raises(InputError):
        store.create_token("k", "admin", at=T)
    with pytest.raises(InputError):
        store.create_token("k", "team", at=T)  # a team token names its team
    with pytest.raises(StoreError):
        store.create_token("k", "team", "ghost", at=T)
    with pytest.raises(StoreError):
        store.create_token("k", "expert", "e1", at=T)  # experts are registered first
    token = store.create_token("k", "team", "lg", at=T)
    who = store.identify_token(token)
    assert (who["role"], who["subject"], who["challenge"]) == ("team", "lg", "k")
    assert store.identify_token(token + "x") is None
    store.revoke_token(who["id"], at=T)
    assert store.identify_token(token) is None and store.token_identity(who["id"]) is None


def test_answers_are_screened_and_cached_once(store):
    counts = store.add_arena_answers("k", "r1", {"lg": {"p1": "좋은 하루입니다.", "p2": "I am K EXAONE, hello."},
                                                 "nc": {"p1": "네, 안녕하세요.", "p2": "Hello to you."}})
    assert counts == {"stored": 3, "excluded": 1}
    pool = store.arena_pool("k", "r1")
    assert pool.revealing == {("lg", "p2")} and "p2" not in pool.answers["lg"]
    store.add_arena_answers("k", "r1", {"nc": {"p1": "네, 안녕하세요."}})  # same text: no-op
    with pytest.raises(StoreError, match="cached once"):
        store.add_arena_answers("k", "r1", {"nc": {"p1": "다른 답."}})
    with pytest.raises(InputError, match="unknown prompt"):
        store.add_arena_answers("k", "r1", {"nc": {"p9": "?"}})
    assert store.arena_pool("k", "r1").answers["nc"]["p1"] == "네, 안녕하세요."


def test_a_vote_is_cast_once_by_the_voter_it_was_served_to(store):
    from gauntlet.rounds.arena_desk import ArenaDesk

    store.add_arena_answers("k", "r1", {"lg": {"p1": "좋은 하루입니다."}, "nc": {"p1": "네, 안녕하세요."}})
    desk = ArenaDesk(store, seed=1)  # the path the web app and the demo vote through
    battle = desk.serve("k", "r1", "v1", T)
    with pytest.raises(InputError, match="another voter"):
        desk.vote("k", battle["battle_id"], "v2", "a", T)
    with pytest.raises(InputError, match="vote must be one of"):
        desk.vote("k", battle["battle_id"], "v1", "left", T)
    revealed = desk.vote("k", battle["battle_id"], "v1", "b", T)
    assert {revealed["model_a"], revealed["model_b"]} == {"lg", "nc"} and revealed["choice"] == "b"
    assert revealed["answers"] == {"a": battle["answer_a"], "b": battle["answer_b"]}
    with pytest.raises(InputError, match="already has your vote"):
        desk.vote("k", battle["battle_id"], "v1", "a", T)
    assert [(v.voter_id, v.choice, v.winner, v.model_b) for v in store.arena_votes("k", "r1")] == [
        ("v1", "b", "model_b", revealed["model_b"])]


def test_a_vote_another_process_commits_late_under_an_earlier_id_still_reaches_the_desk(store):
    """With PostgreSQL a batch of votes can commit after a later id was read (ids are drawn
    at insert); the desk's screen must still learn of it, or a voter's cap is never reached."""
    import time

    from sqlalchemy import insert

    from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached
    from gauntlet.store.models_activity import ArenaBattle, ArenaVote

    store.add_arena_answers("k", "r1", {"lg": {"p1": "좋은 하루입니다."}, "nc": {"p1": "네, 안녕하세요."}})
    # The desk reads the store again once a second, behind a request that notices (the default).
    desk = ArenaDesk(store, seed=1, daily_cap=1, refresh_seconds=1.0)
    desk.serve("k", "r1", "someone", T)
    pool = store.arena_pool("k", "r1")

    def committed_elsewhere(vote_id: int, voter: str) -> None:
        with store.sessions.kw["bind"].begin() as conn:
            conn.execute(insert(ArenaBattle).values(
                id=vote_id, public_id=f"battle-{vote_id}", challenge_id=pool.challenge_id, round_key="r1",
                voter_id=voter, prompt_key="p1", team_a_id=pool.team_ids["lg"], team_b_id=pool.team_ids["nc"],
                served_at=T))
            conn.execute(insert(ArenaVote).values(id=vote_id, battle_id=vote_id, voter_id=voter, choice="a",
                                                  day=T.date().isoformat(), voted_at=T))

    def refused_soon(voter: str) -> bool:
        for _ in range(300):
            try:
                desk.serve("k", "r1", voter, T)
            except DailyCapReached:
                return True
            time.sleep(0.02)
        return False

    committed_elsewhere(50, "early")
    assert refused_soon("early")  # a read has just seen the votes up to id 50...
    committed_elsewhere(40, "late")  # ...and this one commits before the next read
    assert refused_soon("late")


def test_experts_declarations_are_fixed_and_the_panel_assigned_once(store, tmp_path):
    from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel

    from gauntlet.store.round_records import write_submission

    with store.sessions.begin() as session:  # the rows `gauntlet.rounds.service.submit` writes
        for i, team in enumerate(("lg", "nc")):
            manifest = Manifest((FileEntry("model.safetensors", 10, "ab"[i] * 64),))
            write_submission(session, store._team(session, "k", team), "r1", StoredModel(manifest.sha256, tmp_path,
                             manifest), licence=None, at=T, deadline=T)
    store.add_expert("k", "e1", "One", ["KAIST"])
    store.add_expert("k", "e1", "One", ["KAIST"])  # same: no-op
    with pytest.raises(StoreError, match="other declarations"):
        store.add_expert("k", "e1", "One", [])  # a conflict cannot be quietly dropped
    store.add_expert("k", "e2", "Two", ["LG AI Research"])
    store.add_expert("k", "e3", "Three", conflicts=["nc"])
    reviewers = store.assign_panel("k", "r1", k=1, at=T)
    panel = store.panel_rounds("k")[0]
    lg_code = next(e["code"] for e in panel["entries"] if e["team"] == "lg")
    nc_code = next(e["code"] for e in panel["entries"] if e["team"] == "nc")
    assert "e2" not in reviewers[lg_code] and "e3" not in reviewers[nc_code]
    with pytest.raises(InputError, match="already assigned"):
        store.assign_panel("k", "r1", k=1, at=T)
    # refused in the same words as any unassigned code: the conflict is not named
    with pytest.raises(AccessDenied, match=f"^submission {lg_code} is not assigned to you$"):
        store.review_material("k", "e2", "r1", lg_code)
    with pytest.raises(AccessDenied, match=f"^submission {nc_code} is not assigned to you$"):
        store.record_review("k", "e3", "r1", nc_code, {"technical_merit": 3})
    assert store.panel_rounds("k")[0]["entries"][0]["reviews"] == []


def test_a_job_state_is_updated_in_place_and_retries_are_for_failures(store):
    store.record_job("k", {"key": "eval-nc", "state": "queued"}, team="nc", kind="evaluate", at=T)
    with pytest.raises(InputError, match="only a failed job"):
        store.request_retry("k", "eval-nc", "team:nc", team="nc", at=T)
    store.record_job("k", {"key": "eval-nc", "state": "failed", "attempts": 1, "error": "OOM"}, team="nc", at=T)
    with pytest.raises(AccessDenied):
        store.request_retry("k", "eval-nc", "team:lg", team="lg", at=T)
    store.request_retry("k", "eval-nc", "team:nc", team="nc", at=T)
    assert store.pending_retries("k") == ["eval-nc"]
    [job] = store.jobs("k")
    assert (job["state"], job["error"], job["retry_requested"], job["kind"]) == ("failed", "OOM", True, "evaluate")
    with pytest.raises(InputError):
        store.record_job("k", {"key": "x", "state": "exploded"}, at=T)
