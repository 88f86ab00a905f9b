"""The vote batcher takes votes from blocked threads (the pages, the demo) and from an event
loop (the API's hot route) at the same time: every vote is stored once, acknowledged only once
committed, decided in vote-id order, and a second vote on one battle fails alone."""

from __future__ import annotations

import asyncio
import secrets
import threading
from datetime import datetime, timezone

import pytest

from gauntlet.errors import InputError
from gauntlet.store.arena_records import ServedVote
from gauntlet.store.repository import Store
from tests.web.conftest import ROUND, SLUG, populate

VOTES = 24  # from each side


def _vote(store_pool, battle_id: str, voter: str) -> ServedVote:
    at = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    first, second = sorted(store_pool.answers)[:2]
    prompt = sorted(set(store_pool.answers[first]) & set(store_pool.answers[second]))[0]
    return ServedVote(battle_id, ROUND, voter, prompt, first, second, at, "a", at, "", "")


def test_votes_from_threads_and_an_event_loop_at_once_are_each_stored_once_in_order(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    populate(store)
    pool = store.arena_pool(SLUG, ROUND)
    decided: list[int] = []
    decide = decided.append  # called once per stored vote, in vote-id order
    before = len(store.arena_votes(SLUG, ROUND))
    repeated = secrets.token_urlsafe(18)
    results, errors = [], []

    def blocking(i: int) -> None:
        try:
            results.append(store.record_served_vote(pool, _vote(pool, repeated if i == 0 else secrets.token_urlsafe(18),
                                                                 f"thread-{i}"), decide))
        except InputError as exc:
            errors.append(str(exc))

    async def on_loop() -> None:
        async def one(i: int):
            battle = repeated if i == 0 else secrets.token_urlsafe(18)
            try:
                results.append(await store.record_served_vote_async(pool, _vote(pool, battle, f"loop-{i}"), decide))
            except InputError as exc:
                errors.append(str(exc))

        await asyncio.gather(*(one(i) for i in range(VOTES)))

    threads = [threading.Thread(target=blocking, args=(i,)) for i in range(VOTES)]
    for t in threads:
        t.start()
    asyncio.run(asyncio.wait_for(on_loop(), 60))  # a lost hand-off would leave votes waiting
    for t in threads:
        t.join(timeout=60)

    assert errors == ["this battle already has your vote"]
    ids = [vote_id for vote_id, _ in results]
    assert len(ids) == len(set(ids)) == 2 * VOTES - 1
    assert decided == sorted(decided) and sorted(decided) == sorted(ids)
    stored = store.arena_votes(SLUG, ROUND)[before:]
    assert sorted(v.sequence for v in stored) == sorted(ids)  # every acknowledged vote, nothing else


def test_a_vote_awaited_on_an_event_loop_is_refused_when_the_arena_closed(tmp_path):
    from gauntlet.rounds.arena_desk import close_arena
    from gauntlet.store.arena_records import ArenaClosedForVotes

    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    populate(store)
    pool = store.arena_pool(SLUG, ROUND)
    assert close_arena(store, SLUG, ROUND, reason="round 'first' was decided", at=datetime(2026, 3, 1, 13, tzinfo=timezone.utc))
    with pytest.raises(ArenaClosedForVotes) as refusal:
        asyncio.run(store.record_served_vote_async(pool, _vote(pool, secrets.token_urlsafe(18), "late"), None))
    assert refusal.value.reason == "round 'first' was decided"
    assert store.arena_votes(SLUG, ROUND) == []


def test_votes_awaited_behind_a_blocked_callers_batch_are_committed_when_it_ends(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    populate(store)
    pool = store.arena_pool(SLUG, ROUND)
    inside, release = threading.Event(), threading.Event()

    def slow(vote_id: int) -> None:  # holds the blocked caller's batch open
        inside.set()
        release.wait(30)

    leader = threading.Thread(target=store.record_served_vote,
                              args=(pool, _vote(pool, secrets.token_urlsafe(18), "thread"), slow))
    leader.start()
    assert inside.wait(30)

    async def behind() -> list:
        waiting = [asyncio.ensure_future(store.record_served_vote_async(
            pool, _vote(pool, secrets.token_urlsafe(18), f"loop-{i}"))) for i in range(5)]
        await asyncio.sleep(0.05)  # all five are queued behind the blocked batch
        release.set()
        return await asyncio.wait_for(asyncio.gather(*waiting), 30)

    results = asyncio.run(behind())
    leader.join(30)
    assert len({vote_id for vote_id, _ in results}) == 5
