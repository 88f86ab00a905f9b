"""Signing in with a role token (organiser, team or expert) and out again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gauntlet.web.common import form_fields, render
from gauntlet.web.security import SESSION_COOKIE, SESSION_MAX_AGE, NotSignedIn, check_csrf, session_value

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
        raise NotSignedIn("that token is unknown or has been revoked")
    response = RedirectResponse(HOME.get(identity["role"], "/arena"), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_value(request.app.state.signer, identity["id"]),
                        max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, fields: dict = Depends(form_fields)):
    check_csrf(request, fields)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
