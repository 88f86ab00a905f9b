"""The web app's outer guard: bounded requests and the security headers of every
response, as one ASGI middleware so nothing behind it (a route, an error page,
the static API-docs assets) can be reached around it.

- A request line is bounded (path, each path segment, query string): an over-long
  id is refused with 414 before any route parses it.
- A body is bounded while it streams: a declared Content-Length over the limit is
  refused before a byte is read, and an undeclared (chunked) body is cut off as
  soon as it passes the limit, so a 64 MiB upload costs at most the limit.
- Every response carries a Content-Security-Policy, X-Frame-Options,
  X-Content-Type-Options and Referrer-Policy (and HSTS when served over HTTPS).
"""

from __future__ import annotations

import json

from gauntlet.errors import InputError
from gauntlet.i18n import _

MAX_BODY_BYTES = 1 << 20  # every body the app takes is a form or a small JSON document, except:
UPLOAD_CHUNK_BYTES = 16 << 20  # one chunk of a resumable model upload (gauntlet.web.submissions)
UPLOAD_FORM_BYTES = 64 << 20  # the team page's upload form, for small models; larger ones use chunks
LARGE_BODIES = (("/api/team/uploads/", UPLOAD_CHUNK_BYTES), ("/team/upload", UPLOAD_FORM_BYTES))
MAX_PATH_CHARS = 2048
MAX_SEGMENT_CHARS = 256
MAX_QUERY_CHARS = 4096

# Pages use a stylesheet in <style> and style attributes, no script of their own.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI starts itself from one inline script that FastAPI writes.
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
DOCS_PATHS = ("/docs",)


class BodyTooLarge(InputError):
    """A request body over the limit (HTTP 413)."""


def security_headers(scheme: str, path: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in _headers(scheme, path)}


def _headers(scheme: str, path: str) -> list[tuple[bytes, bytes]]:
    out = [
        (b"content-security-policy", (DOCS_POLICY if path in DOCS_PATHS else PAGE_POLICY).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if scheme == "https":
        out.append((b"strict-transport-security", b"max-age=31536000"))
    return out


class Hardening:
    def __init__(self, app, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _headers(scope.get("scheme", "http"), scope.get("path", ""))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in extra if h[0] not in present)]}
            await send(message)

        path = scope.get("path", "")
        limit = next((n for prefix, n in LARGE_BODIES if path == prefix or path.startswith(prefix)), self.max_body)
        refusal = self._refuse_line(scope)
        if refusal is None:
            declared = dict(scope.get("headers", [])).get(b"content-length")
            if declared is not None and (not declared.isdigit() or len(declared) > 18
                                         or int(declared) > limit):
                refusal = (413, _("the request body is larger than %(n)s KiB", n=limit // 1024))
        if refusal is not None:
            await _reply(send_with_headers, *refusal)
            return

        seen = 0

        async def bounded_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(_("the request body is larger than %(n)s KiB", n=limit // 1024))
            return message

        await self.app(scope, bounded_receive, send_with_headers)

    @staticmethod
    def _refuse_line(scope) -> tuple[int, str] | None:
        path, query = scope.get("path", ""), scope.get("query_string", b"")
        if len(path) > MAX_PATH_CHARS or any(len(s) > MAX_SEGMENT_CHARS for s in path.split("/")):
            return 414, _("the address is too long (a path segment may have at most %(n)s characters)", n=MAX_SEGMENT_CHARS)
        if len(query) > MAX_QUERY_CHARS:
            return 414, _("the query string is longer than %(n)s characters", n=MAX_QUERY_CHARS)
        return None


async def _reply(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
