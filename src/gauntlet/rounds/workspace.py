"""Where a challenge run by `gauntlet challenge ...` keeps its things, and the
context every stage of a round works in.

A workspace is one folder: the content store of submitted models (`objects/`, `staging/`,
`models/`, as `gauntlet intake` lays it out), the fingerprints, the audit
evidence, the benchmark cache, cached arena answers, the decision ledger and
the published reports.  The database defaults to a SQLite file in it, so the
whole challenge can be copied or archived as one folder; `--db` / `GAUNTLET_DB`
point at any other SQLAlchemy URL.

The clock is passed in (`now`): nothing below the command line reads it, so a
deadline check can be replayed and tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gauntlet.errors import InputError, StoreError
from gauntlet.spec.model import ChallengeSpec, Round

DB_FILE = "gauntlet.sqlite"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def content(self):
        from gauntlet.artifacts.content_store import ContentStore

        return ContentStore(self.root)

    def db_url(self, url: str | None = None) -> str:
        """`url`, else `GAUNTLET_DB`, else the SQLite file in this workspace."""
        from gauntlet.store.db import ENV_VAR

        if url:
            return url
        if os.environ.get(ENV_VAR):
            return os.environ[ENV_VAR]
        return f"sqlite:///{(self.root / DB_FILE).resolve()}"

    @property
    def fingerprints(self) -> Path:
        return self.root / "fingerprints"

    def audits(self, round_id: str) -> Path:
        return self.root / "audits" / round_id

    @property
    def eval_cache(self) -> Path:
        return self.root / "eval-cache"

    @property
    def arena_answers(self) -> Path:
        return self.root / "arena-answers"

    @property
    def ledger(self) -> Path:
        """Where a store before the record moved into the database kept its ledger file."""
        return self.root / "ledger.jsonl"

    def report(self, round_id: str) -> Path:
        return self.root / "reports" / round_id


@dataclass(frozen=True)
class RoundContext:
    """A registered challenge: its spec, its store and its workspace."""

    spec: ChallengeSpec
    spec_text: str
    store: object  # gauntlet.store.repository.Store
    workspace: Workspace

    @property
    def slug(self) -> str:
        return self.spec.id

    def round(self, round_id: str) -> Round:
        try:
            return self.spec.round(round_id)
        except KeyError:
            known = ", ".join(r.id for r in self.spec.rounds)
            raise InputError(f"no round {round_id!r} in challenge {self.slug!r} (rounds: {known})") from None

    def state(self):
        """The challenge's state now, replayed from its record (`gauntlet.domain.lifecycle`)."""
        from gauntlet.rounds import service

        return service.state(self.store, self.spec)

    def require_locked(self, round_id: str, now: datetime) -> Round:
        """The round, once its submissions are frozen (recording the lock the first time): the
        audits compare every team with every other, and a decision must see the same
        submissions the audits saw."""
        from gauntlet.rounds import service

        rnd = self.round(round_id)
        service.lock(self.store, self.spec, rnd.id, aware(now))
        return rnd


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InputError(f"a time must carry its time zone, got {moment.isoformat()}")
    return moment


def parse_time(text: str) -> datetime:
    """An ISO-8601 time with its zone (`2026-01-15T10:00:00+09:00`, `...Z`)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now: expected an ISO-8601 time such as 2026-01-15T10:00:00+09:00, got {text!r}") from None
    return aware(moment)


def open_context(spec_path: str | Path, workspace: str | Path, db: str | None = None, *,
                 register: bool = False, at: datetime | None = None) -> RoundContext:
    """Load and validate the spec, open (and migrate) the store, and check that the
    challenge is registered with exactly this spec (`register=True` registers it, at `at`).
    A workspace whose store predates the record table has its ledger file imported."""
    from gauntlet import spec as spec_module
    from gauntlet.files import read_text
    from gauntlet.errors import SpecError
    from gauntlet.store.repository import Store

    text = read_text(spec_path, what="spec", error=SpecError)
    spec = spec_module.loads(text, source=f"spec {spec_path}")
    ws = Workspace(Path(workspace))
    ws.root.mkdir(parents=True, exist_ok=True)
    store = Store(ws.db_url(db))
    known = {c["slug"] for c in store.challenges()}
    if register:
        from gauntlet.rounds import service

        service.register(store, spec, text, aware(at))
    elif spec.id not in known:
        raise StoreError(f"challenge {spec.id!r} is not registered in this store; run `gauntlet challenge init` first")
    elif store.spec_text(spec.id) != text:
        raise InputError(f"spec {spec_path} differs from the one challenge {spec.id!r} was registered with; "
                         "a challenge's rules cannot change after registration")
    elif ws.ledger.is_file() and store.ledger_head(spec.id, drafts=True) is None:
        from gauntlet.rounds import service

        service.import_ledger_file(store, spec, ws.ledger)
    return RoundContext(spec, text, store, ws)
