"""The organisers' console: each round's phase with its actions and stages
(`gauntlet.web.organiser_rounds`), jobs refreshed live, what needs a human look
(inconclusive audits, too-close-to-call decisions, low-agreement rubric criteria,
anomalous voters), drafts, appeals to answer, the panel's progress, and role tokens."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gauntlet.errors import GauntletError, InputError
from gauntlet.i18n import STAGES, _, label
from gauntlet.ratings.panel import PanelAssignment, Submission, rubric_from_dict
from gauntlet.ratings.panel_scoring import Review, score_panel
from gauntlet.rounds.arena_desk import voter_alias
from gauntlet.web.common import RecordId, form_fields, now, render, whole_number
from gauntlet.web.security import check_csrf, require_role

router = APIRouter()
PANEL_BOOTSTRAP = 200  # enough for an overview; the round engine draws its own


def _memo(request: Request, key: tuple, version, compute):
    """`compute()` once per `version` of what it reads (append-only logs: votes, reviews):
    the console's two heaviest reads would otherwise be redone on every page load."""
    cache = request.app.state.__dict__.setdefault("organiser_memo", {})
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = compute()
    cache[key] = (version, value)
    return value


def arena_review(request: Request, slug: str, round_key: str):
    """The desk's review of every vote of the round, redone only when a vote or answer was added."""
    store, desk = request.app.state.store, request.app.state.arena
    cache = request.app.state.__dict__.setdefault("organiser_memo", {})
    last = cache.get(("review", slug, round_key), (None, None))[0]
    last_vote = last[1] if last else 0
    fresh = store.arena_votes(slug, round_key, after=last_vote)
    version = (store.arena_version(slug, round_key), fresh[-1].sequence if fresh else last_vote)
    return _memo(request, ("review", slug, round_key), version, lambda: desk.review(slug, round_key))


def panel_summary(panel: dict, request: Request | None = None) -> dict:
    if request is not None:
        version = hashlib.sha256(json.dumps(panel, sort_keys=True, default=str).encode()).hexdigest()
        return _memo(request, ("panel", panel["round"]), version, lambda: panel_summary(panel))
    """Progress of one round's panel and, once every review is in, its scores and
    per-criterion agreement (Krippendorff's alpha, flagged below 0.667)."""
    rubric = rubric_from_dict(panel["rubric"])
    entries = panel["entries"]
    needed = sum(len(e["reviewers"]) for e in entries)
    done = sum(len(e["reviews"]) for e in entries)
    summary = {"round": panel["round"], "k": panel["k"], "entries": entries, "needed": needed, "done": done,
               "rubric": rubric, "result": None, "error": None}
    if entries and done == needed:
        assignment = PanelAssignment(codes={e["team"]: e["code"] for e in entries},
                                     reviewers={e["code"]: tuple(e["reviewers"]) for e in entries},
                                     k=panel["k"], max_load=0, submissions=tuple(Submission(e["team"]) for e in entries))
        reviews = [Review(r["expert"], e["code"], r["scores"]) for e in entries for r in e["reviews"]]
        try:
            summary["result"] = score_panel(rubric, assignment, reviews, bootstrap=PANEL_BOOTSTRAP)
        except GauntletError as exc:
            summary["error"] = str(exc)
    return summary


def flagged_items(store, slug: str, rounds: list[dict], panels: list[dict], arena: dict | None) -> list[dict]:
    flags = []
    for rnd in rounds:
        if not rnd["submissions"]:
            continue
        for sub in store.round_submissions(slug, rnd["key"]):  # one query a round, not one a team
            for audit in sub["audits"]:
                if audit["verdict"] == "inconclusive":
                    flags.append({"kind": "audit", "round": rnd["key"],
                                  "what": _("independence audit of %(team)s against %(reference)s is inconclusive "
                                            "(p = %(p)s): the panel should look", team=sub["team"],
                                            reference=audit["reference"], p=format(audit["p_value"], ".2g"))})
    for rnd in rounds:
        if rnd["decisions"]:
            latest = store.round_decisions(slug, rnd["key"], drafts=True)[-1]
            draft = latest["published_at"] is None
            for team in (latest["outputs"].get("uncertainty") or {}).get("close_calls") or ():
                flags.append({"kind": "close", "round": rnd["key"],
                              "what": (_("%(team)s's outcome is too close to call (draft, not published): its margin is inside the noise",
                                         team=team) if draft else
                                       _("%(team)s's outcome is too close to call: its margin is inside the noise",
                                         team=team))})
    for panel in panels:
        if panel["result"] is not None:
            for rel in panel["result"].reliability:
                if rel.flagged:
                    flags.append({"kind": "agreement", "round": panel["round"],
                                  "what": _("rubric criterion %(criterion)s: low agreement between experts "
                                            "(Krippendorff's alpha %(alpha)s < 0.667)", criterion=rel.key,
                                            alpha=format(rel.alpha, ".2f"))})
    if arena is not None:
        for voter, anomaly in arena["review"].anomalous_voters.items():
            flags.append({"kind": "voter", "round": arena["round"],
                          "what": _("voter %(voter)s is anomalous (%(test)s test, statistic %(statistic)s after %(votes)s "
                                    "votes); their votes do not count", voter=voter_alias(voter), test=anomaly.test,
                                    statistic=format(anomaly.statistic, ".1f"), votes=anomaly.after_votes)})
    return flags


@router.get("/organiser", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """The console. Each store read happens once (the arena's vote review, the heaviest, too);
    the jobs table refreshes itself from /api/organiser/jobs."""
    from gauntlet.rounds.stage_runs import DEFAULT_INPUTS, JOB_KINDS
    from gauntlet.web.organiser_rounds import context, round_phases

    who = require_role(request, "organiser")
    store, slug = request.app.state.store, who["challenge"]
    ctx = context(request, who, workspace_needed=False)
    panels = [panel_summary(p, request) for p in store.panel_rounds(slug)]
    jobs = store.jobs(slug)
    counts = {s: sum(1 for j in jobs if j["state"] == s) for s in ("queued", "running", "done", "failed")}
    by_key = {j["key"]: j for j in jobs}
    retries = [{**by_key[key], "stage": JOB_KINDS.get(by_key[key]["kind"])} for key in store.pending_retries(slug)]
    arena_round = store.arena_round(slug)
    arena = None
    if arena_round is not None:
        review = arena_review(request, slug, arena_round)
        arena = {"round": arena_round, "accepted": len(review.accepted), "excluded": len(review.excluded),
                 "reasons": review.reasons(), "teams": store.arena_teams(slug, arena_round), "review": review}
    rounds = store.rounds(slug, drafts=True)
    assigned = {p["round"] for p in panels}
    return render(request, "organiser.html", {
        "slug": slug, "challenge_name": ctx.spec.name, "rounds": rounds,
        "phases": round_phases(ctx, now(request)), "jobs": jobs, "job_counts": counts, "retries": retries,
        "stage_runs": request.app.state.stages.runs(slug), "has_workspace": ctx.workspace is not None,
        "references": [r.id for r in ctx.spec.independence.references], "defaults": DEFAULT_INPUTS,
        "drafts": _drafts(store, slug, rounds),
        "flags": flagged_items(store, slug, rounds, panels, arena), "appeals": store.appeals(slug),
        "panels": panels, "unassigned": [r for r in rounds if r["submissions"] and r["key"] not in assigned],
        "arena": arena, "tokens": store.tokens(slug), "experts": store.experts(slug),
        "teams": store.team_names(slug), "board_words": board_words(),
    })


def board_words() -> dict:
    """What the job board's script shows for the codes it polls, in the reader's language."""
    from gauntlet.store.team_records import JOB_STATES

    return {"states": {s: label(s) for s in JOB_STATES}, "kinds": {k: label(k, STAGES) for k in STAGES},
            "retry": _("Retry"), "retry_requested": _("retry requested")}


def _drafts(store, slug: str, rounds: list[dict]) -> list[dict]:
    """Each round's unpublished decision with its survival probabilities and close calls; its
    page (/organiser/rounds/<round>/draft) has the what-ifs."""
    drafts = []
    for rnd in rounds:
        if not rnd["decisions"]:
            continue
        latest = store.round_decisions(slug, rnd["key"], drafts=True)[-1]
        if latest["published_at"] is None:
            unc = (latest["outputs"].get("uncertainty") or {})
            drafts.append({"round": rnd["key"], "sequence": latest["sequence"], "outputs": latest["outputs"],
                           "survival": {t: v.get("survival_probability") for t, v in (unc.get("teams") or {}).items()},
                           "close_calls": unc.get("close_calls") or []})
    return drafts


def _done(request: Request, who: dict, document: dict, anchor: str = ""):
    if who["via"] == "bearer" or request.url.path.startswith("/api/"):
        return JSONResponse(document)
    return RedirectResponse(f"/organiser{anchor}", status_code=303)


@router.post("/organiser/appeals/{appeal_id}/answer")
@router.post("/api/organiser/appeals/{appeal_id}/answer")
def answer_appeal(request: Request, appeal_id: RecordId, fields: dict = Depends(form_fields)):
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    verdict = fields.get("upheld", "")
    if verdict not in ("yes", "no"):
        raise InputError(_("say whether the appeal is upheld: upheld=yes or upheld=no"))
    from gauntlet.rounds import service

    store = request.app.state.store
    service.answer(store, service.spec_of(store, who["challenge"]), appeal_id, verdict == "yes",
                   fields.get("answer", ""), now(request))
    return _done(request, who, {"appeal": appeal_id, "upheld": verdict == "yes"}, "#appeals")


@router.post("/organiser/panel")
def assign_panel(request: Request, fields: dict = Depends(form_fields)):
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    k_text = fields.get("k", "").strip()
    k = whole_number(k_text, "k (reviews per submission)", maximum=10_000) if k_text else None
    reviewers = request.app.state.store.assign_panel(who["challenge"], fields.get("round", ""), at=now(request), k=k)
    return _done(request, who, {"assigned": {code: list(ids) for code, ids in reviewers.items()}}, "#panel")


@router.post("/organiser/tokens", response_class=HTMLResponse)
def issue_token(request: Request, fields: dict = Depends(form_fields)):
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    role = fields.get("role", "")
    subject = fields.get("subject", "").strip() or None
    token = request.app.state.store.create_token(who["challenge"], role, subject, fields.get("label", "").strip(),
                                                 at=now(request))
    if who["via"] == "bearer":
        return JSONResponse({"token": token, "role": role, "subject": subject}, status_code=201)
    return render(request, "token_issued.html", {"token": token, "role": role, "subject": subject})


@router.post("/organiser/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: RecordId, fields: dict = Depends(form_fields)):
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    store = request.app.state.store
    if not any(t["id"] == token_id for t in store.tokens(who["challenge"])):
        raise InputError(f"no token #{token_id} in this challenge")
    store.revoke_token(token_id, at=now(request))
    return _done(request, who, {"revoked": token_id}, "#tokens")
