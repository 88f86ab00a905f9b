"""A team submits its model over the web: the resumable upload protocol, a folder or URL the
server reads, and the refusals of hostile uploads, which never touch another team's model."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from gauntlet.artifacts.content_store import ContentStore
from gauntlet.web.app import create_app
from tests.web.tiny_models import declaration, tiny_model

ROUND = "second"  # the example spec's second round takes submissions on the world's clock
@pytest.fixture
def site(world, tmp_path):
    """The app over the world with a content store and two roots it may read for a team."""
    content = tmp_path / "workspace"
    roots = (str(tmp_path / "teams" / "{team}"), "memory://submissions/{team}")

    def client(token: str | None = None):
        from fastapi.testclient import TestClient

        app = create_app(world.url, clock=world.clock, arena_seed=7, workspace=content, submission_roots=roots)
        c = TestClient(app)
        if token:
            c.headers["Authorization"] = f"Bearer {world.tokens[token]}"
        return c

    return world, content, client


def upload(client, files: dict[str, bytes], chunk: int = 700) -> dict:
    created = client.post("/api/team/uploads", json={"round": ROUND, "files": declaration(files)})
    assert created.status_code == 201, created.text
    record = created.json()
    for n, entry in enumerate(record["files"]):
        data = files[entry["path"]]
        for offset in range(0, len(data), chunk):
            r = client.post(f"/api/team/uploads/{record['id']}/files/{n}?offset={offset}",
                            content=data[offset:offset + chunk], headers={"content-type": "application/octet-stream"})
            assert r.status_code == 200, r.text
    return record


def test_a_chunked_upload_resumes_and_becomes_the_teams_submission(site, tmp_path):
    world, content, client = site
    lg = client("lg")
    files = tiny_model(tmp_path / "m")
    created = lg.post("/api/team/uploads", json={"round": ROUND, "files": declaration(files)}).json()
    weights = next(n for n, f in enumerate(created["files"]) if f["path"] == "model.safetensors")
    data = files["model.safetensors"]
    assert lg.post(f"/api/team/uploads/{created['id']}/files/{weights}?offset=0", content=data[:1000]).json() == \
        {"received": 1000, "size": len(data)}
    # The connection broke after an unknown amount: a chunk at the wrong offset is refused with the right one.
    wrong = lg.post(f"/api/team/uploads/{created['id']}/files/{weights}?offset=0", content=data[:1000])
    assert wrong.status_code == 409 and wrong.json()["received"] == 1000
    status = lg.get(f"/api/team/uploads/{created['id']}").json()
    assert status["state"] == "receiving" and status["received"][weights] == 1000
    early = lg.post(f"/api/team/uploads/{created['id']}/finish")
    assert early.status_code == 400 and "bytes received" in early.json()["error"]
    for n, f in enumerate(created["files"]):
        start = status["received"][n]
        lg.post(f"/api/team/uploads/{created['id']}/files/{n}?offset={start}", content=files[f["path"]][start:])
    done = lg.post(f"/api/team/uploads/{created['id']}/finish")
    assert done.status_code == 201, done.text
    result = done.json()
    assert result["state"] == "accepted" and result["licence"] == "apache-2.0" and result["licence_allowed"] is True
    stored = ContentStore(content).get(result["manifest_sha256"])
    assert {f.path: f.sha256 for f in stored.manifest.files} == {f["path"]: f["sha256"] for f in declaration(files)}
    profile = lg.get("/api/team").json()
    assert [s["manifest_sha256"] for s in profile["team"]["submissions"] if s["round"] == ROUND] == [stored.id]
    assert profile["intakes"][0]["state"] == "accepted"
    page = lg.get("/team").text
    assert "apache-2.0" in page and stored.id[:16] in page


def test_a_file_that_does_not_hash_to_its_declaration_is_sent_again(site, tmp_path):
    world, content, client = site
    lg = client("lg")
    files = tiny_model(tmp_path / "m")
    declared = declaration(files)
    sent = dict(files, **{"config.json": files["config.json"].replace(b"8", b"9")})
    created = lg.post("/api/team/uploads", json={"round": ROUND, "files": declared}).json()
    for n, f in enumerate(created["files"]):
        lg.post(f"/api/team/uploads/{created['id']}/files/{n}?offset=0", content=sent[f["path"]])
    refused = lg.post(f"/api/team/uploads/{created['id']}/finish")
    assert refused.status_code == 400 and "config.json" in refused.json()["error"]
    assert ContentStore(content).model_ids() == []
    status = lg.get(f"/api/team/uploads/{created['id']}").json()
    config = next(n for n, f in enumerate(status["files"]) if f["path"] == "config.json")
    assert status["received"][config] == 0 and sum(status["received"]) > 0  # only the wrong file is dropped
    lg.post(f"/api/team/uploads/{created['id']}/files/{config}?offset=0", content=files["config.json"])
    assert lg.post(f"/api/team/uploads/{created['id']}/finish").status_code == 201


@pytest.mark.parametrize("bad, reason", [
    ({"path": "../lg/model.safetensors"}, "relative path"),
    ({"path": "/etc/passwd"}, "relative path"),
    ({"path": "weights/./x.safetensors"}, "relative path"),
    ({"path": "a\\b"}, "backslash"),
    ({"size": 1 << 41}, "over the limit"),
    ({"sha256": "zz" * 32}, "sha256"),
])
def test_hostile_declarations_are_refused_with_the_reason(site, tmp_path, bad, reason):
    world, content, client = site
    files = declaration(tiny_model(tmp_path / "m"))
    files[0] = {**files[0], **bad}
    r = client("lg").post("/api/team/uploads", json={"round": ROUND, "files": files})
    assert r.status_code == 400 and reason in r.json()["error"], r.text


def test_too_many_files_and_oversized_chunks_are_refused(site, tmp_path):
    world, content, client = site
    lg = client("lg")
    many = [{"path": f"f{i}", "size": 1, "sha256": "0" * 64} for i in range(2001)]
    r = lg.post("/api/team/uploads", json={"round": ROUND, "files": many})
    assert r.status_code == 400 and "limit of 2,000" in r.json()["error"]
    files = tiny_model(tmp_path / "m")
    created = lg.post("/api/team/uploads", json={"round": ROUND, "files": declaration(files)}).json()
    config = next(n for n, f in enumerate(created["files"]) if f["path"] == "config.json")
    over = lg.post(f"/api/team/uploads/{created['id']}/files/{config}?offset=0", content=files["config.json"] + b"x")
    assert over.status_code == 400 and "more than the" in over.json()["error"]
    huge = lg.post(f"/api/team/uploads/{created['id']}/files/{config}?offset=0", content=b"x" * ((16 << 20) + 1))
    assert huge.status_code == 413


def test_another_teams_upload_reads_as_missing_and_is_untouched(site, tmp_path):
    world, content, client = site
    files = tiny_model(tmp_path / "m")
    record = upload(client("lg"), files)
    skt = client("skt")
    for call in (lambda: skt.get(f"/api/team/uploads/{record['id']}"),
                 lambda: skt.post(f"/api/team/uploads/{record['id']}/files/0?offset=0", content=b"x"),
                 lambda: skt.post(f"/api/team/uploads/{record['id']}/finish"),
                 lambda: skt.post(f"/api/team/uploads/{record['id']}/cancel")):
        assert call().status_code == 404
    assert client("lg").post(f"/api/team/uploads/{record['id']}/finish").status_code == 201
    assert client("organiser").get(f"/api/team/uploads/{record['id']}").status_code == 403


def test_a_refused_model_leaves_other_teams_models_as_they_were(site, tmp_path):
    world, content, client = site
    first = client("lg").post(f"/api/team/uploads/{upload(client('lg'), tiny_model(tmp_path / 'a'))['id']}/finish")
    assert first.status_code == 201
    stored = first.json()["manifest_sha256"]
    pickle = {"config.json": b"{}", "model.bin": b"\x80\x04K\x01."}  # pickle weights: refused unread
    record = upload(client("skt"), pickle)
    refused = client("skt").post(f"/api/team/uploads/{record['id']}/finish")
    assert refused.status_code == 400 and "pickle" in refused.json()["error"]
    assert ContentStore(content).model_ids() == [stored] and ContentStore(content).verify(stored) == []
    assert client("skt").get("/api/team").json()["intakes"][0]["reason"] == refused.json()["error"]


def test_a_folder_inside_the_teams_root_is_read_and_one_outside_is_refused(site, tmp_path):
    world, content, client = site
    tiny_model(tmp_path / "teams" / "lg" / "v1")
    tiny_model(tmp_path / "teams" / "skt" / "v1", seed=1)
    lg = client("lg")
    ok = lg.post("/api/team/submissions", json={"round": ROUND, "location": str(tmp_path / "teams" / "lg" / "v1")})
    assert ok.status_code == 201 and ok.json()["source"] == "folder", ok.text
    for outside in (tmp_path / "teams" / "skt" / "v1", tmp_path / "teams" / "lg" / ".." / "skt" / "v1", Path("/etc")):
        r = lg.post("/api/team/submissions", json={"round": ROUND, "location": str(outside)})
        assert r.status_code == 403 and "inside the locations this server reads" in r.json()["error"], r.text
    (tmp_path / "teams" / "lg" / "escape").symlink_to(tmp_path / "teams" / "skt" / "v1")
    r = lg.post("/api/team/submissions", json={"round": ROUND, "location": str(tmp_path / "teams" / "lg" / "escape")})
    assert r.status_code == 403
    # Inside the root, a folder whose weights are a symlink to another team's is refused by intake.
    borrowed = tmp_path / "teams" / "lg" / "v2"
    tiny_model(borrowed)
    (borrowed / "model.safetensors").unlink()
    (borrowed / "model.safetensors").symlink_to(tmp_path / "teams" / "skt" / "v1" / "model.safetensors")
    r = lg.post("/api/team/submissions", json={"round": ROUND, "location": str(borrowed)})
    assert r.status_code == 400 and "symlink" in r.json()["error"], r.text
    assert lg.get("/api/team/intakes").json()[0]["state"] == "refused"


def test_an_fsspec_url_is_read_under_the_limits(site, tmp_path):
    world, content, client = site
    fs = fsspec.filesystem("memory")
    files = tiny_model(tmp_path / "m", card="---\nlicense: other\n---\n")
    try:
        for name, data in files.items():
            fs.pipe(f"/submissions/lg/v2/{name}", data)
        fs.pipe("/submissions/skt/v2/config.json", b"{}")
        lg = client("lg")
        r = lg.post("/api/team/submissions", json={"round": ROUND, "location": "memory://submissions/lg/v2"})
        assert r.status_code == 201, r.text
        assert r.json()["licence"] == "other" and r.json()["licence_allowed"] is False
        for url in ("memory://submissions/skt/v2", "memory://submissions/lg/../skt/v2",
                    "simplecache::memory://submissions/lg/v2", "file:///etc"):
            refused = lg.post("/api/team/submissions", json={"round": ROUND, "location": url})
            assert refused.status_code in (400, 403), (url, refused.text)
    finally:
        fs.rm("/submissions", recursive=True)


def test_the_team_page_uploads_a_model_through_its_form(site, tmp_path):
    world, content, client = site
    browser = client()
    login = browser.get("/login")
    browser.post("/login", data={"token": world.tokens["lg"], "csrf": world.csrf_of(login.text)})
    page = browser.get("/team")
    assert page.status_code == 200 and 'action="/team/upload"' in page.text
    files = tiny_model(tmp_path / "m")
    sent = browser.post("/team/upload", data={"round": ROUND, "csrf": world.csrf_of(page.text)},
                        files=[("files", (name, data)) for name, data in files.items()], follow_redirects=False)
    assert sent.status_code == 303, sent.text
    assert "apache-2.0" in browser.get("/team").text
    forged = browser.post("/team/upload", data={"round": ROUND, "csrf": "forged"},
                          files=[("files", (name, data)) for name, data in files.items()])
    assert forged.status_code == 403


def test_a_signed_in_browser_needs_its_csrf_token_for_the_upload_api(site, tmp_path):
    world, content, client = site
    browser = client()
    login = browser.get("/login")
    browser.post("/login", data={"token": world.tokens["lg"], "csrf": world.csrf_of(login.text)})
    body = {"round": ROUND, "files": declaration(tiny_model(tmp_path / "m"))}
    assert browser.post("/api/team/uploads", json=body).status_code == 403
    token = world.csrf_of(browser.get("/team").text)
    assert browser.post("/api/team/uploads", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_a_team_holds_four_unfinished_uploads_and_a_week_old_one_is_dropped(site, tmp_path):
    world, content, client = site
    lg = client("lg")
    body = {"round": ROUND, "files": declaration(tiny_model(tmp_path / "m"))}
    first = lg.post("/api/team/uploads", json=body).json()
    lg.post(f"/api/team/uploads/{first['id']}/files/0?offset=0", content=b"{")
    for _ in range(3):
        assert lg.post("/api/team/uploads", json=body).status_code == 201
    refused = lg.post("/api/team/uploads", json=body)
    assert refused.status_code == 400 and "4 unfinished uploads" in refused.json()["error"]
    assert client("skt").post("/api/team/uploads", json=body).status_code == 201  # each team its own
    world.clock.advance(days=8)
    assert lg.post("/api/team/uploads", json=body).status_code == 201
    dropped = lg.get(f"/api/team/uploads/{first['id']}").json()
    assert dropped["state"] == "refused" and "7 days" in dropped["reason"]
    assert not (content / "intakes" / first["id"] / "parts").exists()


def test_a_finish_the_store_could_not_record_keeps_the_bytes_and_can_be_repeated(site, tmp_path, monkeypatch):
    from gauntlet.errors import StorageUnavailable
    from gauntlet.rounds import service

    world, content, client = site
    lg = client("lg")
    record = upload(lg, tiny_model(tmp_path / "m"))
    real = service.submit

    def full_disk(*args, **kwargs):
        raise StorageUnavailable("cannot write to the store: the disk holding the database is full")

    monkeypatch.setattr(service, "submit", full_disk)
    failed = lg.post(f"/api/team/uploads/{record['id']}/finish")
    assert failed.status_code == 503 and "disk" in failed.json()["error"]
    status = lg.get(f"/api/team/uploads/{record['id']}").json()
    assert status["state"] == "receiving" and status["received"] == [f["size"] for f in status["files"]]
    monkeypatch.setattr(service, "submit", real)
    done = lg.post(f"/api/team/uploads/{record['id']}/finish")
    assert done.status_code == 201 and done.json()["state"] == "accepted"
    assert ContentStore(content).verify(done.json()["manifest_sha256"]) == []


def test_a_broken_or_overfull_upload_form_is_a_400_with_the_reason(site):
    world, content, client = site
    browser = client()
    login = browser.get("/login")
    browser.post("/login", data={"token": world.tokens["lg"], "csrf": world.csrf_of(login.text)})
    csrf = world.csrf_of(browser.get("/team").text)
    many = browser.post("/team/upload", data={"round": ROUND, "csrf": csrf},
                        files=[("files", (f"f{i}", b"x")) for i in range(65)])
    assert many.status_code == 400 and "files" in many.text.lower()
    broken = browser.post("/team/upload", content=b"--x\r\nnot a part", headers={
        "content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code in (400, 403) and broken.status_code != 500
