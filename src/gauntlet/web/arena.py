"""The public blind arena on the web.

`ArenaDesk` keeps one `gauntlet.ratings.arena.ArenaSession` per open round
(pair sampling by `gauntlet.ratings.sampling`, prompts and A/B positions drawn
by the session) and puts every served battle and every vote in the store.
A battle page shows a prompt and two anonymous answers under a random battle
id; the two models are named only in the response to the vote.  Which votes
count is `gauntlet.ratings.vote_quality.filter_votes` over all the round's
votes: the identity, duplicate and daily-cap rules and the anomalous-voter
test; excluded votes stay in the vote log with their reasons.

A voter is the browser's visitor cookie.  Clearing cookies resets the daily
cap; the anomalous-voter test is the defence against that kind of gaming.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import threading
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gauntlet.errors import GauntletError, StoreError
from gauntlet.ratings.arena import CHOICES, ArenaSession
from gauntlet.ratings.sampling import make_sampler
from gauntlet.ratings.vote_quality import VoteFilterResult, VotePolicy, filter_votes
from gauntlet.store.spec_view import daily_vote_cap
from gauntlet.web.common import challenge_slug, form_fields, now, render
from gauntlet.web.security import check_csrf

DEFAULT_DAILY_CAP = VotePolicy().daily_cap
REDRAWS = 20
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
CHOICE_LABELS = {"a": ("A가 낫다", "A is better"), "b": ("B가 낫다", "B is better"),
                 "tie": ("비슷하다", "Tie"), "both_bad": ("둘 다 나쁘다", "Both are bad")}


class DailyCapReached(GauntletError):
    """This voter has used today's votes (HTTP 429)."""


class ArenaClosed(StoreError):
    """No round has enough answers for a battle (HTTP 404: there is nothing to serve)."""


@dataclass
class _OpenRound:
    version: tuple[int, int]
    session: ArenaSession
    sampler: object
    languages: dict[str, str]


def voter_alias(voter_id: str) -> str:
    """How a voter appears in public files: a short one-way hash of the cookie id."""
    return hashlib.sha256(voter_id.encode()).hexdigest()[:12]


class ArenaDesk:
    def __init__(self, store, *, seed: int | None = None, daily_cap: int | None = None, sampling: str = "active"):
        self.store = store
        self.seed = seed
        self.daily_cap = daily_cap
        self.sampling = sampling
        self._open: dict[tuple[str, str], _OpenRound] = {}
        self._lock = threading.Lock()

    def policy(self, slug: str) -> VotePolicy:
        if self.daily_cap is not None:
            return VotePolicy(daily_cap=self.daily_cap)
        return VotePolicy(daily_cap=daily_vote_cap(self.store.spec_text(slug)) or DEFAULT_DAILY_CAP)

    def open_round(self, slug: str, round_key: str | None) -> str:
        round_key = round_key or self.store.arena_round(slug)
        if round_key is None:
            raise ArenaClosed("the arena is not open: no round has arena prompts yet")
        return round_key

    def _session(self, slug: str, round_key: str) -> _OpenRound:
        version = self.store.arena_version(slug, round_key)
        current = self._open.get((slug, round_key))
        if current is not None and current.version == version:
            return current
        pool = self.store.arena_pool(slug, round_key)
        models = sorted(pool.answers)
        if len(models) < 2:
            raise ArenaClosed(f"the arena of round {round_key!r} needs answers from at least two models")
        sampler = make_sampler(self.sampling, models)
        for vote in self.store.arena_votes(slug, round_key):  # the active sampler learns from votes so far
            sampler.observe(vote.model_a, vote.model_b, SCORE_A[vote.choice])
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        opened = _OpenRound(version, ArenaSession(pool.prompts, pool.answers, sampler, seed=seed), sampler,
                            pool.languages)
        self._open[(slug, round_key)] = opened
        return opened

    def serve(self, slug: str, round_key: str, voter_id: str, at) -> dict:
        """A blind battle for the voter: prompt, two answers, a random battle id; no names."""
        policy = self.policy(slug)
        day = at.date().isoformat()
        if self.store.votes_cast(slug, round_key, voter_id, day) >= policy.daily_cap:
            raise DailyCapReached(f"you have cast today's {policy.daily_cap} votes; thank you, come back tomorrow")
        judged = self.store.voter_judged(slug, round_key, voter_id)
        with self._lock:
            opened = self._session(slug, round_key)
            # The session remembers what it served since it was opened; the store remembers
            # votes from before a restart, so skip battles this voter has already judged.
            for _ in range(REDRAWS):
                blind = opened.session.serve(voter_id)
                battle = opened.session.battle(blind.battle_id)
                if (battle.prompt_id, frozenset((battle.model_a, battle.model_b))) not in judged:
                    break
            public_id = self.store.record_battle(slug, round_key, voter_id, battle.prompt_id,
                                                 battle.model_a, battle.model_b, at)
        return {"battle_id": public_id, "round": round_key, "prompt": blind.prompt,
                "language": opened.languages.get(battle.prompt_id, ""),
                "answer_a": blind.answer_a, "answer_b": blind.answer_b}

    def vote(self, slug: str, battle_id: str, voter_id: str, choice: str, at) -> dict:
        """Record the vote, then reveal the models and say whether the vote counts."""
        recorded = self.store.record_vote(battle_id, voter_id, choice, at)
        pool = self.store.arena_pool(slug, recorded["round"])
        review = self.review(slug, recorded["round"], pool)
        reason = next((e.reason for e in review.excluded if e.vote.sequence == recorded["vote_id"]), None)
        if reason is None:
            with self._lock:
                opened = self._open.get((slug, recorded["round"]))
                if opened is not None:
                    opened.sampler.observe(recorded["model_a"], recorded["model_b"], SCORE_A[choice])
        names = self.store.team_names(slug)
        prompt = pool.prompts.by_id().get(recorded["prompt_id"])
        return {**recorded, "counted": reason is None, "reason": reason,
                "prompt": prompt.text if prompt else "",
                "answers": {side: pool.answers.get(recorded[f"model_{side}"], {}).get(recorded["prompt_id"], "")
                            for side in ("a", "b")},
                "names": {side: names.get(recorded[f"model_{side}"], {}) for side in ("a", "b")}}

    def review(self, slug: str, round_key: str, pool=None) -> VoteFilterResult:
        pool = pool or self.store.arena_pool(slug, round_key)
        return filter_votes(self.store.arena_votes(slug, round_key), self.policy(slug), pool.revealing)


router = APIRouter()


def _desk(request: Request) -> ArenaDesk:
    return request.app.state.arena


@router.get("/arena", response_class=HTMLResponse)
def arena_page(request: Request, challenge: str | None = None, round: str | None = None) -> HTMLResponse:
    slug = challenge_slug(request, challenge)
    desk = _desk(request)
    round_key = desk.open_round(slug, round)
    try:
        battle = desk.serve(slug, round_key, request.state.visitor, now(request))
    except DailyCapReached as exc:
        return render(request, "arena_limit.html", {"message": str(exc), "slug": slug, "round": round_key}, 429)
    return render(request, "arena.html", {"battle": battle, "slug": slug, "choices": CHOICES,
                                          "labels": CHOICE_LABELS})


@router.post("/arena/vote", response_class=HTMLResponse)
def arena_vote(request: Request, fields: dict = Depends(form_fields), challenge: str | None = None) -> HTMLResponse:
    check_csrf(request, fields)
    slug = challenge_slug(request, challenge or fields.get("challenge"))
    result = _desk(request).vote(slug, fields.get("battle_id", ""), request.state.visitor,
                                 fields.get("choice", ""), now(request))
    return render(request, "arena_reveal.html", {"result": result, "slug": slug, "labels": CHOICE_LABELS})


@router.get("/api/arena/battle")
def api_battle(request: Request, challenge: str | None = None, round: str | None = None) -> JSONResponse:
    """A blind battle as JSON (vote with POST /api/arena/votes, sending the X-CSRF-Token header
    given here; the cookie set by this response identifies the voter)."""
    slug = challenge_slug(request, challenge)
    desk = _desk(request)
    battle = desk.serve(slug, desk.open_round(slug, round), request.state.visitor, now(request))
    return JSONResponse({**battle, "csrf": request.app.state.signer.csrf_token(request.state.visitor)})


@router.post("/api/arena/votes")
def api_vote(request: Request, fields: dict = Depends(form_fields), challenge: str | None = None) -> JSONResponse:
    check_csrf(request, fields)
    slug = challenge_slug(request, challenge or fields.get("challenge"))
    result = _desk(request).vote(slug, fields.get("battle_id", ""), request.state.visitor,
                                 fields.get("choice", ""), now(request))
    return JSONResponse({k: result[k] for k in ("battle_id", "model_a", "model_b", "choice", "counted", "reason",
                                                "names")})


def _csv(rows: list[dict], columns: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/api/arena/votes.csv")
def votes_csv(request: Request, challenge: str | None = None, round: str | None = None) -> Response:
    """Accepted votes in FastChat's columns: `gauntlet ratings fit votes.csv` refits the ratings."""
    slug = challenge_slug(request, challenge)
    desk = _desk(request)
    round_key = desk.open_round(slug, round)
    languages = request.app.state.store.arena_pool(slug, round_key).languages
    rows = [{"model_a": v.model_a, "model_b": v.model_b, "winner": v.winner, "question_id": v.prompt_id,
             "language": languages.get(v.prompt_id, ""), "judge": voter_alias(v.voter_id), "day": v.day}
            for v in desk.review(slug, round_key).accepted]
    return _csv(rows, ["model_a", "model_b", "winner", "question_id", "language", "judge", "day"],
                f"{slug}-{round_key}-votes.csv")


@router.get("/api/arena/vote-log.csv")
def vote_log_csv(request: Request, challenge: str | None = None, round: str | None = None) -> Response:
    """Every vote ever cast, counted or not, with the reason it was excluded."""
    slug = challenge_slug(request, challenge)
    desk = _desk(request)
    round_key = desk.open_round(slug, round)
    review = desk.review(slug, round_key)
    reasons = {e.vote.sequence: e.reason for e in review.excluded}
    votes = sorted([*review.accepted, *(e.vote for e in review.excluded)], key=lambda v: v.sequence)
    rows = [{"model_a": v.model_a, "model_b": v.model_b, "winner": v.winner, "question_id": v.prompt_id,
             "judge": voter_alias(v.voter_id), "day": v.day, "counted": "no" if v.sequence in reasons else "yes",
             "reason": reasons.get(v.sequence, "")} for v in votes]
    return _csv(rows, ["model_a", "model_b", "winner", "question_id", "judge", "day", "counted", "reason"],
                f"{slug}-{round_key}-vote-log.csv")
