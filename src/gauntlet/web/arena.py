"""The public blind arena on the web.

Battles are served and votes recorded by `gauntlet.rounds.arena_desk.ArenaDesk`
(shared with the demo's simulated crowd). A battle page shows a prompt and two
anonymous answers under a sealed battle id; the two models are named only in
the response to the vote.  Which votes count is decided by the desk's vote
screen (`gauntlet.ratings.vote_quality`): identity, duplicate, per-voter,
per-address and per-network daily caps, per-second rates and the
anomalous-voter and anomalous-network tests; excluded votes stay in the vote
log with their reasons.

A voter is the browser's visitor cookie, or, when the spec says
`voters = "signed_in"`, a voter token.  The client address (through the
spec's trusted proxy header) carries the limits that survive clearing
cookies; anonymous voters may be asked for a proof of work with each vote.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from gauntlet.errors import StoreError
from gauntlet.i18n import N_, _
from gauntlet.ratings.arena import CHOICES
from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached, voter_alias
from gauntlet.rounds.vote_gate import check_proof_of_work, client_address
from gauntlet.store.access import AccessDenied
from gauntlet.store.arena_records import ArenaClosedForVotes
from gauntlet.web.common import challenge_slug, form_fields, now, render
from gauntlet.web.security import SESSION_COOKIE, NotSignedIn, bearer_token, check_csrf, identify, require_role

CHOICE_LABELS = {"a": N_("A is better"), "b": N_("B is better"), "tie": N_("Tie"), "both_bad": N_("Both are bad")}


router = APIRouter()


class LeanRoute(APIRoute):
    """A route documented like any other (OpenAPI, /docs), served as a plain Starlette
    endpoint: `await endpoint(request)`, with no dependency solving, parameter validation
    or thread hop of FastAPI's own.  The arena's two hot routes (battle, vote) use it: under
    a crowd FastAPI's per-request machinery cost more CPU than serving the battle or taking
    the vote (benchmarks/bench_arena_load.py).  Their endpoints read their few parameters
    themselves; errors still go through the app's handlers (one-line JSON), and the
    middlewares (security headers, body limits, the visitor cookie) still wrap them."""

    def get_route_handler(self):
        return self.endpoint


# Included before every other router, so that matching a vote tries two routes, not forty.
hot_router = APIRouter(route_class=LeanRoute)


def _query(*names: str) -> dict:
    return {"parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in names]}


def _desk(request: Request) -> ArenaDesk:
    return request.app.state.arena


def _voter(request: Request, desk: ArenaDesk, slug: str, identity: dict | None) -> dict:
    """The voter's id, origin keys and whether they owe a proof of work."""
    rules = desk.rules(slug)
    signed_in = identity is not None and identity["role"] == "voter" and identity["challenge"] == slug
    if rules.voters == "signed_in" and not signed_in:
        raise NotSignedIn(_("this arena takes votes from signed-in voters only: sign in with your voter token"))
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get(rules.trusted_proxy_header) if rules.trusted_proxy_header else None
    address, network = desk.origins.of(client_address(peer, forwarded, rules.trusted_proxies))
    return {"voter_id": f"voter:{identity['subject']}" if signed_in else request.state.visitor,
            "origin": {"address": address, "network": network}, "identity": identity,
            "proof_bits": 0 if signed_in else rules.proof_of_work_bits}


async def _identity(request: Request) -> dict | None:
    """`identify` for an event loop: only a bearer token or a session cookie is looked up in
    the store, in a worker thread; an anonymous visitor needs nothing from it."""
    if bearer_token(request) is None and request.cookies.get(SESSION_COOKIE) is None:
        return None
    return await run_in_threadpool(identify, request)


def _ballot(request: Request, desk: ArenaDesk, slug: str, fields: dict, identity: dict | None) -> dict:
    """The voter, once the vote's CSRF token and proof of work are checked."""
    who = _voter(request, desk, slug, identity)
    check_csrf(request, fields, identity)
    check_proof_of_work(fields.get("battle_id", ""), fields.get("pow"), who["proof_bits"])
    return who


def _serve(request: Request, slug: str, round_key: str) -> dict:
    desk = _desk(request)
    who = _voter(request, desk, slug, identify(request))
    battle = desk.serve(slug, round_key, who["voter_id"], now(request), **who["origin"])
    return {**battle, "proof_of_work_bits": who["proof_bits"]}


def _vote(request: Request, slug: str, fields: dict) -> dict:
    desk = _desk(request)
    who = _ballot(request, desk, slug, fields, identify(request))
    return desk.vote(slug, fields.get("battle_id", ""), who["voter_id"], fields.get("choice", ""), now(request),
                     **who["origin"])


@router.get("/arena", response_class=HTMLResponse)
def arena_page(request: Request, challenge: str | None = None, round: str | None = None) -> HTMLResponse:
    slug = challenge_slug(request, challenge)
    round_key = _desk(request).open_round(slug, round)
    try:
        battle = _serve(request, slug, round_key)
    except (DailyCapReached, ArenaClosedForVotes) as exc:
        status = 429 if isinstance(exc, DailyCapReached) else 403
        return render(request, "arena_limit.html", {"message": str(exc), "slug": slug, "round": round_key}, status)
    return render(request, "arena.html", {"battle": battle, "slug": slug, "choices": CHOICES,
                                          "labels": CHOICE_LABELS})


@router.post("/arena/vote", response_class=HTMLResponse)
def arena_vote(request: Request, fields: dict = Depends(form_fields), challenge: str | None = None) -> HTMLResponse:
    slug = challenge_slug(request, challenge or fields.get("challenge"))
    result = _vote(request, slug, fields)
    return render(request, "arena_reveal.html", {"result": result, "slug": slug, "labels": CHOICE_LABELS})


# The two hot routes run on the event loop: what they need is in the desk's memory (which
# reads the store again in the background), and a vote awaits its group commit without
# holding a thread.  What does read the store (a token or session looked up, a round never
# loaded) goes to a worker thread.  A challenge's list, round and rules are read on the spot
# only the first time the desk is asked for them.
@hot_router.get("/api/arena/battle", openapi_extra=_query("challenge", "round"))
async def api_battle(request: Request) -> JSONResponse:
    """A blind battle as JSON (vote with POST /api/arena/votes, sending the X-CSRF-Token header
    given here, and `pow` when `proof_of_work_bits` is above 0; the cookie set by this
    response identifies the voter)."""
    desk, query = _desk(request), request.query_params
    slug = await desk.challenge_async(query.get("challenge"))
    round_key = desk.open_round(slug, query.get("round"))
    who = _voter(request, desk, slug, await _identity(request))
    battle = await desk.serve_async(slug, round_key, who["voter_id"], now(request), **who["origin"])
    return JSONResponse({**battle, "proof_of_work_bits": who["proof_bits"],
                         "csrf": request.app.state.signer.csrf_token(request.state.visitor)})


VOTE_BODY = {"requestBody": {"required": True, "content": {
    media: {"schema": {"type": "object", "required": ["battle_id", "choice"], "properties": {
        "battle_id": {"type": "string"}, "choice": {"type": "string", "enum": list(CHOICES)},
        "pow": {"type": "string"}, "csrf": {"type": "string"}, "challenge": {"type": "string"}}}}
    for media in ("application/json", "application/x-www-form-urlencoded")}}}


@hot_router.post("/api/arena/votes", openapi_extra={**_query("challenge"), **VOTE_BODY})
async def api_vote(request: Request) -> JSONResponse:
    """Vote on a served battle; the answer names both models and says whether the vote counts
    for now (`counted`, else the `reason`): the round's decision checks every vote again."""
    fields = await form_fields(request)
    desk = _desk(request)
    slug = await desk.challenge_async(request.query_params.get("challenge") or fields.get("challenge"))
    who = _ballot(request, desk, slug, fields, await _identity(request))
    result = await desk.vote_async(slug, fields.get("battle_id", ""), who["voter_id"], fields.get("choice", ""),
                                   now(request), **who["origin"])
    # vote_id is the voter's receipt: the vote's row in the published vote log.
    return JSONResponse({k: result[k] for k in ("battle_id", "vote_id", "model_a", "model_b", "choice", "counted",
                                                "reason", "names")})


@router.post("/api/arena/reopen")
def api_reopen(request: Request, fields: dict = Depends(form_fields), challenge: str | None = None) -> JSONResponse:
    """Organisers only: reopen a closed arena (`round`, `reason`); the reason goes on record."""
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    slug = who["challenge"]
    desk = _desk(request)
    round_key = desk.open_round(slug, fields.get("round") or None)
    desk.reopen(slug, round_key, reason=fields.get("reason", ""), at=now(request))
    return JSONResponse({"round": round_key, **desk.state(slug, round_key), "at": now(request).isoformat()})


def _published_votes(request: Request, slug: str, round: str | None) -> tuple[ArenaDesk, str]:
    """The desk and round whose votes this viewer may read: the votes are standings, so they
    are published with the round's decision (the embargo); organisers see them before."""
    desk = _desk(request)
    round_key = desk.open_round(slug, round)
    who = identify(request)
    organiser = who is not None and who["role"] == "organiser" and who["challenge"] == slug
    try:
        published = bool(request.app.state.store.round_decisions(slug, round_key))
    except StoreError:  # no published decision yet
        published = False
    if not organiser and not published:
        raise AccessDenied(_("the votes of round %(round)s are published with its decision", round=repr(round_key)))
    return desk, round_key


class CsvResponse(Response):
    media_type = "text/csv"  # what the API document says these routes answer


def _csv(rows: list[dict], columns: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/api/arena/votes.csv", response_class=CsvResponse)
def votes_csv(request: Request, challenge: str | None = None, round: str | None = None) -> Response:
    """Accepted votes in FastChat's columns: `gauntlet ratings fit votes.csv` refits the ratings."""
    slug = challenge_slug(request, challenge)
    desk, round_key = _published_votes(request, slug, round)
    languages = request.app.state.store.arena_pool(slug, round_key).languages
    rows = [{"model_a": v.model_a, "model_b": v.model_b, "winner": v.winner, "question_id": v.prompt_id,
             "language": languages.get(v.prompt_id, ""), "judge": voter_alias(v.voter_id), "day": v.day}
            for v in desk.review(slug, round_key).accepted]
    return _csv(rows, ["model_a", "model_b", "winner", "question_id", "language", "judge", "day"],
                f"{slug}-{round_key}-votes.csv")


@router.get("/api/arena/vote-log.csv", response_class=CsvResponse)
def vote_log_csv(request: Request, challenge: str | None = None, round: str | None = None) -> Response:
    """Every vote ever cast, counted or not, with the reason it was excluded."""
    slug = challenge_slug(request, challenge)
    desk, round_key = _published_votes(request, slug, round)
    review = desk.review(slug, round_key)
    reasons = {e.vote.sequence: e.reason for e in review.excluded}
    votes = sorted([*review.accepted, *(e.vote for e in review.excluded)], key=lambda v: v.sequence)
    rows = [{"model_a": v.model_a, "model_b": v.model_b, "winner": v.winner, "question_id": v.prompt_id,
             "judge": voter_alias(v.voter_id), "day": v.day, "counted": "no" if v.sequence in reasons else "yes",
             "reason": reasons.get(v.sequence, "")} for v in votes]
    return _csv(rows, ["model_a", "model_b", "winner", "question_id", "judge", "day", "counted", "reason"],
                f"{slug}-{round_key}-vote-log.csv")
