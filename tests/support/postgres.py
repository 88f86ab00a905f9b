"""A throwaway PostgreSQL server for tests, started from the machine's own binaries.

`GAUNTLET_TEST_POSTGRES=postgresql+psycopg://...` uses a server you run instead.
Otherwise the newest /usr/lib/postgresql/*/bin (Debian's layout) or the binaries on
PATH start a private cluster in a temporary folder, listening only on a Unix socket
there; root cannot run PostgreSQL, so as root the cluster belongs to the `postgres`
user. Without binaries the tests that need the server are skipped, saying why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

ENV_VAR = "GAUNTLET_TEST_POSTGRES"


def _bin_dir() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0)
    for candidate in reversed(versions):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class Server:
    """A running server; `database()` makes a fresh empty database and returns its URL."""

    def __init__(self, url: str | None = None):
        self._external = url
        self._folder: Path | None = None
        self._run_as: list[str] = []

    def start(self) -> str | None:
        """None when it started (or an external one is set), else why it could not."""
        if self._external:
            return None
        bin_dir = _bin_dir()
        if bin_dir is None:
            return "no PostgreSQL binaries on this machine (set GAUNTLET_TEST_POSTGRES to use a server)"
        self._folder = Path(tempfile.mkdtemp(prefix="gauntlet-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to own the cluster"
            os.chown(self._folder, user.pw_uid, user.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        data = self._folder / "data"
        self._bin = bin_dir
        steps = [
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--locale=C"],
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(self._folder / "log"), "start", "-o",
             f"-k {self._folder} -c listen_addresses='' -c fsync=off -c full_page_writes=off -p 5432"],
        ]
        for step in steps:
            try:
                done = subprocess.run(self._run_as + step, capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"could not start PostgreSQL: {exc}"
            if done.returncode:
                return f"could not start PostgreSQL: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        return None

    def database(self) -> str:
        return self._create()

    def clone(self, url: str) -> str:
        """A new database with the contents of the one at `url` (CREATE DATABASE ... TEMPLATE);
        other sessions on the source are closed first, as PostgreSQL requires."""
        from sqlalchemy import make_url

        return self._create(template=make_url(url).database)

    def _create(self, template: str | None = None) -> str:
        """A new database (a copy of `template` when given); returns its URL."""
        from sqlalchemy import create_engine, text

        name = f"g_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self._url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if template is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": template})
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        return self._url(name)

    def _url(self, database: str) -> str:
        if self._external:
            base = self._external.rsplit("/", 1)[0]
            return f"{base}/{database}"
        return f"postgresql+psycopg://postgres@/{database}?host={self._folder}&port=5432"

    def stop(self) -> None:
        if self._folder is None:
            return
        subprocess.run(self._run_as + [str(self._bin / "pg_ctl"), "-D", str(self._folder / "data"), "-m", "immediate",
                                       "stop"], capture_output=True)
        shutil.rmtree(self._folder, ignore_errors=True)
