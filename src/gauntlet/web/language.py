"""Which language a request is answered in: `?lang=ko|en` (and it is remembered in a
cookie), else that cookie, else the browser's `Accept-Language`, else the challenge
spec's `language` (Korean unless the spec says otherwise).  A value we do not speak
is passed over, never an error."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gauntlet import i18n
from gauntlet.errors import GauntletError
from gauntlet.store.spec_view import parsed_spec

LANGUAGE_COOKIE = "gauntlet_lang"
LANGUAGE_MAX_AGE = 365 * 24 * 3600
MAX_ACCEPT_LANGUAGE = 512  # characters of the header read; a browser sends a few dozen


def accepted(header: str | None) -> str | None:
    """The language we speak that `Accept-Language` prefers most (RFC 9110 §12.5.4: by
    q-value, then by order), or None.  Parsed here: it is a dozen lines, and neither
    Starlette nor Babel parses the header."""
    ranked = []
    for position, part in enumerate((header or "")[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        language = i18n.language_of(tag)
        if language is not None and 0 < quality <= 1:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def choose(query: str | None, cookie: str | None, accept_language: str | None, default: str | None) -> str:
    return (i18n.language_of(query) or i18n.language_of(cookie) or accepted(accept_language)
            or i18n.language_of(default) or i18n.LANGUAGES[0])


class SpecLanguages:
    """Each challenge's default language, read once from its registered spec (a
    challenge's spec never changes once registered)."""

    def __init__(self, store) -> None:
        self.store = store
        self._known: dict[str | None, str] = {}

    def __call__(self, challenge: str | None) -> str | None:
        if challenge in self._known:
            return self._known[challenge]
        try:
            slug = challenge or next((c["slug"] for c in self.store.challenges()), None)
            if slug is None:
                return None  # no challenge yet: nothing to remember
            spec = parsed_spec(self.store.spec_text(slug))
        except GauntletError:  # an unknown challenge or an unreachable store: the page says so itself
            return None
        language = spec.language if spec is not None else i18n.LANGUAGES[0]
        self._known[challenge] = language
        return language


class Language:
    """Sets `request.state.language` and the current language for the request; remembers
    a `?lang=` choice in a cookie.  Plain ASGI, like `VisitorCookie`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        asked = i18n.language_of(request.query_params.get("lang"))
        remembered = request.cookies.get(LANGUAGE_COOKIE)
        if asked or i18n.language_of(remembered) or accepted(request.headers.get("accept-language")):
            default = None  # the spec is read only when nothing else decides
        else:
            default = scope["app"].state.spec_languages(request.query_params.get("challenge"))
        language = choose(asked, remembered, request.headers.get("accept-language"), default)
        request.state.language = language

        async def send_with_language(message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"content-language", language.encode()),
                           (b"vary", b"Accept-Language, Cookie")]
                if asked and asked != remembered:
                    from gauntlet.web.security import cookie_secure

                    carrier = Response()  # Starlette's own cookie formatting
                    carrier.set_cookie(LANGUAGE_COOKIE, asked, max_age=LANGUAGE_MAX_AGE, httponly=True,
                                       samesite="lax", secure=cookie_secure(request))
                    headers.append(carrier.raw_headers[-1])
                message = {**message, "headers": headers}
            await send(message)

        with i18n.using(language):
            await self.app(scope, receive, send_with_language)
