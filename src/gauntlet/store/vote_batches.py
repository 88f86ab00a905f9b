"""Group commit for arena votes: every acknowledged vote is on disk, and a crowd pays one
commit per batch instead of one per vote.

Whoever leads takes every vote waiting, writes them (each with its served
battle) in one transaction, runs each vote's `then` in vote-id order (the
desk's screen, so the order the desk decides in is the order a replay of the
log decides in), and wakes their requests; votes that arrive meanwhile wait
for the next batch.  A blocking caller (`write`) that finds no commit under
way leads in its own thread, and hands the next batch to the first caller
waiting.  A caller on an event loop (`write_async`, the web app) awaits its
batch without holding a thread: the batcher's commit thread leads while such
votes wait.  A vote that cannot be stored (the arena is closed, the battle
already has a vote) fails alone; the others in its batch are written.  A vote
is acknowledged only after its transaction committed.  The store's own
connection pool and transactions do the rest: this only decides who commits
when, which SQLAlchemy has no notion of.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Callable

from sqlalchemy import bindparam, insert, select

from gauntlet.errors import InputError
from gauntlet.store.models_activity import ArenaBattle, ArenaState, ArenaVote

MAX_BATCH = 512

# Built once: building a statement costs more than SQLAlchemy's cached compile of it.
_TAKEN = select(ArenaBattle.public_id).where(ArenaBattle.public_id.in_(bindparam("ids", expanding=True)))
_STATE = (select(ArenaState.state, ArenaState.reason)
          .where(ArenaState.challenge_id == bindparam("challenge_id"), ArenaState.round_key == bindparam("round_key"))
          .order_by(ArenaState.id.desc()).limit(1))
_ADD_BATTLES = insert(ArenaBattle).returning(ArenaBattle.id, sort_by_parameter_order=True)
_ADD_VOTES = insert(ArenaVote).returning(ArenaVote.id, sort_by_parameter_order=True)


@dataclass
class _Waiting:
    pool: Any
    vote: Any
    then: Callable[[int], Any] | None
    done: asyncio.Future | None = None  # an event loop's caller awaits this; a blocking one waits on `wake`
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to commit the next batch (it is at the head of the queue)
    finished: bool = False
    result: Any = None
    error: BaseException | None = None

    def outcome(self) -> tuple[int, Any]:
        if self.error is not None:
            raise self.error
        return self.result


class VoteBatcher:
    def __init__(self, store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []  # non-empty only while a leader is committing
        self._leading = False
        self._committer: ThreadPoolExecutor | None = None

    def write(self, pool, vote, then: Callable[[int], Any] | None = None) -> tuple[int, Any]:
        """Store `vote` (a `ServedVote`) with its battle; returns (vote id, then(vote id))."""
        item = _Waiting(pool, vote, then)
        item.lead = self._enqueue(item)
        if not item.lead:
            item.wake.wait()
        if not item.finished and self._lead():  # leading: this item heads the queue, so its batch holds it
            self._commit_thread().submit(self._drain)
        return item.outcome()

    async def write_async(self, pool, vote, then: Callable[[int], Any] | None = None) -> tuple[int, Any]:
        """`write` for a caller on an event loop."""
        item = _Waiting(pool, vote, then, asyncio.get_running_loop().create_future())
        if self._enqueue(item):
            self._commit_thread().submit(self._drain)
        await item.done
        return item.outcome()

    def _enqueue(self, item: _Waiting) -> bool:
        """Queue the vote; True when nobody leads (the caller must see that someone does)."""
        with self._lock:
            self._waiting.append(item)
            lead, self._leading = not self._leading, True
            return lead

    def _commit_thread(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._committer is None:
                self._committer = ThreadPoolExecutor(1, thread_name_prefix="arena-vote-commit")
            return self._committer

    def _drain(self) -> None:
        while self._lead():
            pass

    def _lead(self) -> bool:
        """Commit the batch at the head of the queue; True when the votes waiting next are
        awaited on an event loop (the commit thread leads on), False when there are none or a
        blocked caller was woken to lead them."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                self._leading = successor is not None
                if successor is not None and successor.done is None:
                    successor.lead = True
            waking: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
            for item in batch:
                item.finished = True
                if item.done is None:
                    item.wake.set()
                else:
                    waking.setdefault(item.done.get_loop(), []).append(item.done)
            for loop, futures in waking.items():
                loop.call_soon_threadsafe(_resolve, futures)
            if successor is not None and successor.done is None:
                successor.wake.set()
        return successor is not None and successor.done is not None

    def _commit(self, batch: list[_Waiting]) -> None:
        # SQLAlchemy Core, not the ORM: a vote is two plain rows, and the unit of work would cost
        # more than the rest of the vote path together.
        stored: list[tuple[_Waiting, int]] = []
        try:
            with self.store.sessions.kw["bind"].begin() as conn:
                states: dict[tuple[int, str], BaseException | None] = {}
                taken = set(conn.scalars(_TAKEN, {"ids": [item.vote.battle_id for item in batch]}))
                accepted: list[_Waiting] = []
                for item in batch:
                    key = (item.pool.challenge_id, item.vote.round_key)
                    if key not in states:
                        states[key] = self._closed(conn, *key)
                    if states[key] is not None:
                        item.error = states[key]
                    elif item.vote.battle_id in taken:
                        item.error = InputError("this battle already has your vote")
                    else:
                        taken.add(item.vote.battle_id)
                        accepted.append(item)
                if accepted:
                    battle_ids = conn.scalars(_ADD_BATTLES, [_battle_row(item) for item in accepted]).all()
                    vote_ids = conn.scalars(_ADD_VOTES, [_vote_row(item, b) for item, b in zip(accepted, battle_ids)]).all()
                    stored = list(zip(accepted, vote_ids))
        except Exception as exc:  # the transaction failed: none of these votes is stored
            for item in batch:
                item.error = item.error or exc
            return
        for item, vote_id in sorted(stored, key=lambda pair: pair[1]):
            try:
                item.result = (vote_id, item.then(vote_id) if item.then else None)
            except Exception as exc:  # stored, but the desk could not decide it: say so, never lose it
                item.error = exc

    @staticmethod
    def _closed(conn, challenge_id: int, round_key: str) -> BaseException | None:
        from gauntlet.store.arena_records import ArenaClosedForVotes

        latest = conn.execute(_STATE, {"challenge_id": challenge_id, "round_key": round_key}).first()
        if latest is not None and latest.state == "closed":
            return ArenaClosedForVotes(f"the arena of round {round_key!r} is closed ({latest.reason}); "
                                       "this vote was not recorded", latest.reason)
        return None


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():  # a request given up (the client left) leaves a cancelled future
            future.set_result(None)


def _battle_row(item: _Waiting) -> dict:
    vote, pool = item.vote, item.pool
    return {"public_id": vote.battle_id, "challenge_id": pool.challenge_id, "round_key": vote.round_key,
            "voter_id": vote.voter_id, "prompt_key": vote.prompt_id, "team_a_id": pool.team_ids[vote.model_a],
            "team_b_id": pool.team_ids[vote.model_b], "served_at": vote.served_at}


def _vote_row(item: _Waiting, battle_id: int) -> dict:
    vote = item.vote
    return {"battle_id": battle_id, "voter_id": vote.voter_id, "choice": vote.choice,
            "day": vote.voted_at.astimezone(timezone.utc).date().isoformat(), "voted_at": vote.voted_at,
            "address_key": vote.address_key or None, "network_key": vote.network_key or None}
