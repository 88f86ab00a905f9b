"""The JSON API: what the pages show, for scripts.  Each route reads what its page reads,
with the same rule of who sees what: published decisions and results for everyone, a team's
own unpublished results for that team, drafts for organisers, an expert's own queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gauntlet.errors import StoreError
from gauntlet.web.common import DecisionNumber, challenge_slug
from gauntlet.web.security import identify, require_role

router = APIRouter(prefix="/api")


def _viewer(request: Request) -> dict | None:
    """The role asking; an unknown token is a 401 here, as on every API route that needs one."""
    return identify(request)


def _organiser_of(viewer: dict | None, slug: str) -> bool:
    return bool(viewer) and viewer["role"] == "organiser" and viewer["challenge"] == slug


@router.get("/rounds")
def rounds(request: Request, challenge: str | None = None) -> list[dict[str, Any]]:
    """The challenge's rounds with their counts of decisions (drafts too, for its organisers)."""
    slug = challenge_slug(request, challenge)
    return request.app.state.store.rounds(slug, drafts=_organiser_of(_viewer(request), slug))


@router.get("/rounds/{round_key}/decisions")
def decisions(request: Request, round_key: str, challenge: str | None = None) -> list[dict[str, Any]]:
    """Every decision of the round, oldest first, with its inputs and outputs: the original and
    each re-decision (published ones; organisers see drafts too)."""
    slug = challenge_slug(request, challenge)
    return request.app.state.store.round_decisions(slug, round_key, drafts=_organiser_of(_viewer(request), slug))


@router.get("/rounds/{round_key}/decision")
def decision(request: Request, round_key: str, challenge: str | None = None,
             sequence: DecisionNumber = None) -> dict[str, Any]:
    """The round's decision in force (or decision `sequence`) as the round page shows it."""
    slug = challenge_slug(request, challenge)
    return request.app.state.store.round_board(slug, round_key, sequence,
                                               drafts=_organiser_of(_viewer(request), slug))


@router.get("/rounds/{round_key}/audits")
def audits(request: Request, round_key: str, challenge: str | None = None) -> list[dict[str, Any]]:
    """The independence audits of the round's submissions: every team's once the round's
    decision is published; before that only the asking team's own (organisers: all)."""
    store = request.app.state.store
    slug = challenge_slug(request, challenge)
    viewer = _viewer(request)
    if round_key not in {r["key"] for r in store.rounds(slug)}:
        raise StoreError(f"no round {round_key[:100]!r} in {slug!r}")
    found = []
    for team in store.team_names(slug):
        for sub in store.team_profile(slug, team, viewer=viewer)["submissions"]:
            if sub["round"] == round_key:
                found += [{"team": team, "manifest_sha256": sub["manifest_sha256"], "published": sub["published"],
                           **a} for a in sub["audits"]]
    return found


@router.get("/team")
def team(request: Request) -> dict[str, Any]:
    """The signed-in team's page: its record with its own unpublished results, jobs, appeals
    and submission tries (intakes)."""
    from gauntlet.artifacts.intakes import Intakes

    who = require_role(request, "team")
    store, slug, key = request.app.state.store, who["challenge"], who["subject"]
    root = request.app.state.workspace and request.app.state.workspace.root
    intakes = Intakes(root).of_team(slug, key) if root is not None else []
    return {"team": store.team_profile(slug, key, viewer=who), "jobs": store.jobs(slug, team=key),
            "appeals": store.appeals(slug, team=key),
            "intakes": [{k: v for k, v in i.items() if k not in ("challenge", "team")} for i in intakes]}


@router.get("/team/appeals")
def team_appeals(request: Request) -> list[dict[str, Any]]:
    """The signed-in team's appeals with their answers."""
    who = require_role(request, "team")
    return request.app.state.store.appeals(who["challenge"], team=who["subject"])


@router.get("/expert/queue")
def expert_queue(request: Request) -> list[dict[str, Any]]:
    """The signed-in expert's own assignments: round, anonymous code, reviewed or not."""
    who = require_role(request, "expert")
    return request.app.state.store.expert_queue(who["challenge"], who["subject"])
