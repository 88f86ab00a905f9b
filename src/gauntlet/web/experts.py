"""An expert's page: only their own anonymous assignments, the bilingual rubric,
and a form to score each criterion: saved as a draft any number of times (seen
again by that expert only, never counted), then submitted once.  Recusal is enforced by the store on every
read and write (`Store.review_material`, `Store.record_review`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gauntlet.errors import InputError
from gauntlet.i18n import _, localized
from gauntlet.web.common import form_fields, now, render
from gauntlet.web.security import check_csrf, require_role

router = APIRouter()


@router.get("/expert", response_class=HTMLResponse)
def expert_home(request: Request) -> HTMLResponse:
    who = require_role(request, "expert")
    queue = request.app.state.store.expert_queue(who["challenge"], who["subject"])
    return render(request, "expert_queue.html", {"queue": queue, "done": sum(q["reviewed"] for q in queue)})


@router.get("/expert/reviews/{round_key}/{code}", response_class=HTMLResponse)
def review_page(request: Request, round_key: str, code: str) -> HTMLResponse:
    who = require_role(request, "expert")
    material = request.app.state.store.review_material(who["challenge"], who["subject"], round_key, code)
    return render(request, "expert_review.html", {"m": material})


def _scores(fields: dict, material: dict, *, complete: bool) -> dict[str, float]:
    scores = {}
    for c in material["rubric"].criteria:
        raw = fields.get(f"score_{c.key}", "").strip()
        if not raw:
            if complete:
                raise InputError(_("give a score for %(criterion)s", criterion=localized(ko=c.name_ko, en=c.name_en)))
            continue
        try:
            scores[c.key] = float(raw)
        except ValueError:
            raise InputError(_("%(criterion)s must be a number from %(low)s to %(high)s", criterion=c.key, low=c.scale_min, high=c.scale_max)) from None
    return scores


@router.post("/expert/reviews/{round_key}/{code}")
def submit_review(request: Request, round_key: str, code: str, fields: dict = Depends(form_fields)):
    """`action=draft` keeps the scores given so far; anything else (the default) submits the review."""
    who = require_role(request, "expert")
    check_csrf(request, fields, who)
    store = request.app.state.store
    material = store.review_material(who["challenge"], who["subject"], round_key, code)
    drafting = fields.get("action") == "draft"
    scores = _scores(fields, material, complete=not drafting)
    if drafting:
        store.save_review_draft(who["challenge"], who["subject"], round_key, code, scores,
                                fields.get("comment", ""), at=now(request))
    else:
        store.record_review(who["challenge"], who["subject"], round_key, code, scores,
                            fields.get("comment", ""), now(request))
    if who["via"] == "bearer":
        return JSONResponse({"review": code, "round": round_key, "stored": "draft" if drafting else "submitted"},
                            status_code=200 if drafting else 201)
    if drafting:
        return RedirectResponse(f"/expert/reviews/{round_key}/{code}?saved=1", status_code=303)
    return RedirectResponse("/expert", status_code=303)
