"""The arena's desk: serves blind battles and records votes, for the web app and the demo's crowd.

Per open round the desk holds, in memory and updated vote by vote: the answer
pool (with, per pair of models, the prompts both answered cleanly), the vote
rules parsed once from the spec (`arena_rules`), the pair sampler
(`gauntlet.ratings.sampling`) and a `gauntlet.ratings.vote_quality.VoteScreen`
that decides from the voter's own history and streaming statistics whether a
new vote counts.  A vote therefore costs O(1) work and one commit: serving a
battle writes nothing (the battle is sealed into its id,
`gauntlet.rounds.battle_tickets`), the vote stores battle and vote together.
The round's decision still recomputes every rule from the whole kept vote log
(`review`, `filter_votes`), which replays the same screen.  What other server
processes changed (votes, new answers, the arena's state) is read in the
background once per `refresh_seconds`, so a request never waits for the store
once its round is open; `serve_async` and `vote_async` are the same calls for
an event loop (the web app's hot routes).

A round's arena is open until its decision closes it (`close_arena`); after
that every vote is refused with the reason and nothing is stored, until an
organiser reopens it (`ArenaDesk.set_state`: an event of the record, as is an
organiser closing it by hand).  The desk knows nothing of HTTP, so the
web app and a simulated crowd share exactly the same serving and voting rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations

import numpy as np

from gauntlet.errors import GauntletError, InputError, StoreError
from gauntlet.ratings.arena import CHOICES, Vote
from gauntlet.ratings.sampling import make_sampler
from gauntlet.ratings.vote_quality import VoteFilterResult, VotePolicy, VoteScreen, filter_votes
from gauntlet.rounds.battle_tickets import BattleTickets, ServedBattle, new_battle_id
from gauntlet.rounds.challenge_list import Challenges
from gauntlet.rounds.held import Held, in_background
from gauntlet.rounds.vote_gate import OriginKeys
from gauntlet.store.arena_records import ArenaClosedForVotes, ArenaPool, ServedVote
from gauntlet.store.spec_view import parsed_spec

DEFAULT_DAILY_CAP = VotePolicy().daily_cap
REDRAWS = 20
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
REFUSALS = {"voter_daily": "you have cast today's {} votes; thank you, come back tomorrow",
            "address_daily": "this address has cast today's {} votes; come back tomorrow",
            "network_daily": "this network has cast today's {} votes; come back tomorrow"}


class DailyCapReached(GauntletError):
    """This voter (or address, or network) has used today's votes (HTTP 429)."""


class ArenaClosed(StoreError):
    """No round has enough answers for a battle (HTTP 404: there is nothing to serve)."""


@dataclass(frozen=True)
class ArenaRules:
    """How the arena takes votes, read once from the spec's [arena] table."""

    policy: VotePolicy = VotePolicy()
    voters: str = "anyone"  # "signed_in": only voter tokens may vote
    proof_of_work_bits: int = 0
    trusted_proxy_header: str = ""
    trusted_proxies: tuple[str, ...] = ()


def arena_rules(spec_toml: str, *, daily_cap: int | None = None) -> ArenaRules:
    """The spec's arena rules (documented defaults when it has none); `daily_cap` overrides."""
    parsed = parsed_spec(spec_toml)
    arena = None if parsed is None else parsed.arena
    if arena is None:
        return ArenaRules(VotePolicy(daily_cap=daily_cap or DEFAULT_DAILY_CAP))
    policy = VotePolicy(daily_cap=daily_cap or arena.daily_cap_per_voter,
                        address_daily_cap=arena.daily_cap_per_address,
                        network_daily_cap=arena.daily_cap_per_network,
                        voter_per_second=arena.votes_per_second_per_voter,
                        address_per_second=arena.votes_per_second_per_address)
    return ArenaRules(policy, arena.voters, arena.proof_of_work_bits, arena.trusted_proxy_header,
                      arena.trusted_proxies)


def voter_alias(voter_id: str) -> str:
    """How a voter appears in public files: a short one-way hash of the cookie id."""
    return hashlib.sha256(voter_id.encode()).hexdigest()[:12]


def close_arena(store, slug: str, round_key: str, *, reason: str, at: datetime) -> bool:
    """Close the round's arena (the decision does): later votes are refused with `reason`.
    False when there is nothing to close (no arena in the round, or closed already)."""
    try:
        if store.arena_state(slug, round_key)["state"] == "closed" or not store.arena_teams(slug, round_key):
            return False
    except StoreError:
        return False
    store.set_arena_state(slug, round_key, "closed", reason, at)
    return True


def reopen_arena(store, slug: str, round_key: str, *, reason: str, at: datetime) -> None:
    """Reopen the arena a refused decision closed (no event: the decision never happened)."""
    store.set_arena_state(slug, round_key, "open", reason, at)


@dataclass
class _OpenRound:
    pool: ArenaPool
    rules: ArenaRules
    sampler: object
    rng: np.random.Generator
    screen: VoteScreen
    shared: dict[tuple[str, str], tuple[str, ...]]  # pair -> prompts both answered cleanly
    names: dict[str, dict]
    texts: dict[str, str]
    synced_id: int = 0  # votes up to here were read back from the store
    reread_from: int = 0  # the next read starts here: where the previous one started
    decided: dict = field(default_factory=dict)  # vote id -> reason: each vote is admitted once
    checked: float = 0.0
    state: dict = field(default_factory=lambda: {"state": "open", "reason": ""})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, vote: Vote) -> str | None:
        # A vote this process took can also come back from the store when it reads the votes
        # other server processes took; it is decided once.
        if vote.sequence in self.decided:
            return self.decided[vote.sequence]
        reason = self.decided[vote.sequence] = self.screen.admit(vote)
        if reason is None:
            self.sampler.observe(vote.model_a, vote.model_b, SCORE_A[vote.choice])
        return reason

    def read_back(self, votes) -> None:
        for vote in votes:
            self.admit(vote)
            self.synced_id = max(self.synced_id, vote.sequence)


class ArenaDesk:
    def __init__(self, store, *, seed: int | None = None, daily_cap: int | None = None, sampling: str = "active",
                 refresh_seconds: float = 1.0, challenges: Challenges | None = None):
        """`refresh_seconds`: how often the desk looks in the store for new answers, the arena's
        state and votes taken by other server processes; `challenges`: the store's list of
        challenges as the process holds it (the web app shares its own)."""
        self.store = store
        self.challenges = challenges or Challenges(store)
        self.seed = seed
        self.daily_cap = daily_cap
        self.sampling = sampling
        self.refresh_seconds = refresh_seconds
        secret = store.web_secret()
        self.tickets = BattleTickets(secret)
        self.origins = OriginKeys(secret)
        self._open: dict[tuple[str, str], _OpenRound] = {}
        self._rules: dict[str, ArenaRules] = {}
        self._rounds: dict[str, Held] = {}  # slug -> the round its arena is open in
        self._rereading: set[tuple] = set()  # open rounds being read again now
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    # A request never waits for the store to be read again: past `refresh_seconds`, the first
    # request to notice starts a background read and goes on (like every request meanwhile)
    # with what the desk holds (`gauntlet.rounds.held`).  Only what the desk has never held
    # is read on the spot.  So serving a battle and preparing a vote never wait for the store
    # once a round is open, and the web app can do both on its event loop.
    def _claim(self, key: tuple) -> bool:
        with self._lock:
            if key in self._rereading:
                return False
            self._rereading.add(key)
            return True

    def _in_background(self, key: tuple, work) -> None:
        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._rereading.discard(key)

        in_background(run, f"the arena of {key[1:]}")

    def challenge(self, asked: str | None) -> str:
        """The challenge named (it must exist), else the store's first (`Challenges.find`)."""
        return self.challenges.find(asked)

    async def challenge_async(self, asked: str | None) -> str:
        """`challenge` on an event loop: the store is read, when it must be, in a worker thread."""
        return self.challenges.held(asked) or await asyncio.to_thread(self.challenges.find, asked)

    def rules(self, slug: str) -> ArenaRules:
        # A stored spec never changes (register_challenge refuses another), so parse it once.
        if slug not in self._rules:
            self._rules[slug] = arena_rules(self.store.spec_text(slug), daily_cap=self.daily_cap)
        return self._rules[slug]

    def policy(self, slug: str) -> VotePolicy:
        return self.rules(slug).policy

    def open_round(self, slug: str, round_key: str | None) -> str:
        if round_key is None:
            if slug not in self._rounds:
                self._rounds[slug] = Held(lambda: self.store.arena_round(slug), f"the arena round of {slug}",
                                          max_age=self.refresh_seconds)
            round_key = self._rounds[slug].get()
        if round_key is None:
            raise ArenaClosed("the arena is not open: no round has arena prompts yet")
        return round_key

    def _round(self, slug: str, round_key: str) -> _OpenRound:
        key = (slug, round_key)
        current = self._open.get(key)
        if current is None:
            with self._loading:  # one request loads the round; the others wait for it
                current = self._open.get(key)
                if current is None:
                    current = self._load(slug, round_key)
                    current.state = self.store.arena_state(slug, round_key)
                    current.checked = time.monotonic()
                    self._open[key] = current
            return current
        if time.monotonic() - current.checked > self.refresh_seconds and self._claim(("open", *key)):
            self._in_background(("open", *key), lambda: self._refresh(slug, round_key, current))
        return current

    def _refresh(self, slug: str, round_key: str, current: _OpenRound) -> None:
        """What changed in the store since the desk last looked: new answers (the round is
        loaded again), votes other server processes took, the arena's state."""
        try:
            if self.store.arena_version(slug, round_key) != current.pool.version:
                fresh = self._load(slug, round_key)
            else:
                # With PostgreSQL another process's batch can commit after a later id was read
                # (ids are drawn at insert, not at commit), so every read starts where the
                # previous one did: each id is looked for twice, `refresh_seconds` apart, and
                # `admit` decides a vote once.  (A batch held open longer than that is missed
                # here; the decision, which replays the whole log, still counts it.)
                recent = self.store.arena_votes(slug, round_key, after=current.reread_from)
                with current.lock:
                    current.reread_from = current.synced_id  # (moved only once a read succeeded)
                    current.read_back(recent)
                fresh = current
            fresh.state = self.store.arena_state(slug, round_key)
        finally:
            current.checked = time.monotonic()  # on failure too: try again in `refresh_seconds`
        fresh.checked = current.checked
        with self._lock:
            if self._open.get((slug, round_key)) is current:  # not closed or reopened meanwhile
                self._open[(slug, round_key)] = fresh

    def _load(self, slug: str, round_key: str) -> _OpenRound:
        pool = self.store.arena_pool(slug, round_key)
        models = sorted(pool.answers)
        if len(models) < 2:
            raise ArenaClosed(f"the arena of round {round_key!r} needs answers from at least two models")
        shared = {}
        for a, b in combinations(models, 2):
            prompts = tuple(sorted(set(pool.answers[a]) & set(pool.answers[b])))
            if prompts:
                shared[(a, b)] = shared[(b, a)] = prompts
        if not shared:
            raise ArenaClosed(f"no two models of round {round_key!r} answered a common prompt cleanly")
        rules = self.rules(slug)
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        opened = _OpenRound(pool, rules, make_sampler(self.sampling, models), np.random.default_rng(seed),
                            VoteScreen(rules.policy, pool.revealing), shared, self.store.team_names(slug),
                            {p.id: p.text for p in pool.prompts.prompts})
        opened.read_back(self.store.arena_votes(slug, round_key))  # the screen and sampler learn the log so far
        opened.reread_from = opened.synced_id
        return opened

    def state(self, slug: str, round_key: str) -> dict:
        return self.store.arena_state(slug, round_key)

    def serve(self, slug: str, round_key: str, voter_id: str, at: datetime, *, address: str = "",
              network: str = "") -> dict:
        """A blind battle for the voter: prompt, two answers, a sealed battle id; no names."""
        opened = self._round(slug, round_key)
        if opened.state["state"] == "closed":
            raise ArenaClosedForVotes(f"the arena of round {round_key!r} is closed ({opened.state['reason']})")
        day = at.astimezone(timezone.utc).date().isoformat()
        with opened.lock:
            refusal = opened.screen.refusal(voter_id, address, network, day)
            if refusal is not None:
                kind, _, cap = refusal.partition(":")
                raise DailyCapReached(REFUSALS[kind].format(cap))
            fallback = None
            for _ in range(REDRAWS):
                first, second = opened.sampler(opened.rng)
                prompts = opened.shared.get((first, second))
                if not prompts:
                    continue
                fresh = [p for p in prompts if not opened.screen.judged(voter_id, p, first, second)]
                if fresh:
                    break
                fallback = fallback or (first, second, prompts)
            else:
                # Everything drawn was judged already: serve a repeat (stored, then a duplicate).
                if fallback is None:
                    raise ArenaClosed(f"no pair of models in round {round_key!r} has a clean answer to a common prompt")
                first, second, fresh = fallback
            prompt_id = fresh[int(opened.rng.integers(len(fresh)))]
            if opened.rng.random() < 0.5:
                first, second = second, first
        battle = ServedBattle(new_battle_id(), round_key, voter_id, prompt_id, first, second, at.timestamp())
        return {"battle_id": self.tickets.issue(battle), "round": round_key, "prompt": opened.texts[prompt_id],
                "language": opened.pool.languages.get(prompt_id, ""),
                "answer_a": opened.pool.answers[first][prompt_id], "answer_b": opened.pool.answers[second][prompt_id]}

    def battle_behind(self, battle_id: str, at: datetime) -> ServedBattle:
        """Server side only: who is behind a served battle (the demo's simulated judgement)."""
        return self.tickets.open(battle_id, at.timestamp())

    async def serve_async(self, slug: str, round_key: str, voter_id: str, at: datetime, **origin) -> dict:
        """`serve` on an event loop: only a round never loaded is read in a worker thread."""
        if (slug, round_key) not in self._open:
            await asyncio.to_thread(self._round, slug, round_key)
        return self.serve(slug, round_key, voter_id, at, **origin)

    def vote(self, slug: str, battle_id: str, voter_id: str, choice: str, at: datetime, *, address: str = "",
             network: str = "") -> dict:
        """Store the vote with its battle (one commit), reveal the models and say whether it counts."""
        battle = self._ticket(battle_id, voter_id, choice, at)
        opened = self._round(slug, battle.round_key)
        try:
            stored = self.store.record_served_vote(opened.pool, *self._ballot(opened, battle, voter_id, choice, at,
                                                                              address, network))
        except ArenaClosedForVotes as exc:
            self._closed_meanwhile(opened, exc)
            raise
        return self._receipt(opened, battle, battle_id, choice, at, stored)

    async def vote_async(self, slug: str, battle_id: str, voter_id: str, choice: str, at: datetime, *,
                         address: str = "", network: str = "") -> dict:
        """`vote` on an event loop: the request awaits the group commit instead of holding a thread."""
        battle = self._ticket(battle_id, voter_id, choice, at)
        if (slug, battle.round_key) not in self._open:
            await asyncio.to_thread(self._round, slug, battle.round_key)
        opened = self._round(slug, battle.round_key)
        try:
            stored = await self.store.record_served_vote_async(opened.pool, *self._ballot(opened, battle, voter_id,
                                                                                          choice, at, address, network))
        except ArenaClosedForVotes as exc:
            self._closed_meanwhile(opened, exc)
            raise
        return self._receipt(opened, battle, battle_id, choice, at, stored)

    @staticmethod
    def _closed_meanwhile(opened: _OpenRound, refusal: ArenaClosedForVotes) -> None:
        # The store says the arena closed since the desk last looked: serve no more battles,
        # and look at the state again soon.
        opened.state = {"state": "closed", "reason": refusal.reason}
        opened.checked = 0.0

    def _ticket(self, battle_id: str, voter_id: str, choice: str, at: datetime) -> ServedBattle:
        battle = self.tickets.open(battle_id, at.timestamp())
        if battle.voter_id != voter_id:
            raise InputError("this battle was served to another voter")
        if choice not in CHOICES:
            raise InputError(f"vote must be one of {', '.join(CHOICES)}, got {choice!r}")
        return battle

    @staticmethod
    def _ballot(opened: _OpenRound, battle: ServedBattle, voter_id: str, choice: str, at: datetime, address: str,
                network: str) -> tuple:
        """What the store takes with the round's pool: the served vote, and the screen's decision
        on it (called in vote-id order once the vote is on disk)."""
        served = ServedVote(battle.id, battle.round_key, voter_id, battle.prompt_id, battle.model_a, battle.model_b,
                            datetime.fromtimestamp(battle.served_at, timezone.utc), choice, at, address, network)
        day = at.astimezone(timezone.utc).date().isoformat()

        def decide(vote_id: int) -> str | None:
            with opened.lock:
                return opened.admit(Vote(battle.id, voter_id, battle.prompt_id, battle.model_a, battle.model_b,
                                         choice, day, vote_id, address, network, at.timestamp()))

        return served, decide

    @staticmethod
    def _receipt(opened: _OpenRound, battle: ServedBattle, battle_id: str, choice: str, at: datetime,
                 stored: tuple[int, str | None]) -> dict:
        vote_id, reason = stored
        return {"battle_id": battle_id, "vote_id": vote_id, "round": battle.round_key, "prompt_id": battle.prompt_id,
                "model_a": battle.model_a, "model_b": battle.model_b, "choice": choice,
                "day": at.astimezone(timezone.utc).date().isoformat(), "counted": reason is None, "reason": reason,
                "prompt": opened.texts.get(battle.prompt_id, ""),
                "answers": {side: opened.pool.answers.get(getattr(battle, f"model_{side}"), {}).get(battle.prompt_id, "")
                            for side in ("a", "b")},
                "names": {side: opened.names.get(getattr(battle, f"model_{side}"), {}) for side in ("a", "b")}}

    def review(self, slug: str, round_key: str, pool=None) -> VoteFilterResult:
        """The round's decision on every vote: all rules recomputed from the whole kept log."""
        pool = pool or self.store.arena_pool(slug, round_key)
        return filter_votes(self.store.arena_votes(slug, round_key), self.policy(slug), pool.revealing)

    def set_state(self, slug: str, round_key: str, state: str, *, reason: str, at: datetime) -> dict:
        """An organiser closes or reopens the arena: an event of the record (`service.set_arena`)."""
        from gauntlet.rounds import service

        record = service.set_arena(self.store, service.spec_of(self.store, slug), round_key, state, reason, at)
        with self._lock:
            self._open.pop((slug, round_key), None)
        return record

    def reopen(self, slug: str, round_key: str, *, reason: str, at: datetime) -> None:
        self.set_state(slug, round_key, "open", reason=reason, at=at)
