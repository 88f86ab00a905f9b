"""What every page handler needs: templates in the request's language, the clock,
the challenge asked for, and form bodies."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gauntlet import i18n
from gauntlet.errors import InputError
from gauntlet.files import parse_json
from gauntlet.i18n import _
from gauntlet.store.spec_view import parsed_spec

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 64 * 1024
MAX_RECORD_ID = 2**63 - 1  # what every database we run on holds in a BIGINT

# Numbers in addresses, bounded where they are declared: a 20-digit id is a 400, not an overflow in SQL.
RecordId = Annotated[int, PathParam(ge=1, le=MAX_RECORD_ID)]
DecisionNumber = Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID)]


def whole_number(text: str, what: str, *, maximum: int) -> int:
    if not text.isdigit() or len(text) > len(str(maximum)) or int(text) > maximum:
        raise InputError(_("%(what)s must be a whole number from 0 to %(maximum)s", what=what,
                           maximum=format(maximum, ",")))
    return int(text)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    i18n.install(templates.env)
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
    # The components a decision weighed are its own (its inputs' weights); other pages show
    # those the challenge's spec weighs.
    board = context.get("board") or {}
    slug = context.get("slug") or (board.get("challenge") or {}).get("slug")
    names = board.get("component_names") or (spec_components(request, slug) if slug else [])
    language = getattr(request.state, "language", i18n.SOURCE_LANGUAGE)
    base = {"who": who, "csrf": signer.csrf_token(request.state.visitor), "component_names": names,
            "lang": language, "other_languages": other_languages(request, language)}
    with i18n.using(language):  # rendered here, whichever task or thread runs the handler
        return request.app.state.templates.TemplateResponse(request, template, {**base, **context}, status_code=status)


def other_languages(request: Request, language: str) -> list[dict]:
    """The header's switch: this page in each other language (a form's answer links to the
    front page, which a GET can show)."""
    path = request.url.path if request.method == "GET" else "/"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] if request.method == "GET" else []
    return [{"code": code, "name": i18n.LANGUAGE_NAMES[code], "url": f"{path}?{urlencode([*query, ('lang', code)])}"}
            for code in i18n.LANGUAGES if code != language]


def spec_components(request: Request, slug: str) -> list[str]:
    """The components the challenge's spec weighs, in its order (read once: a registered
    spec never changes)."""
    held = request.app.state.spec_components
    if slug not in held:
        spec = parsed_spec(request.app.state.store.spec_text(slug))
        held[slug] = list(spec.scoring.weights) if spec is not None else []
    return held[slug]


def challenge_slug(request: Request, challenge: str | None) -> str:
    """The challenge named in the query, else the store's first one."""
    return request.app.state.challenges.find(challenge)


async def form_fields(request: Request) -> dict[str, str]:
    """A POST body as a flat dict: URL-encoded forms (what our pages send) or a JSON object.

    Parsed with the standard library: the pages send no files, so a multipart
    parser would be a dependency for nothing."""
    if request.method != "POST":
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InputError(_("the request body is larger than %(n)s KiB", n=MAX_FORM_BYTES // 1024))
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(_("the request body is not UTF-8")) from None
    if kind == "application/json":
        document = parse_json(text or "{}", what="the request body", max_depth=8)
        if not isinstance(document, dict):
            raise InputError(_("the request body must be a JSON object"))
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}
    if kind in ("application/x-www-form-urlencoded", ""):
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    raise InputError(_("unsupported content type %(kind)s; send a form or JSON", kind=repr(kind)))


def round_context(request: Request, slug: str, *, workspace_needed: bool = False):
    """The challenge as the CLI sees it (`gauntlet.rounds.workspace.RoundContext`): its spec,
    the store and the server's workspace; `workspace_needed` refuses a server without one."""
    from gauntlet import spec as spec_module
    from gauntlet.rounds.workspace import RoundContext

    workspace = request.app.state.workspace
    if workspace is None and workspace_needed:
        raise InputError("this server has no workspace (start it with `gauntlet serve --workspace DIR`), so it "
                         "cannot run stages or build report folders")
    store = request.app.state.store
    text = store.spec_text(slug)
    return RoundContext(spec_module.loads(text, source=f"the spec of {slug!r}"), text, store, workspace)
