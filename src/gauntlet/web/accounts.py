"""Signing in with a role token (organiser, team or expert) and out again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gauntlet.i18n import _
from gauntlet.web.common import form_fields, now, render
from gauntlet.web.security import (SESSION_COOKIE, SESSION_MAX_AGE, NotSignedIn, check_csrf, cookie_secure,
                                   rotate_visitor, session_secret, session_value)

router = APIRouter()
HOME = {"organiser": "/organiser", "team": "/team", "expert": "/expert"}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"message": None})


@router.post("/login")
def login(request: Request, fields: dict = Depends(form_fields)):
    check_csrf(request, fields)
    identity = request.app.state.store.identify_token(fields.get("token", "").strip())
    if identity is None:
        raise NotSignedIn(_("that token is unknown or has been revoked"))
    secret = request.app.state.store.open_session(identity["id"], at=now(request))
    rotate_visitor(request)
    response = RedirectResponse(HOME.get(identity["role"], "/arena"), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_value(request.app.state.signer, secret),
                        max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=cookie_secure(request))
    return response


@router.post("/logout")
def logout(request: Request, fields: dict = Depends(form_fields)):
    check_csrf(request, fields)
    secret = session_secret(request.app.state.signer, request.cookies.get(SESSION_COOKIE))
    if secret is not None:
        request.app.state.store.end_session(secret, at=now(request))
    rotate_visitor(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
