"""The arena under a crowd: `gauntlet serve` next to the floor of its stack, in one run.

Usage: python benchmarks/bench_arena_load.py [--seconds 8] [--no-postgres|--no-sqlite] [--client lean|httpx]
       [--pg-client wrk|lean|httpx]

A bounded loopback crowd (8, 32 and 64 concurrent voters, each with its own
cookies) takes a battle and votes on it, again and again, against a real
`gauntlet serve` process on a SQLite store; in the same run the same crowd
posts to the floor of this stack, a minimal FastAPI endpoint (same uvicorn
settings) that inserts one row into SQLite per request (WAL, one commit per
request).  A Gauntlet vote is two requests (battle, then vote); a floor vote is
one.  Then 32 voters who pause about a second between votes measure the
vote's latency.  With PostgreSQL binaries on the machine (a throwaway server,
tests/support/postgres.py) the looping crowd of 32 runs again against
`gauntlet serve --workers 1, 2, 4`.  After every run the store is counted:
every acknowledged vote must be there.  Each row shows the CPU time the server
and the crowd (one process, on the same cores) spent per acknowledged vote.

The PostgreSQL curve's crowd is wrk (a C load generator, `make bench-tools`,
driven by benchmarks/arena_crowd.lua) where it is installed: a Python crowd
spends 3-4 ms of CPU per vote, as much as the server, and on a small machine
would take the cores the extra workers need.

Goals (issue 13): Gauntlet >= 0.5x the floor's votes/s with 32 looping voters;
vote p99 <= 100 ms with 32 pausing voters (or <= 2x the floor's p99 when the
floor's is above 50 ms); with PostgreSQL, votes/s growing with --workers
(each step the machine has the cores to show).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "k-sovereign-2026.toml"
SLUG, ROUND = "k-sovereign-2026", "first"
TEAMS = ("lg", "skt", "upstage", "naver", "nc", "kt", "kakao", "konan")


# ------------------------------------------------------------------ the floor


def floor_app():
    """The floor: one FastAPI endpoint, one INSERT and one commit per request."""
    from fastapi import FastAPI

    path = os.environ["BENCH_FLOOR_DB"]
    local = threading.local()
    app = FastAPI()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(path, timeout=30)
            local.db.execute("PRAGMA journal_mode=WAL")
        return local.db

    @app.post("/vote")
    def vote(payload: dict) -> dict:
        db = connection()
        db.execute("INSERT INTO votes (voter, choice) VALUES (?, ?)", (str(payload.get("voter")),
                                                                         str(payload.get("choice"))))
        db.commit()
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return app


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_store(url: str) -> None:
    """The example challenge, limits raised so that one loopback address can be a crowd."""
    from gauntlet.ratings.arena import Prompt
    from gauntlet.store.repository import Store

    spec = EXAMPLE.read_text(encoding="utf-8").replace(
        "daily_cap_per_voter = 50\n", "daily_cap_per_voter = 100000\ndaily_cap_per_address = 10000000\n"
        "daily_cap_per_network = 10000000\n")
    store = Store(url)
    store.register_challenge(SLUG, "Sovereign AI", spec, at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for key in TEAMS:
        store.register_team(SLUG, key, key.upper(), f"{key} labs", "KR")
    prompts = [Prompt(f"{lang}-{i}", lang, f"질문 {i}: 한국의 역사에 대해 설명하세요." if lang == "ko" else
                      f"Question {i}: explain a piece of Korean history.") for lang in ("ko", "en") for i in range(20)]
    store.add_arena_prompts(SLUG, ROUND, prompts)
    store.add_arena_answers(SLUG, ROUND, {t: {p.id: f"{t[::-1]} 답변 {p.id}: " + "조선 시대에는 " * 30 for p in prompts}
                                          for t in TEAMS})
    store.sessions.kw["bind"].dispose()


def start(args: list[str], port: int, env: dict) -> subprocess.Popen:
    import httpx  # (starting a server is not measured)

    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(args)}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------ the crowd


async def one_voter(kind: str, base: str, deadline: float, pause: float, stats: dict, rng: random.Random) -> None:
    """One voter: its own keep-alive connection and its own visitor cookie, kept by hand.

    httpcore (the HTTP/1.1 layer under httpx) rather than httpx's Client: measured here,
    the Client's cookie jar and request plumbing cost 1.6-2.5 ms of CPU per request, more
    than either server spends on it, so on two cores the benchmark measured its own crowd
    (`--client httpx` runs that crowd, for comparison)."""
    import httpcore

    host, cookie = base.split("//", 1)[1].encode(), None
    async with httpcore.AsyncConnectionPool(max_connections=1) as pool:
        async def call(method: bytes, path: str, payload: dict | None = None, csrf: str | None = None):
            nonlocal cookie
            headers = [(b"Host", host), (b"Accept", b"*/*")] + ([(b"Cookie", cookie)] if cookie else [])
            body = None if payload is None else json.dumps(payload).encode()
            if body is not None:
                headers += [(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode())]
            if csrf:
                headers.append((b"X-CSRF-Token", csrf.encode()))
            reply = await pool.request(method, base + path, headers=headers, content=body)
            for name, value in reply.headers:
                if name.lower() == b"set-cookie":
                    cookie = value.split(b";", 1)[0]
            return reply.status, reply.content

        voter = f"v{rng.getrandbits(40)}"
        while time.monotonic() < deadline:
            try:
                if kind == "floor":
                    started = time.perf_counter()
                    status, _ = await call(b"POST", "/vote", {"voter": voter, "choice": rng.choice("ab")})
                else:
                    started = time.perf_counter()
                    status, body = await call(b"GET", "/api/arena/battle")
                    stats["battle"].append(time.perf_counter() - started)
                    if status != 200:
                        stats["errors"] += 1
                        continue
                    data = json.loads(body)
                    started = time.perf_counter()
                    status, _ = await call(b"POST", "/api/arena/votes", {"battle_id": data["battle_id"],
                                                                          "choice": rng.choice(("a", "b", "tie"))},
                                           data["csrf"])
                stats["vote"].append(time.perf_counter() - started)
                if status == 200:
                    stats["acked"] += 1
                else:
                    stats["errors"] += 1
            except httpcore.NetworkError:
                stats["errors"] += 1
            if pause:
                await asyncio.sleep(pause * rng.uniform(0.8, 1.2))


async def httpx_voter(kind: str, base: str, deadline: float, pause: float, stats: dict, rng: random.Random) -> None:
    """The same voter on httpx's Client (`--client httpx`)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        voter = f"v{rng.getrandbits(40)}"
        while time.monotonic() < deadline:
            try:
                if kind == "floor":
                    started = time.perf_counter()
                    reply = await client.post("/vote", json={"voter": voter, "choice": rng.choice("ab")})
                else:
                    started = time.perf_counter()
                    battle = await client.get("/api/arena/battle")
                    stats["battle"].append(time.perf_counter() - started)
                    if battle.status_code != 200:
                        stats["errors"] += 1
                        continue
                    data = battle.json()
                    started = time.perf_counter()
                    reply = await client.post("/api/arena/votes", json={"battle_id": data["battle_id"],
                                                                        "choice": rng.choice(("a", "b", "tie"))},
                                              headers={"X-CSRF-Token": data["csrf"]})
                stats["vote"].append(time.perf_counter() - started)
                if reply.status_code == 200:
                    stats["acked"] += 1
                else:
                    stats["errors"] += 1
            except httpx.HTTPError:
                stats["errors"] += 1
            if pause:
                await asyncio.sleep(pause * rng.uniform(0.8, 1.2))


VOTERS = {"lean": one_voter, "httpx": httpx_voter}
CROWD_LUA = Path(__file__).with_name("arena_crowd.lua")
PACED = 0.25  # seconds a paced voter of the PostgreSQL curve waits before each battle


def wrk_crowd(port: int, voters: int, seconds: float, pause: float = 0.0) -> dict:
    """The looping crowd run by wrk (benchmarks/arena_crowd.lua): one wrk thread per voter.
    wrk times every request (battle and vote alike), so its p50/p99 stand in the vote
    columns; the crowd's CPU is wrk's own (a child of this process)."""
    before = os.times()
    out = subprocess.run(["wrk", f"-t{voters}", f"-c{voters}", f"-d{seconds:g}s", "--timeout", "30s", "-s",
                          str(CROWD_LUA), f"http://127.0.0.1:{port}", "--", str(int(pause * 1000))],
                         capture_output=True, text=True, check=True)
    after = os.times()
    line = next(line for line in out.stdout.splitlines() if line.startswith("GAUNTLET "))
    fields = dict(item.split("=") for item in line.split()[1:])
    acked = int(fields["acked"])
    client_cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return {"kind": "gauntlet", "voters": voters, "pause": pause, "acked": acked, "errors": int(fields["errors"]),
            "per_s": acked / float(fields["seconds"]), "vote_p50": int(fields["p50_us"]) / 1000.0,
            "vote_p99": int(fields["p99_us"]) / 1000.0, "battle_p99": float("nan"),
            "client_ms": client_cpu * 1000.0 / max(1, acked)}


def crowd(kind: str, port: int, voters: int, seconds: float, pause: float = 0.0, client: str = "lean") -> dict:
    if client == "wrk":
        return wrk_crowd(port, voters, seconds, pause)
    stats = {"vote": [], "battle": [], "acked": 0, "errors": 0}
    rng = random.Random(voters)
    voter = VOTERS[client]

    async def run() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(voter(kind, f"http://127.0.0.1:{port}", deadline, pause, stats,
                                     random.Random(rng.getrandbits(32))) for _ in range(voters)))

    started, client_cpu = time.monotonic(), time.process_time()
    asyncio.run(run())
    elapsed, client_cpu = time.monotonic() - started, time.process_time() - client_cpu
    return {"kind": kind, "voters": voters, "pause": pause, "acked": stats["acked"], "errors": stats["errors"],
            "per_s": stats["acked"] / elapsed, "vote_p50": quantile(stats["vote"], 0.5),
            "vote_p99": quantile(stats["vote"], 0.99), "battle_p99": quantile(stats["battle"], 0.99),
            "client_ms": client_cpu * 1000.0 / max(1, stats["acked"])}


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def stored_votes(kind: str, where: str) -> int:
    if kind == "floor":
        with sqlite3.connect(where) as db:
            return db.execute("SELECT count(*) FROM votes").fetchone()[0]
    from gauntlet.store.repository import Store

    store = Store(where)
    try:
        return len(store.arena_votes(SLUG, ROUND))
    finally:
        store.sessions.kw["bind"].dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a server process and its children (uvicorn's workers), from /proc."""
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(kind: str, where: str, port: int, voters: int, seconds: float, pause: float = 0.0,
             pid: int | None = None, client: str = "lean") -> dict:
    before = stored_votes(kind, where)
    cpu = cpu_seconds(pid) if pid else 0.0
    row = crowd(kind, port, voters, seconds, pause, client)
    row["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1000.0 / max(1, row["acked"]) if pid else float("nan")
    row["stored"] = stored_votes(kind, where) - before
    if row["stored"] < row["acked"]:
        raise SystemExit(f"LOST VOTES: {kind} acknowledged {row['acked']} but stored {row['stored']}")
    return row


def show(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'server':<22}{'voters':>7}{'pause':>7}{'votes/s':>9}{'vote p50':>10}{'vote p99':>10}"
          f"{'battle p99':>12}{'acked':>7}{'stored':>8}{'errors':>7}{'server CPU/vote':>17}{'client CPU/vote':>17}")
    for r in rows:
        print(f"{r['label']:<22}{r['voters']:>7}{r['pause']:>6.1f}s{r['per_s']:>9.1f}{r['vote_p50']:>8.1f}ms"
              f"{r['vote_p99']:>8.1f}ms{r['battle_p99']:>10.1f}ms{r['acked']:>7}{r['stored']:>8}{r['errors']:>7}"
              f"{r['cpu_ms']:>15.2f}ms{r['client_ms']:>15.2f}ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each crowd run")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL curve")
    ap.add_argument("--client", choices=sorted(VOTERS), default="lean",
                    help="the crowd's HTTP client: httpcore with cookies kept by hand, or httpx's Client")
    ap.add_argument("--pg-client", choices=[*sorted(VOTERS), "wrk"], default="wrk" if shutil.which("wrk") else "lean",
                    help="the crowd of the PostgreSQL curve (default wrk where installed: `make bench-tools`)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks"),
                                                        os.environ.get("PYTHONPATH", "")])}
    gauntlet = [sys.executable, "-m", "gauntlet.cli"]
    if not args.no_sqlite:
        sqlite_tables(gauntlet, env, args.seconds, args.client)
    if not args.no_postgres:
        postgres_curve(gauntlet, env, args.seconds, args.pg_client)


def sqlite_tables(gauntlet: list[str], env: dict, seconds: float, client: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-arena-"))
    floor_db = work / "floor.sqlite"
    with sqlite3.connect(floor_db) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY, voter TEXT, choice TEXT)")
    url = f"sqlite:///{work / 'gauntlet.sqlite'}"
    prepare_store(url)
    floor_port, serve_port = free_port(), free_port()
    floor = start([sys.executable, "-m", "uvicorn", "--factory", "bench_arena_load:floor_app", "--port",
                   str(floor_port), "--log-level", "info"], floor_port, {**env, "BENCH_FLOOR_DB": str(floor_db)})
    serve = start([*gauntlet, "serve", "--db", url, "--port", str(serve_port)], serve_port, env)
    servers = (("floor", floor_port, str(floor_db), "floor (FastAPI+SQLite)", floor.pid),
               ("gauntlet", serve_port, url, "gauntlet serve", serve.pid))
    rows = []
    try:
        crowd("gauntlet", serve_port, 8, 2.0, client=client)  # warm both (imports, the desk's first load)
        crowd("floor", floor_port, 8, 1.0, client=client)
        for voters in (8, 32, 64):
            for kind, port, where, label, pid in servers:
                rows.append({**measured(kind, where, port, voters, seconds, pid=pid, client=client),
                             "label": label})
        for kind, port, where, label, pid in servers:
            rows.append({**measured(kind, where, port, 32, max(seconds, 10.0), pause=1.0, pid=pid,
                                    client=client), "label": label})
    finally:
        stop(serve)
        stop(floor)
    show(rows, f"SQLite, one process (a Gauntlet vote = battle + vote; a floor vote = one insert; {client} client)")
    loop32 = {r["kind"]: r for r in rows if r["voters"] == 32 and not r["pause"]}
    paced = {r["kind"]: r for r in rows if r["pause"]}
    ratio = loop32["gauntlet"]["per_s"] / loop32["floor"]["per_s"]
    p99, floor_p99 = paced["gauntlet"]["vote_p99"], paced["floor"]["vote_p99"]
    bound = 100.0 if floor_p99 <= 50.0 else 2 * floor_p99
    print(f"\n32 looping voters: gauntlet/floor votes/s = {ratio:.2f} (goal >= 0.5): {'MET' if ratio >= 0.5 else 'NOT MET'}")
    print(f"32 pausing voters: vote p99 {p99:.1f} ms, floor {floor_p99:.1f} ms, bound {bound:.0f} ms: "
          f"{'MET' if p99 <= bound else 'NOT MET'}")
    print("every acknowledged vote was found in its store after each run")
    print(f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: the crowd, both servers and "
          "anything else running share them; CPU/vote is the server's own time per acknowledged vote)")


def postgres_curve(gauntlet: list[str], env: dict, seconds: float, client: str) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import Server

    server = Server(os.environ.get("GAUNTLET_TEST_POSTGRES"))
    why = server.start()
    if why:
        print(f"\nPostgreSQL: skipped ({why})")
        return
    rows, paced = [], []
    try:
        for workers in (1, 2, 4):
            url = server.database()
            prepare_store(url)
            port = free_port()
            serve = start([*gauntlet, "serve", "--db", url, "--port", str(port), "--workers", str(workers)], port,
                          env)
            try:
                crowd("gauntlet", port, 8, 2.0, client=client)
                named = {"label": f"--workers {workers}", "workers": workers}
                rows.append({**measured("gauntlet", url, port, 32, seconds, pid=serve.pid, client=client), **named})
                paced.append({**measured("gauntlet", url, port, 32, seconds, pause=PACED, pid=serve.pid,
                                         client=client), **named})
            finally:
                stop(serve)
    finally:
        server.stop()
    note = "\n(wrk times battles and votes alike: its p50/p99 stand in the vote columns)" if client == "wrk" else ""
    show(rows, f"PostgreSQL (throwaway server, fsync off), 32 looping voters ({client} crowd), {os.cpu_count()} "
               "cores shared by the workers, PostgreSQL and the crowd" + note)
    print(scaling_verdict(rows, os.cpu_count() or 1))
    show(paced, f"The same, 32 voters pausing ~{PACED:g} s before each battle: a load one worker takes, so the "
                "CPU per vote is the cost of the processes, not of their taking turns on the cores" + note)
    print("server CPU per vote, --workers 2 and 4 against 1: " +
          ", ".join(f"x{r['cpu_ms'] / paced[0]['cpu_ms']:.2f}" for r in paced[1:]) +
          " (each process also screens the votes the others took, and commits in smaller batches)")


def scaling_verdict(rows: list[dict], cores: int) -> str:
    """Does throughput grow with --workers as far as this machine can show it?  A worker is one
    Python process and uses one core at most, so workers beyond the machine's cores can add
    nothing (they take turns, and PostgreSQL and the crowd need some of those cores too): a
    step to w workers is judged only where the machine has at least w cores."""
    lines = []
    for before, after in zip(rows, rows[1:]):
        workers = after["workers"]
        ratio = after["per_s"] / before["per_s"]
        step = f"{before['label']} -> {after['label']}: votes/s x{ratio:.2f}"
        if workers > cores:
            lines.append(f"{step}: not measurable here ({workers} workers need {workers} cores; "
                         f"this machine has {cores})")
        else:
            lines.append(f"{step} (goal > 1): {'MET' if ratio > 1.0 else 'NOT MET'}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
