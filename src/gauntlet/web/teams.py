"""A team's own page: its submissions with their results (its own, before
publication too), every job's state (and a retry for failed ones), and its
appeals, filed on the record through the same service as the CLI's."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gauntlet.errors import StoreError
from gauntlet.store.access import AccessDenied
from gauntlet.web.common import challenge_slug, form_fields, now, render, round_context
from gauntlet.web.security import check_csrf, identify, require_role

router = APIRouter()


def _rounds_open_for_appeal(store, slug: str, team: str, at) -> list[dict]:
    open_rounds = []
    for rnd in store.rounds(slug):
        window = store.appeal_window(slug, rnd["key"]) if rnd["decisions"] else None
        if window and datetime.fromisoformat(window["opens"]) <= at <= datetime.fromisoformat(window["closes"]):
            open_rounds.append({**rnd, "closes": window["closes"]})
    return open_rounds


def _submitting(request: Request, slug: str, team: str) -> dict:
    """What the page's submission forms need: the rounds taking submissions, and the team's tries."""
    from gauntlet.artifacts.intakes import Intakes
    from gauntlet.web.submissions import open_rounds

    root = request.app.state.workspace and request.app.state.workspace.root
    if root is None:
        return {"intakes": [], "open_rounds": [], "accepts_uploads": False, "reads_locations": False}
    return {"intakes": Intakes(root).of_team(slug, team), "open_rounds": open_rounds(round_context(request, slug), now(request)),
            "accepts_uploads": True, "reads_locations": bool(request.app.state.submission_roots),
            "roots": [r.replace("{team}", team) for r in request.app.state.submission_roots]}


@router.get("/team", response_class=HTMLResponse)
def team_dashboard(request: Request) -> HTMLResponse:
    who = require_role(request, "team")
    store = request.app.state.store
    slug, team = who["challenge"], who["subject"]
    jobs = store.jobs(slug, team=team)
    return render(request, "team_dashboard.html", {
        "slug": slug, "team": store.team_profile(slug, team, viewer=who), "jobs": jobs,
        "retrying": request.query_params.get("retrying"),
        **_submitting(request, slug, team),
        "busy": any(j["state"] in ("queued", "running") for j in jobs),
        "appeals": store.appeals(slug, team=team),
        "appealable": _rounds_open_for_appeal(store, slug, team, now(request)),
    })


def round_results(request: Request, team: str, round_key: str, challenge: str | None) -> dict:
    """One team's submission and results in one round: anyone's once the round's decision is
    published; before that the team's own and the organisers' only (403 to everyone else)."""
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    viewer = identify(request)
    profile = store.team_profile(slug, team, viewer=viewer)
    sub = next((s for s in profile["submissions"] if s["round"] == round_key), None)
    if sub is None:
        raise StoreError(f"team {team[:100]!r} has no submission in round {round_key[:100]!r}")
    insider = viewer is not None and viewer["challenge"] == slug and (
        viewer["role"] == "organiser" or (viewer["role"] == "team" and viewer["subject"] == team))
    if not sub["published"] and not insider:
        raise AccessDenied(f"the results of round {round_key[:100]!r} are published with its decision; until then "
                           "only the team and the organisers see them")
    return {"slug": slug, "team": {k: profile[k] for k in ("key", "name", "organisation")}, "submission": sub}


@router.get("/teams/{team}/rounds/{round_key}", response_class=HTMLResponse)
def results_page(request: Request, team: str, round_key: str, challenge: str | None = None) -> HTMLResponse:
    return render(request, "team_results.html", round_results(request, team, round_key, challenge))


@router.get("/api/teams/{team}/rounds/{round_key}")
def results_api(request: Request, team: str, round_key: str, challenge: str | None = None) -> dict:
    """A team's submission and results in a round (before publication: the team and organisers only)."""
    found = round_results(request, team, round_key, challenge)
    return {"team": found["team"], **found["submission"]}


@router.get("/api/team/jobs")
def team_jobs(request: Request) -> JSONResponse:
    who = require_role(request, "team")
    return JSONResponse({"jobs": request.app.state.store.jobs(who["challenge"], team=who["subject"])})


@router.post("/team/jobs/{job_key}/retry")
def retry_job(request: Request, job_key: str, fields: dict = Depends(form_fields)):
    """Ask for a failed job to run again. Where this server ran the job's stage from the
    organisers' console, that stage runs again now with the same inputs (only what did not
    finish); otherwise the request waits, shown on the organisers' console, until they rerun
    the stage there or with the CLI."""
    from gauntlet.web.organiser_rounds import context

    who = require_role(request, "team")
    check_csrf(request, fields, who)
    store = request.app.state.store
    store.request_retry(who["challenge"], job_key, f"team:{who['subject']}", team=who["subject"], at=now(request))
    run = None
    if request.app.state.workspace is not None:
        job = next(j for j in store.jobs(who["challenge"], team=who["subject"]) if j["key"] == job_key)
        run = request.app.state.stages.rerun_for(context(request, who), job, now(request))
    if who["via"] == "bearer":
        return JSONResponse({"job": job_key, "retry_requested": True, "rerun": run.to_dict() if run else None,
                             "waiting_for_organisers": run is None})
    return RedirectResponse("/team?retrying=" + quote(job_key) if run else "/team", status_code=303)


@router.post("/team/appeals")
def file_appeal(request: Request, fields: dict = Depends(form_fields)):
    who = require_role(request, "team")
    check_csrf(request, fields, who)
    from gauntlet.rounds import service

    store = request.app.state.store
    appeal_id = service.appeal(store, service.spec_of(store, who["challenge"]), who["subject"], fields.get("round", ""),
                               fields.get("grounds", ""), now(request))
    if who["via"] == "bearer":
        return JSONResponse({"appeal": appeal_id}, status_code=201)
    return RedirectResponse("/team#appeals", status_code=303)
