"""A team submits its model: by a resumable chunked upload (the API, for models of any size),
by the team page's upload form (small models), or by naming a folder or URL the server reads.

Every way ends the same: the files are validated and staged by intake, compared with what
the team declared, committed to the content store, their licence read, and the submission
recorded through `gauntlet.rounds.pipeline.submit` (the CLI's `challenge submit`).  Each try
is an intake (`gauntlet.artifacts.intakes`) with its result, which the team page lists.

The upload protocol, with the team's bearer token (a signed-in browser sends its
`X-CSRF-Token` header too):

1. `POST /api/team/uploads` `{"round": "second", "files": [{"path", "size", "sha256"}, ...]}`
   → 201 with the upload's `id` and `chunk_bytes` (the largest chunk taken).
2. `POST /api/team/uploads/{id}/files/{n}?offset=K` with the bytes of declared file `n` from
   offset `K` (optionally `X-Chunk-SHA256`) → `{"received": ...}`; a chunk at another offset
   than the bytes received is refused with 409 and the received size.
3. After a broken connection, `GET /api/team/uploads/{id}` gives `received` for every file:
   resume each at its offset.
4. `POST /api/team/uploads/{id}/finish` → 201 with the intake's result (the submission, the
   model's id, its licence and whether the spec allows it), or 4xx with the reason.  A file
   whose bytes do not hash to the declaration is dropped, to be sent again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from gauntlet.artifacts.content_store import IntakeLimits
from gauntlet.artifacts.intakes import DeclaredMismatch, IntakeBusy, Intakes, OffsetMismatch, declared_manifest
from gauntlet.artifacts.locations import OutsideRoots, copy_url, resolve
from gauntlet.errors import InputError, IntakeError, StoreError, UnsafeArtifactError
from gauntlet.store.access import AccessDenied
from gauntlet.web.common import form_fields, now, round_context
from gauntlet.web.hardening import UPLOAD_CHUNK_BYTES
from gauntlet.web.security import check_csrf, require_role

router = APIRouter()
MAX_FORM_FILES = 64


class DeclaredFile(BaseModel):
    path: str = Field(max_length=1024, description="The file's path inside the model folder (POSIX, relative).")
    size: int = Field(ge=0, le=1 << 60, description="Its size in bytes.")
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="The sha256 of its bytes (lower-case hex).")


class UploadRequest(BaseModel):
    round: str = Field(max_length=100, description="The round the model is for.")
    files: list[DeclaredFile] = Field(min_length=1, max_length=100_000)


class Intake(BaseModel):
    """One try at submitting a model, and its result."""

    id: str
    sequence: int = Field(description="The intakes' order on this server (newest is highest).")
    round: str
    source: str = Field(description="upload, form, folder or url")
    location: str | None
    created_at: str
    state: str = Field(description="receiving, accepted or refused")
    reason: str | None = Field(description="Why it was refused.")
    files: list[DeclaredFile]
    received: list[int] = Field(description="Bytes received of each declared file (while receiving).")
    submission: int | None
    manifest_sha256: str | None
    licence: str | None = Field(description="The licence the model declares (SPDX id), if any.")
    licence_allowed: bool | None = Field(description="Whether the spec's eligibility rule allows it "
                                                     "(null: the spec has none).")
    chunk_bytes: int = UPLOAD_CHUNK_BYTES


class Chunk(BaseModel):
    received: int
    size: int


def _desk(request: Request) -> Intakes:
    root = request.app.state.workspace and request.app.state.workspace.root
    if root is None:  # nothing to find here, not a fault: a 404 that says why
        raise StoreError("this server takes no submissions over the web; its operator starts it with "
                         "`gauntlet serve --workspace DIR`")
    return Intakes(Path(root))


def _limits(ctx) -> IntakeLimits:
    return IntakeLimits(ctx.spec.submissions.max_bytes, ctx.spec.submissions.max_files)


def _may_submit(ctx, team: str, round_id: str, at) -> None:
    """The lifecycle's rules before a byte is received; the service checks again at the end."""
    from gauntlet.domain.lifecycle import Event, RuleBroken, check

    ctx.round(round_id)
    try:
        check(ctx.state(), Event("submission", at, round_id, {"team": team, "artifact": "?"}))
    except RuleBroken as exc:
        raise InputError(str(exc)) from None


def open_rounds(ctx, at) -> list:
    """The rounds still taking submissions at `at` (what the team page offers)."""
    locked = ctx.state().locked
    return [r for r in ctx.spec.rounds if r.id not in locked and at <= r.submission_deadline]


def _intake(request: Request, desk: Intakes, record: dict, folder, *, declared=None, link: bool = False) -> dict:
    from gauntlet.rounds.pipeline import submit

    ctx = round_context(request, record["challenge"])
    try:
        receipt = submit(ctx, record["team"], folder, record["round"], now=now(request), progress=False,
                         declared=declared, link=link)
    except DeclaredMismatch as exc:
        desk.forget(record, exc.paths)
        raise
    except (IntakeError, UnsafeArtifactError, InputError) as exc:
        desk.refused(record, str(exc))
        raise
    return desk.accepted(record, receipt)


def _shown(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("challenge", "team")} | {"chunk_bytes": UPLOAD_CHUNK_BYTES}


# ----------------------------------------------------------------------------- the upload protocol


@router.post("/api/team/uploads", status_code=201, response_model=Intake,
             responses={400: {"description": "A declaration the challenge refuses (names, sizes, limits, round)"}})
def create_upload(request: Request, upload: UploadRequest) -> Any:
    """Declare a model's files; their bytes follow in chunks."""
    who = require_role(request, "team")
    check_csrf(request, {}, who)
    desk, ctx = _desk(request), round_context(request, who["challenge"])
    manifest = declared_manifest([f.model_dump() for f in upload.files], _limits(ctx))
    _may_submit(ctx, who["subject"], upload.round, now(request))
    record = desk.create(who["challenge"], who["subject"], upload.round, manifest, source="upload", location=None,
                         at=now(request))
    return JSONResponse(_shown(desk.get(record["id"], who["challenge"], who["subject"])), status_code=201)


@router.get("/api/team/uploads/{upload_id}", response_model=Intake)
def upload_status(request: Request, upload_id: str) -> Any:
    """The upload's state and the bytes received of each file: where to resume."""
    who = require_role(request, "team")
    return _shown(_desk(request).get(upload_id, who["challenge"], who["subject"]))


def _receive(request: Request, upload_id: str, index: int, offset: int, data: bytes) -> dict:
    who = require_role(request, "team")
    check_csrf(request, {}, who)
    desk = _desk(request)
    record = desk.get(upload_id, who["challenge"], who["subject"])
    wanted = request.headers.get("x-chunk-sha256")
    if wanted is not None and hashlib.sha256(data).hexdigest() != wanted.strip().lower():
        raise IntakeError("the chunk's bytes do not hash to its X-Chunk-SHA256; nothing of it was kept; send it again")
    received = desk.write_chunk(record, index, offset, data)
    return {"received": received, "size": record["files"][index]["size"]}


@router.post("/api/team/uploads/{upload_id}/files/{index}", response_model=Chunk,
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}},
             responses={409: {"description": "The offset is not the bytes received so far (`received` says where "
                                             "to resume), or another request is writing"}})
async def upload_chunk(request: Request, upload_id: str, index: Annotated[int, PathParam(ge=0, le=1_000_000)],
                       offset: Annotated[int, Query(ge=0, le=1 << 60)] = 0) -> Any:
    """Bytes of declared file `index` from `offset` (at most `chunk_bytes` per request)."""
    data = await request.body()
    try:
        return await run_in_threadpool(_receive, request, upload_id, index, offset, data)
    except OffsetMismatch as exc:
        return JSONResponse({"error": str(exc), "received": exc.received}, status_code=409)
    except IntakeBusy as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)


@router.post("/api/team/uploads/{upload_id}/finish", status_code=201, response_model=Intake)
def finish_upload(request: Request, upload_id: str) -> Any:
    """Every byte is in: intake, licence, and the submission on the record."""
    who = require_role(request, "team")
    check_csrf(request, {}, who)
    desk = _desk(request)
    record = desk.get(upload_id, who["challenge"], who["subject"])
    if record["state"] != "receiving":
        raise InputError(f"this upload is already {record['state']}")
    declared = declared_manifest(record["files"], IntakeLimits(1 << 62, 1 << 30))
    with desk.assembled(record) as folder:
        done = _intake(request, desk, record, folder, declared=declared, link=True)
    return JSONResponse(_shown(done), status_code=201)


@router.post("/api/team/uploads/{upload_id}/cancel")
def cancel_upload(request: Request, upload_id: str) -> dict:
    """Drop an unfinished upload and the bytes it holds."""
    who = require_role(request, "team")
    check_csrf(request, {}, who)
    desk = _desk(request)
    record = desk.get(upload_id, who["challenge"], who["subject"])
    if record["state"] != "receiving":
        raise InputError(f"this upload is {record['state']}; only an unfinished one can be cancelled")
    desk.cancel(record)
    return {"upload": upload_id, "cancelled": True}


@router.get("/api/team/intakes", response_model=list[Intake])
def team_intakes(request: Request) -> Any:
    """The team's submission tries, newest first, with their intake and licence results."""
    who = require_role(request, "team")
    if request.app.state.workspace is None:
        return []
    return [_shown(r) for r in _desk(request).of_team(who["challenge"], who["subject"])]


# ----------------------------------------------------------------------------- a folder or URL


class LocationRequest(BaseModel):
    round: str = Field(max_length=100)
    location: str = Field(max_length=2048, description="An absolute folder path or a storage URL "
                                                        "(memory://, s3://, gs://, ...) inside the server's roots.")


def _from_location(request: Request, who: dict, round_id: str, text: str) -> dict:
    desk, ctx = _desk(request), round_context(request, who["challenge"])
    try:
        location = resolve(text, who["subject"], request.app.state.submission_roots)
    except OutsideRoots as exc:
        raise AccessDenied(str(exc)) from None
    _may_submit(ctx, who["subject"], round_id, now(request))
    record = desk.create(who["challenge"], who["subject"], round_id, None, source=location.kind,
                         location=location.where, at=now(request))
    if location.kind == "folder":
        return _intake(request, desk, record, location.where)
    with desk.receiving_folder(record) as folder:
        try:
            copy_url(location.where, folder, _limits(ctx))
        except (IntakeError, InputError) as exc:
            desk.refused(record, str(exc))
            raise
        return _intake(request, desk, record, folder, link=True)


@router.post("/api/team/submissions", status_code=201, response_model=Intake,
             responses={403: {"description": "The location is outside the folders and URLs this server reads"}})
def submit_location(request: Request, body: Annotated[LocationRequest, Body()]) -> Any:
    """Submit the model at a folder or URL the server reads (confined to its configured roots)."""
    who = require_role(request, "team")
    check_csrf(request, {}, who)
    return JSONResponse(_shown(_from_location(request, who, body.round, body.location)), status_code=201)


@router.post("/team/submissions", include_in_schema=False)
def submit_location_form(request: Request, fields: dict = Depends(form_fields)):
    who = require_role(request, "team")
    check_csrf(request, fields, who)
    _from_location(request, who, fields.get("round", ""), fields.get("location", ""))
    return RedirectResponse("/team#intakes", status_code=303)


# ----------------------------------------------------------------------------- the page's upload form


def _common_folder(names: list[str]) -> list[str]:
    """A folder picked in the browser arrives as `folder/file`: the model's names start below it."""
    heads = {n.split("/", 1)[0] for n in names}
    if len(heads) == 1 and all("/" in n for n in names):
        return [n.split("/", 1)[1] for n in names]
    return names


@router.post("/team/upload", include_in_schema=False)
async def upload_form(request: Request):
    # The multipart parser's refusals (too many files or fields, a broken body) are 400s with its reason.
    form = await request.form(max_files=MAX_FORM_FILES, max_fields=8)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [v for _, v in form.multi_items() if not isinstance(v, str) and v.filename]
    try:
        return await run_in_threadpool(_upload_form, request, fields, uploads)
    finally:
        await form.close()


def _upload_form(request: Request, fields: dict, uploads: list) -> RedirectResponse:
    who = require_role(request, "team")
    check_csrf(request, fields, who)
    if not uploads:
        raise InputError("choose the model's files (config.json, *.safetensors, ...) to upload")
    names = _common_folder([u.filename for u in uploads])
    declared = []
    for name, upload in zip(names, uploads):
        digest, size = hashlib.sha256(), 0
        upload.file.seek(0)
        while chunk := upload.file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        declared.append({"path": name, "size": size, "sha256": digest.hexdigest()})
    desk, ctx = _desk(request), round_context(request, who["challenge"])
    manifest = declared_manifest(declared, _limits(ctx))
    round_id = fields.get("round", "")
    _may_submit(ctx, who["subject"], round_id, now(request))
    record = desk.create(who["challenge"], who["subject"], round_id, manifest, source="form", location=None,
                         at=now(request))
    order = {f.path: n for n, f in enumerate(manifest.files)}
    for name, upload in zip(names, uploads):
        upload.file.seek(0)
        offset = 0
        while chunk := upload.file.read(UPLOAD_CHUNK_BYTES):
            offset = desk.write_chunk(record, order[name], offset, chunk)
    with desk.assembled(record) as folder:
        _intake(request, desk, record, folder, declared=manifest, link=True)
    return RedirectResponse("/team#intakes", status_code=303)

