"""What every page handler needs: templates, the clock, the challenge asked for,
form bodies, and bilingual labels."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from gauntlet.errors import InputError, StoreError
from gauntlet.files import parse_json

TEMPLATES = Path(__file__).parent / "templates"
COMPONENTS = ("benchmark", "expert", "user")
MAX_FORM_BYTES = 64 * 1024
MAX_RECORD_ID = 2**63 - 1  # what every database we run on holds in a BIGINT

# Numbers in addresses, bounded where they are declared: a 20-digit id is a 400, not an overflow in SQL.
RecordId = Annotated[int, PathParam(ge=1, le=MAX_RECORD_ID)]
DecisionNumber = Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID)]


def whole_number(text: str, what: str, *, maximum: int) -> int:
    if not text.isdigit() or len(text) > len(str(maximum)) or int(text) > maximum:
        raise InputError(f"{what} must be a whole number from 0 to {maximum:,}")
    return int(text)


def bilingual(ko: str, en: str) -> Markup:
    """A label in Korean with its English beside it."""
    return Markup('<span lang="ko">{}</span> <span class="en" lang="en">{}</span>').format(escape(ko), escape(en))


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["tr"] = bilingual
    templates.env.filters["short"] = lambda text, n=12: (text or "")[:n]
    return templates


def now(request: Request) -> datetime:
    return request.app.state.clock()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def render(request: Request, template: str, context: dict, status: int = 200) -> HTMLResponse:
    from gauntlet.web.security import identify

    try:
        who = identify(request)
    except Exception:  # a bad bearer token still gets its page's own error, not a broken header
        who = None
    signer = request.app.state.signer
    # The components a decision weighed are its own (its inputs' weights); other pages use the usual three.
    names = (context.get("board") or {}).get("component_names") or COMPONENTS
    base = {"who": who, "csrf": signer.csrf_token(request.state.visitor), "component_names": names}
    return request.app.state.templates.TemplateResponse(request, template, {**base, **context}, status_code=status)


def challenge_slug(request: Request, challenge: str | None) -> str:
    """The challenge named in the query, else the store's first one."""
    challenges = request.app.state.store.challenges()
    if challenge is not None:
        if not any(c["slug"] == challenge for c in challenges):
            raise StoreError(f"no challenge {challenge[:100]!r} in the store")
        return challenge
    if not challenges:
        raise StoreError("this store holds no challenge yet")
    return challenges[0]["slug"]


async def form_fields(request: Request) -> dict[str, str]:
    """A POST body as a flat dict: URL-encoded forms (what our pages send) or a JSON object.

    Parsed with the standard library: the pages send no files, so a multipart
    parser would be a dependency for nothing."""
    if request.method != "POST":
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError(f"the request body is larger than {MAX_FORM_BYTES // 1024} KiB")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the request body is not UTF-8") from None
    if kind == "application/json":
        document = parse_json(text or "{}", what="the request body", max_depth=8)
        if not isinstance(document, dict):
            raise InputError("the request body must be a JSON object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}
    if kind in ("application/x-www-form-urlencoded", ""):
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    raise InputError(f"unsupported content type {kind!r}; send a form or JSON")
