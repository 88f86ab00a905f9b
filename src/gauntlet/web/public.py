"""Public pages: the leaderboard, each team's record, and each round's decision
with everything needed to recompute it.  Only published decisions and the
results of published rounds appear here (a team, or an organiser, signed in
sees its own results before that)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gauntlet.domain.canonical import canonical_json
from gauntlet.errors import StoreError
from gauntlet.web.common import DecisionNumber, challenge_slug, render

router = APIRouter()


@router.get("/api/leaderboard")
def api_leaderboard(request: Request, challenge: str | None = None) -> JSONResponse:
    return JSONResponse(request.app.state.store.leaderboard(challenge))


@router.get("/", response_class=HTMLResponse)
def leaderboard(request: Request, challenge: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    board = store.leaderboard(challenge)
    rounds = store.rounds(board["challenge"]["slug"]) if board else []
    arena_open = bool(board) and store.arena_round(board["challenge"]["slug"]) is not None
    return render(request, "leaderboard.html", {"board": board, "rounds": rounds, "arena_open": arena_open})


def _outcome(board: dict | None, team: str) -> dict | None:
    if not board or not board.get("decision"):
        return None
    out = board["decision"]["outputs"]
    row = next((r for r in out.get("ranking", ()) if r.get("team") == team), None)
    if row is None:
        return None
    eliminated = {e["team"]: e.get("reason") for e in out.get("eliminated", ())}
    survival = ((out.get("uncertainty") or {}).get("teams") or {}).get(team, {}).get("survival_probability")
    return {"round": board["decision"]["round"], "rank": row.get("rank"), "total": row.get("total"),
            "eliminated": eliminated.get(team), "survival": survival,
            "allocation": (out.get("allocation") or {}).get(team, {}), "own_work": (board.get("own_work") or {}).get(team)}


def _viewer(request: Request) -> dict | None:
    from gauntlet.web.security import identify

    try:
        return identify(request)
    except Exception:  # noqa: BLE001 - a bad token sees what the public sees
        return None


@router.get("/api/teams/{team}")
def api_team(request: Request, team: str, challenge: str | None = None) -> JSONResponse:
    slug = challenge_slug(request, challenge)
    return JSONResponse(request.app.state.store.team_profile(slug, team, viewer=_viewer(request)))


@router.get("/teams/{team}", response_class=HTMLResponse)
def team_page(request: Request, team: str, challenge: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    profile = store.team_profile(slug, team, viewer=_viewer(request))
    board = store.leaderboard(slug)
    return render(request, "team_public.html", {
        "slug": slug, "challenge_name": board["challenge"]["name"], "team": profile,
        "outcome": _outcome(board, team), "appeals": store.appeals(slug, team=team),
    })


@router.get("/rounds/{round_key}", response_class=HTMLResponse)
def round_page(request: Request, round_key: str, challenge: str | None = None,
               sequence: DecisionNumber = None) -> HTMLResponse:
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    history = store.round_decisions(slug, round_key)
    board = store.round_board(slug, round_key, sequence)
    chosen = board["decision"]["sequence"]
    return render(request, "round.html", {
        "slug": slug, "board": board, "out": board["decision"]["outputs"], "history": history,
        "in_force": history[-1]["sequence"], "chosen": chosen,
        "inputs": next(d["inputs"] for d in history if d["sequence"] == chosen),
        "ledger_head": store.ledger_head(slug), "window": store.appeal_window(slug, round_key),
        "appeals": [a for a in store.appeals(slug) if a["round"] == round_key],
    })


def _decision_document(request: Request, round_key: str, challenge: str | None, sequence: int | None,
                       part: str) -> Response:
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    history = store.round_decisions(slug, round_key)
    if sequence is None:
        chosen = history[-1]
    else:
        chosen = next((d for d in history if d["sequence"] == sequence), None)
        if chosen is None:
            raise StoreError(f"round {round_key!r} has no decision #{sequence}")
    filename = f"{slug}-{round_key}-{chosen['sequence']}-{part}.json"
    return Response(canonical_json(chosen[part]) + "\n", media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/rounds/{round_key}/inputs.json")
def round_inputs(request: Request, round_key: str, challenge: str | None = None,
                 sequence: DecisionNumber = None) -> Response:
    """The decision's input document: `gauntlet round decide` on it reproduces the outputs."""
    return _decision_document(request, round_key, challenge, sequence, "inputs")


@router.get("/rounds/{round_key}/outputs.json")
def round_outputs(request: Request, round_key: str, challenge: str | None = None,
                  sequence: DecisionNumber = None) -> Response:
    return _decision_document(request, round_key, challenge, sequence, "outputs")
