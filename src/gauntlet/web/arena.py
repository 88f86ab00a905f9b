"""The public blind arena on the web.

Battles are served and votes recorded by `gauntlet.rounds.arena_desk.ArenaDesk`
(shared with the demo's simulated crowd). A battle page shows a prompt and two anonymous answers under a random battle
id; the two models are named only in the response to the vote.  Which votes
count is `gauntlet.ratings.vote_quality.filter_votes` over all the round's
votes: the identity, duplicate and daily-cap rules and the anomalous-voter
test; excluded votes stay in the vote log with their reasons.

A voter is the browser's visitor cookie.  Clearing cookies resets the daily
cap; the anomalous-voter test is the defence against that kind of gaming.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gauntlet.ratings.arena import CHOICES
from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached, voter_alias
from gauntlet.web.common import challenge_slug, form_fields, now, render
from gauntlet.web.security import check_csrf

CHOICE_LABELS = {"a": ("A가 낫다", "A is better"), "b": ("B가 낫다", "B is better"),
                 "tie": ("비슷하다", "Tie"), "both_bad": ("둘 다 나쁘다", "Both are bad")}


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
