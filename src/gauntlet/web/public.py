"""Public pages: the leaderboard, each team's record, and each round's decision
with everything needed to recompute it.  Only published decisions and the
results of published rounds appear here (a team, or an organiser, signed in
sees its own results before that)."""

from __future__ import annotations

import json
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from gauntlet import plots
from gauntlet.domain.canonical import canonical_json
from gauntlet.errors import StoreError
from gauntlet.i18n import current as current_language
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
    return render(request, "leaderboard.html", {"board": board, "rounds": rounds, "arena_open": arena_open,
                                                "plot": _board_plot(board)})


@lru_cache(maxsize=64)
def _cached_board_plot(document: str, language: str) -> str:
    # Keyed by the language too: the figure's words are the reader's.
    figure = json.loads(document)
    return plots.leaderboard_svg(figure["ranking"], {k: tuple(v) for k, v in figure["intervals"].items()},
                                 figure["names"], figure["eliminated"], figure["close_calls"])


def _board_plot(board: dict | None) -> str | None:
    """The decision's totals with their intervals and the cut, as inline SVG (drawn once per decision)."""
    if not board or not board.get("decision"):
        return None
    out = board["decision"]["outputs"]
    unc = out.get("uncertainty") or {}
    intervals = {t: [v["total_lower"], v["total_upper"]] for t, v in (unc.get("teams") or {}).items()
                 if "total_lower" in v}
    return _cached_board_plot(canonical_json({
        "ranking": out["ranking"], "intervals": intervals, "eliminated": out.get("eliminated", []),
        "close_calls": unc.get("close_calls", []), "names": {k: t["name"] for k, t in board["teams"].items()}}), current_language())


def _team_plot(store, slug: str, profile: dict) -> str | None:
    """The team's components and total in every round it has a value in (the embargo already
    applied: `profile` holds what this viewer may see, the totals come from published decisions)."""
    rounds = store.rounds(slug)  # every round of the challenge: the axis is its timeline
    by_round = {s["round"]: s["components"] for s in profile["submissions"]}
    names = list(dict.fromkeys(n for comps in by_round.values() for n in comps))
    series: dict[str, list] = {n: [] for n in names}
    series["total"] = []
    for r in rounds:
        comps = by_round.get(r["key"], {})
        for n in names:
            c = comps.get(n)
            series[n].append(None if c is None else (c["value"], c["lower"], c["upper"]))
        total = None
        if r["decisions"]:
            out = store.round_decisions(slug, r["key"])[-1]["outputs"]
            row = next((x for x in out["ranking"] if x["team"] == profile["key"]), None)
            if row is not None:
                unc = ((out.get("uncertainty") or {}).get("teams") or {}).get(profile["key"], {})
                total = (row["total"], unc.get("total_lower", row["total"]), unc.get("total_upper", row["total"]))
        series["total"].append(total)
    if not any(p is not None for points in series.values() for p in points):
        return None
    return _cached_team_plot(canonical_json({"rounds": [r["key"] for r in rounds], "series": series,
                                             "name": profile["name"]}), current_language())


@lru_cache(maxsize=256)
def _cached_team_plot(document: str, language: str) -> str:
    # Keyed by the language too: the figure's words are the reader's.
    figure = json.loads(document)  # keyed by what it draws, so each viewer's embargo holds
    return plots.team_rounds_svg(figure["rounds"], {k: [None if p is None else tuple(p) for p in v]
                                                    for k, v in figure["series"].items()}, figure["name"])


@lru_cache(maxsize=256)
def _cached_evidence(document: str, language: str) -> str:
    # Keyed by the language too: the figure's words are the reader's.
    from gauntlet.provenance import DEFAULT_ALPHA
    from gauntlet.provenance.report import render_evidence

    figure = json.loads(document)
    return render_evidence(figure["references"], figure["alpha"] if figure["alpha"] is not None else DEFAULT_ALPHA)


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
        "plot": _team_plot(store, slug, profile),
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
        "causes": store.redecision_causes(slug, round_key),
        "audits": store.round_audits(slug, round_key, viewer=_viewer(request)),
    })


@router.get("/rounds/{round_key}/audits", response_class=HTMLResponse)
def round_audits(request: Request, round_key: str, challenge: str | None = None) -> HTMLResponse:
    """Every team's independence audit of the round: verdict and p-value per reference, each
    team linked to its evidence.  Before publication a team sees only its own."""
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    audits = store.round_audits(slug, round_key, viewer=_viewer(request))
    return render(request, "audits.html", {"slug": slug, "round": round_key, "audits": audits,
                                           "challenge_name": store.leaderboard(slug)["challenge"]["name"]})


@router.get("/rounds/{round_key}/audits/{team}", response_class=HTMLResponse)
def team_audit(request: Request, round_key: str, team: str, challenge: str | None = None) -> HTMLResponse:
    """One submission's audit report as the audit wrote it: per reference, the per-module plot and
    tables, what was left out and why, the tokenizer evidence, and what the test cannot see."""
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    audits = store.round_audits(slug, round_key, viewer=_viewer(request), team_key=team)
    audit = audits[0]
    alpha = next((ref["alpha"] for ref in audit["references"] if "alpha" in ref), None)
    return render(request, "audit_report.html", {
        "slug": slug, "round": round_key, "audit": audit, "alpha": alpha,
        "evidence": Markup(_cached_evidence(json.dumps({"references": audit["references"], "alpha": alpha},
                                                       sort_keys=True), current_language())),
        "challenge_name": store.leaderboard(slug)["challenge"]["name"]})


@router.get("/api/rounds/{round_key}/audits")
def api_round_audits(request: Request, round_key: str, challenge: str | None = None) -> JSONResponse:
    """The stored audit reports of the round, as `gauntlet audit --json` writes each reference."""
    slug = challenge_slug(request, challenge)
    return JSONResponse(request.app.state.store.round_audits(slug, round_key, viewer=_viewer(request)))


@router.get("/ledger.jsonl")
def ledger_file(request: Request, challenge: str | None = None) -> Response:
    """The record as JSON Lines for `gauntlet ledger verify`: the public record (up to the first
    decision not yet published) for everyone, the whole record for organisers."""
    slug = challenge_slug(request, challenge)
    viewer = _viewer(request)
    organiser = bool(viewer) and viewer.get("role") == "organiser" and viewer.get("challenge") == slug
    return Response(request.app.state.store.export_ledger(slug, drafts=organiser), media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{slug}-ledger.jsonl"'})


@router.get("/rounds/{round_key}/bundle.json")
def round_bundle(request: Request, round_key: str, challenge: str | None = None,
                 sequence: DecisionNumber = None) -> Response:
    """The decision bundle: inputs, outputs, the sealed record and the public chain head
    (`gauntlet round replay BUNDLE --ledger ledger.jsonl` checks it)."""
    from gauntlet.rounds.bundle import make_bundle

    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    chosen = _chosen(store.round_decisions(slug, round_key), round_key, sequence)
    records = store.public_records(slug)
    record = next((r for r in records if r["hash"] == chosen["record_hash"]), None)
    if record is None:  # an earlier decision, still a draft, holds the public record back
        raise StoreError(f"decision #{chosen['sequence']} of round {round_key!r} is not in the public record yet")
    filename = f"{slug}-{round_key}-{chosen['sequence']}-bundle.json"
    return Response(canonical_json(make_bundle(record, records[-1]["hash"])) + "\n", media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _chosen(history: list[dict], round_key: str, sequence: int | None) -> dict:
    if sequence is None:
        return history[-1]
    chosen = next((d for d in history if d["sequence"] == sequence), None)
    if chosen is None:
        raise StoreError(f"round {round_key!r} has no decision #{sequence}")
    return chosen


def _decision_document(request: Request, round_key: str, challenge: str | None, sequence: int | None,
                       part: str) -> Response:
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    chosen = _chosen(store.round_decisions(slug, round_key), round_key, sequence)
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
