"""The organisers' console for a round's life: close it, run its stages, decide,
inspect the draft with what-ifs, publish, re-decide after an upheld appeal, and
close or reopen its arena.

Every action is a POST, CSRF-checked for a signed-in browser, for organisers
only; each exists twice, at `/organiser/...` (a form: it answers with a
redirect, or JSON to a bearer token) and at `/api/organiser/...` (JSON). The
record's events go through the same functions as the CLI:
`gauntlet.rounds.service` via `pipeline`, `round_decision`, `publication`
and `redecision`; the stages run in the background (`gauntlet.rounds.stage_runs`).

What opening and closing a round mean here (`gauntlet.domain.lifecycle`): the
spec sets each round's dates, so no event opens one.  A round is *waiting*
until every earlier round has a published decision, then *open* for
submissions until its deadline.  *Closing* it is the lock event (allowed at
or after the deadline): its submissions are frozen, its stages may run, and
its arena opens once the arena answers are stored.  Then it is *decided*
(a draft only organisers see) and *published*.  The arena is closed by the
decision and can be closed or reopened by hand, each time with its reason.
"""

from __future__ import annotations

import math
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gauntlet.errors import InputError
from gauntlet.rounds.workspace import RoundContext
from gauntlet.web.common import form_fields, now, render, round_context, whole_number
from gauntlet.web.security import check_csrf, require_role

router = APIRouter()
POLICY_KEYS = {"eliminate_lowest": int, "advance_at_most": int, "winners": int, "min_total": float}
ALLOCATIONS = ("equal", "score_weighted")
MAX_CORRECTIONS = 50
CONSOLE_JS = Path(__file__).parent / "assets" / "organiser.js"


def context(request: Request, who: dict, *, workspace_needed: bool = True) -> RoundContext:
    """The organiser's challenge as the CLI sees it (`common.round_context`)."""
    return round_context(request, who["challenge"], workspace_needed=workspace_needed)


def _organiser(request: Request, fields: dict) -> dict:
    who = require_role(request, "organiser")
    check_csrf(request, fields, who)
    return who


def _done(request: Request, who: dict, document: dict, target: str, status: int = 200):
    if who["via"] == "bearer" or request.url.path.startswith("/api/"):
        return JSONResponse(document, status_code=status)
    return RedirectResponse(target, status_code=303)


def round_phases(ctx: RoundContext, at) -> list[dict]:
    """Each round of the spec with its phase (waiting, open, closed, decided, published) now."""
    state = ctx.state()
    rows, earlier_published = [], True
    for rnd in ctx.spec.rounds:
        history = state.history(rnd.id)
        if state.draft(rnd.id) is not None:
            phase = "decided"
        elif history:
            phase = "published"
        elif rnd.id in state.locked:
            phase = "closed"
        elif not earlier_published:
            phase = "waiting"
        else:
            phase = "open" if at < rnd.submission_deadline else "due"  # due: past the deadline, not closed yet
        rows.append({"key": rnd.id, "name": rnd.name, "phase": phase, "deadline": rnd.submission_deadline.isoformat(),
                     "submissions": sum(1 for (r, _) in state.submissions if r == rnd.id),
                     "decisions": len(history), "arena": _arena_state(ctx, rnd.id)})
        earlier_published = earlier_published and state.in_force(rnd.id) is not None
    return rows


def _arena_state(ctx: RoundContext, round_id: str) -> dict | None:
    if not ctx.store.arena_teams(ctx.slug, round_id):
        return None
    state = ctx.store.arena_state(ctx.slug, round_id)
    return {**state, "at": state["at"].isoformat() if state["at"] else None}


# ----------------------------------------------------------------------------- closing a round


@router.post("/organiser/rounds/{round_key}/close")
@router.post("/api/organiser/rounds/{round_key}/close")
def close_round(request: Request, round_key: str, fields: dict = Depends(form_fields)):
    """Close the round's submissions: the lock event (refused before the deadline)."""
    from gauntlet.rounds import service

    who = _organiser(request, fields)
    ctx = context(request, who)
    locked = service.lock(ctx.store, ctx.spec, ctx.round(round_key).id, now(request))
    return _done(request, who, {"round": round_key, "closed": True, "newly": locked}, f"/organiser#round-{round_key}")


# ----------------------------------------------------------------------------- stages


@router.post("/organiser/rounds/{round_key}/stages/{stage}")
@router.post("/api/organiser/rounds/{round_key}/stages/{stage}")
def start_stage(request: Request, round_key: str, stage: str, fields: dict = Depends(form_fields)):
    """Start a stage (audit, evaluate, arena) in the background; its jobs show on /api/organiser/jobs."""
    who = _organiser(request, fields)
    run = request.app.state.stages.start(context(request, who), round_key, stage, fields, now(request))
    return _done(request, who, run.to_dict(), "/organiser#jobs", status=202)


@router.post("/organiser/rounds/{round_key}/stages/{stage}/retry")
@router.post("/api/organiser/rounds/{round_key}/stages/{stage}/retry")
def retry_stage(request: Request, round_key: str, stage: str, fields: dict = Depends(form_fields)):
    """Run a stage again with the inputs of its last run here (else the defaults): the jobs
    that finished are skipped, the failed ones run again."""
    who = _organiser(request, fields)
    last = request.app.state.stages.last(who["challenge"], round_key, stage)
    inputs = {**(last.inputs if last else {}), **{k: v for k, v in fields.items() if k != "csrf"}}
    run = request.app.state.stages.start(context(request, who), round_key, stage, inputs, now(request))
    return _done(request, who, run.to_dict(), "/organiser#jobs", status=202)


@router.get("/api/organiser/jobs")
def jobs(request: Request) -> JSONResponse:
    """Every job with its state and progress, the stage runs of this server, and the counts:
    what the console polls to refresh its table."""
    from gauntlet.rounds.stage_runs import JOB_KINDS

    who = require_role(request, "organiser")
    slug = who["challenge"]
    rows = request.app.state.store.jobs(slug)
    for row in rows:
        row["stage"] = JOB_KINDS.get(row["kind"])
    counts = {s: sum(1 for j in rows if j["state"] == s) for s in ("queued", "running", "done", "failed")}
    return JSONResponse({"jobs": rows, "counts": counts, "stages": request.app.state.stages.runs(slug)})


@router.get("/api/organiser/rounds")
def rounds(request: Request) -> JSONResponse:
    who = require_role(request, "organiser")
    return JSONResponse({"rounds": round_phases(context(request, who, workspace_needed=False), now(request))})


# ----------------------------------------------------------------------------- the decision


@router.post("/organiser/rounds/{round_key}/decide")
@router.post("/api/organiser/rounds/{round_key}/decide")
def decide(request: Request, round_key: str, fields: dict = Depends(form_fields)):
    """Draft the round's decision from what the store holds (`gauntlet challenge decide`)."""
    from gauntlet.rounds.round_decision import decide_round

    who = _organiser(request, fields)
    seed_text = (fields.get("seed") or "0").strip()
    seed = whole_number(seed_text, "seed", maximum=2**32 - 1)
    result = decide_round(context(request, who), round_key, now=now(request), seed=seed,
                          allow_missing=fields.get("allow_missing", "") in ("yes", "true", "on", "1"))
    return _done(request, who, {"round": round_key, "sequence": result.sequence, "status": "draft",
                                "record_hash": result.record_hash, "gaps": list(result.gaps)},
                 f"/organiser/rounds/{round_key}/draft", status=201)


def scenario_of(query, weights: dict) -> dict:
    """A what-if scenario from the query: `weight.<component>=N`, `eliminate_lowest`,
    `advance_at_most`, `winners`, `min_total`, `allocation` (only the ones given)."""
    scenario: dict = {}
    for name, value in query.items():
        value = value.strip()
        if not value:
            continue
        if name.startswith("weight."):
            component = name[len("weight."):]
            if component not in weights:
                raise InputError(f"{name}: the decision weighs {', '.join(weights)}, not {component!r}")
            scenario.setdefault("weights", {})[component] = _number(value, name, float)
        elif name in POLICY_KEYS:
            scenario[name] = _number(value, name, POLICY_KEYS[name])
        elif name == "allocation":
            if value not in ALLOCATIONS:
                raise InputError(f"allocation must be one of {', '.join(ALLOCATIONS)}")
            scenario["allocation_policy"] = value
    if scenario.get("weights") == {k: float(v) for k, v in weights.items() if k in scenario.get("weights", {})}:
        scenario.pop("weights")  # the form echoes the weights in force: no change is no scenario
    return scenario


def _number(text: str, what: str, kind: type):
    try:
        value = kind(text)
    except ValueError:
        raise InputError(f"{what}: expected {'a whole number' if kind is int else 'a number'}, got {text[:40]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 10_000:
        raise InputError(f"{what}: expected a number from 0 to 10,000, got {text[:40]!r}")
    return value


def draft_view(ctx: RoundContext, round_key: str, query) -> dict:
    """The round's latest decision (a draft, or the one in force) with its survival
    probabilities, close calls, sensitivity, and the what-if of the query beside it."""
    from gauntlet.rounds.decisions import sensitivity, what_if

    ctx.round(round_key)
    decisions = ctx.store.round_decisions(ctx.slug, round_key, drafts=True)
    latest = decisions[-1]
    inputs, outputs = latest["inputs"], latest["outputs"]
    uncertainty = outputs.get("uncertainty") or {}
    scenario = scenario_of(query, inputs["weights"])
    result = what_if(inputs, scenario, source=f"decision #{latest['sequence']}") if scenario else None
    after = {r["team"]: r for r in result["after"]["ranking"]} if result else {}
    after_unc = ((result["after"].get("uncertainty") or {}).get("teams") or {}) if result else {}
    from gauntlet.domain.whatif import outcome_of

    rows = []
    for row in outputs["ranking"]:
        team = row["team"]
        rows.append({"team": team, "rank": row["rank"], "total": row["total"], "outcome": outcome_of(outputs, team),
                     "survival": (uncertainty.get("teams") or {}).get(team, {}).get("survival_probability"),
                     "close_call": team in (uncertainty.get("close_calls") or ()),
                     "what_if": None if not result else {
                         "rank": after[team]["rank"], "total": after[team]["total"],
                         "outcome": outcome_of(result["after"], team),
                         "survival": after_unc.get(team, {}).get("survival_probability")}})
    return {"round": round_key, "sequence": latest["sequence"], "status": "published" if latest["published_at"]
            else "draft", "record_hash": latest["record_hash"], "weights": inputs["weights"],
            "policy": {k: inputs.get(k) for k in (*POLICY_KEYS, "allocation_policy") if inputs.get(k) is not None},
            "ranking": rows, "close_calls": list(uncertainty.get("close_calls") or ()),
            "sensitivity": sensitivity(inputs, source=f"decision #{latest['sequence']}"),
            "scenario": scenario, "changes": result["changes"] if result else [],
            "outcomes_changed": result["outcomes_changed"] if result else 0}


@router.get("/organiser/rounds/{round_key}/draft", response_class=HTMLResponse)
def draft_page(request: Request, round_key: str) -> HTMLResponse:
    who = require_role(request, "organiser")
    ctx = context(request, who)
    view = draft_view(ctx, round_key, request.query_params)
    filed = ctx.state().appeals
    appeals = [a for a in ctx.store.appeals(ctx.slug)
               if a["round"] == round_key and a["upheld"] and not filed[a["id"]].redecided]
    return render(request, "organiser_draft.html", {"draft": view, "query": dict(request.query_params),
                                                    "upheld": appeals, "slug": ctx.slug})


@router.get("/api/organiser/rounds/{round_key}/draft")
def draft_document(request: Request, round_key: str) -> JSONResponse:
    """The latest decision of the round with what-if (same query as the page)."""
    who = require_role(request, "organiser")
    return JSONResponse(draft_view(context(request, who), round_key, request.query_params))


@router.post("/organiser/rounds/{round_key}/publish")
@router.post("/api/organiser/rounds/{round_key}/publish")
def publish(request: Request, round_key: str, fields: dict = Depends(form_fields)):
    """Publish the round's draft and build its report folder, exactly as `gauntlet challenge
    publish` does (`publish_round`: atomic, and a rerun completes a half-built one)."""
    from gauntlet.rounds.publication import publish_round, rebuild

    who = _organiser(request, fields)
    ctx = context(request, who)
    if ctx.state().draft(ctx.round(round_key).id) is None:
        # Publishing twice is refused; what a crash left unbuilt is completed all the same.
        rebuilt = rebuild(ctx)
        raise InputError(f"round {round_key!r} has no unpublished decision to publish"
                         + (f" (its {len(rebuilt)} missing report folder(s) were rebuilt)" if rebuilt else ""))
    result = publish_round(ctx, round_key, now=now(request))
    return _done(request, who, {"round": round_key, "sequence": result.sequence, "record_hash": result.record_hash,
                                "ledger_head": result.ledger_head,
                                "report": str(result.report.relative_to(ctx.workspace.root))},
                 f"/rounds/{round_key}?challenge={ctx.slug}")


@router.post("/organiser/rounds/{round_key}/redecide")
@router.post("/api/organiser/rounds/{round_key}/redecide")
def redecide(request: Request, round_key: str, fields: dict = Depends(form_fields)):
    """Draft a re-decision after an upheld appeal: `appeal` and `corrections`, one
    TEAM.FIELD=VALUE per line (as `gauntlet challenge redecide --correct`)."""
    from gauntlet.rounds.redecision import parse_corrections, redecide_round

    who = _organiser(request, fields)
    appeal = whole_number((fields.get("appeal") or "").strip(), "appeal", maximum=2**63 - 1)
    lines = [line.strip() for line in (fields.get("corrections") or "").splitlines() if line.strip()]
    if len(lines) > MAX_CORRECTIONS:
        raise InputError(f"at most {MAX_CORRECTIONS} corrections at once")
    sequence, record, replaces = redecide_round(context(request, who), round_key, appeal, parse_corrections(lines),
                                                now=now(request))
    return _done(request, who, {"round": round_key, "appeal": appeal, "sequence": sequence, "status": "draft",
                                "replaces": replaces, "record_hash": record["hash"]},
                 f"/organiser/rounds/{round_key}/draft", status=201)


# ----------------------------------------------------------------------------- the arena


@router.post("/organiser/rounds/{round_key}/arena/{action}")
@router.post("/api/organiser/rounds/{round_key}/arena/{action}")
def arena_state(request: Request, round_key: str, action: str, fields: dict = Depends(form_fields)):
    """Close or reopen the round's arena: an event of the record with its reason."""
    who = _organiser(request, fields)
    if action not in ("close", "reopen"):
        raise InputError(f"the arena can be closed or reopened, not {action[:40]!r}")
    reason = (fields.get("reason") or "").strip()
    if not reason or len(reason) > 500:
        raise InputError("say why, in at most 500 characters (reason)")
    ctx = context(request, who)
    ctx.round(round_key)
    if not ctx.store.arena_teams(ctx.slug, round_key):
        raise InputError(f"round {round_key!r} has no arena yet: run its arena answers stage first")
    record = request.app.state.arena.set_state(ctx.slug, round_key, "closed" if action == "close" else "open",
                                               reason=reason, at=now(request))
    return _done(request, who, {"round": round_key, "arena": _arena_state(ctx, round_key), "record": record["hash"]},
                 f"/organiser#round-{round_key}")


@router.get("/organiser/console.js", include_in_schema=False)
def console_script() -> Response:
    """The console's job board script (a file of its own: the pages' CSP allows no inline script)."""
    return Response(CONSOLE_JS.read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})
