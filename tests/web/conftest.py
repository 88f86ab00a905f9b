"""A populated challenge for the web tests, built through the application service and `Store` verbs.

`world` registers the example spec's first round: five teams with locked
submissions, components, audit findings (one derived, one inconclusive), a
real decision (`gauntlet.rounds.decide`) with a close call, arena prompts and
answers (one answer names its model), the spec's experts with the panel
assigned, a few jobs, and one token per role.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.ratings.prompts import demo_prompt_set
from gauntlet.rounds import decide
from gauntlet.store.repository import Store
from gauntlet.web.app import create_app

SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
SLUG = "k-sovereign-2026"
ROUND = "first"
TEAMS = {  # key: (model name, organisation) as in the example spec
    "lg": ("K-EXAONE", "LG AI Research"),
    "skt": ("A.X", "SK Telecom"),
    "upstage": ("Solar Open", "Upstage"),
    "naver": ("HyperCLOVA X Omni", "Naver Cloud"),
    "nc": ("VARCO", "NC AI"),
}
SCORES = {  # benchmark, expert, user: skt and nc sit close together with wide intervals
    "lg": (84.0, 90.3, 100.0), "skt": (71.0, 72.0, 70.0), "upstage": (78.0, 80.0, 82.0),
    "naver": (80.0, 80.3, 80.0), "nc": (70.0, 71.5, 71.0),
}
REVEALING = ("lg", "en-2")  # this answer names its model and must never be shown blind


def stored_model(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("config.json", 120, tag * 64), FileEntry("model.safetensors", 4096, tag[::-1] * 64)))
    return StoredModel(manifest.sha256, Path("/nowhere"), manifest)


def answer_text(team: str, prompt_id: str) -> str:
    # Team-specific but anonymous: no key, model or organisation name.
    style = {"lg": "차분하게", "skt": "간결하게", "upstage": "자세히", "naver": "친절하게", "nc": "짧게"}[team]
    return f"{style} 답합니다 ({prompt_id}). Here is a careful answer number {len(team) * 7 + len(prompt_id)}."


KST = timezone(timedelta(hours=9))
DEADLINE = datetime(2025, 12, 30, 18, 0, tzinfo=KST)  # the example spec's first round
PUBLISHED_AT = datetime(2026, 1, 15, 10, 0, tzinfo=KST)  # its decision date


class Clock:
    """The web app's clock: the day after the first round's decision was published."""

    def __init__(self) -> None:
        self.now = PUBLISHED_AT + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    url: str
    store: Store
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        """The challenge's folder (report folders are built here): the database file's."""
        return Path(self.url.removeprefix("sqlite:///")).parent

    def client(self, token: str | None = None, language: str | None = "en", **app_options) -> TestClient:
        """A client of the app; it reads pages in English (its `Accept-Language`) unless a test
        asks for another language, or for none (`language=None`: the spec's language decides)."""
        app_options.setdefault("workspace", self.workspace)
        client = TestClient(create_app(self.url, clock=self.clock, arena_seed=7, **app_options))
        if language is not None:
            client.headers["Accept-Language"] = language
        if token is not None:
            client.headers["Authorization"] = f"Bearer {self.tokens[token]}"
        return client

    # Helpers for the tests (test modules cannot import this conftest under importlib mode).
    slug, round, teams, revealing = SLUG, ROUND, TEAMS, REVEALING

    @staticmethod
    def leaks(text: str) -> list[str]:
        return identity_leaks(text)

    @staticmethod
    def csrf_of(page: str) -> str:
        return csrf_of(page)

    def code_of(self, team: str) -> str:
        panel = self.store.panel_rounds(SLUG)[0]
        return next(e["code"] for e in panel["entries"] if e["team"] == team)


def decision_inputs() -> dict:
    teams = []
    for key, (bench, expert, user) in SCORES.items():
        wide = 6.0 if key in ("skt", "nc") else 1.0
        teams.append({"team": key, "benchmark": {"value": bench, "lower": bench - wide, "upper": bench + wide},
                      "expert": expert, "user": user,
                      "independence": "derived" if key == "naver" else "independent"})
    return {"weights": {"benchmark": 40, "expert": 35, "user": 25}, "eliminate_lowest": 1,
            "resources": {"B200": 1536, "H100": 1536}, "teams": teams,
            "monte_carlo": {"seed": 0, "draws": 500}, "round": ROUND}


def populate(store: Store, *, publish: bool = True) -> World:
    """The example challenge's first round through the application service (as the CLI plays
    it): submissions, results, the lock, the decision (published unless `publish=False`)."""
    from gauntlet import spec as spec_module
    from gauntlet.rounds import service

    text = SPEC_PATH.read_text(encoding="utf-8")
    spec = spec_module.loads(text)
    service.register(store, spec, text, DEADLINE - timedelta(days=60))
    for i, key in enumerate(TEAMS):
        sub = service.submit(store, spec, key, ROUND, stored_model("abcde"[i]), "apache-2.0",
                             DEADLINE - timedelta(days=1))
        bench, expert, user = SCORES[key]
        store.record_component(sub, "benchmark", bench, bench - 2, bench + 2)
        store.record_component(sub, "expert", expert, expert - 3, expert + 3)
        verdict = {"naver": "derived", "nc": "inconclusive"}.get(key, "independent")
        p = 1e-9 if verdict == "derived" else 0.04 if key == "nc" else 0.6
        store.record_audit(sub, "glm-4.5-air", verdict, p,
                           {"reference": "glm-4.5-air", "verdict": verdict, "p_value": p, "modules": []})
    service.lock(store, spec, ROUND, DEADLINE + timedelta(hours=1))
    inputs = decision_inputs()
    outputs = decide(inputs)
    service.decide(store, spec, ROUND, inputs, PUBLISHED_AT - timedelta(days=1))
    if publish:
        service.publish(store, spec, ROUND, PUBLISHED_AT)

    prompts = demo_prompt_set(ROUND)
    store.add_arena_prompts(SLUG, ROUND, prompts.prompts)
    answers = {key: {p.id: answer_text(key, p.id) for p in prompts.prompts} for key in TEAMS}
    answers[REVEALING[0]][REVEALING[1]] = "As K-EXAONE, trained by LG AI Research, I would say: be kind."
    store.add_arena_answers(SLUG, ROUND, answers)

    for e in spec.expert_panel.experts:
        store.add_expert(SLUG, e.id, e.name, e.affiliations, e.conflicts)
    store.assign_panel(SLUG, ROUND, seed=3, at=DEADLINE + timedelta(days=2))

    store.record_job(SLUG, {"key": "audit-lg", "description": "independence audit lg", "state": "failed",
                            "attempts": 1, "error": "worker crashed (out of memory)"}, team="lg", round_key=ROUND,
                     kind="audit", at=DEADLINE + timedelta(days=1))
    store.record_job(SLUG, {"key": "eval-lg", "description": "benchmarks lg", "state": "running", "attempts": 1,
                            "completed": 3, "total": 9, "note": "global-math"}, team="lg", round_key=ROUND,
                     kind="evaluate", at=DEADLINE + timedelta(days=1))
    store.record_job(SLUG, {"key": "audit-skt", "description": "independence audit skt", "state": "failed",
                            "attempts": 2, "error": "timeout"}, team="skt", round_key=ROUND, kind="audit",
                     at=DEADLINE + timedelta(days=1))
    world = World(store.url, store, Clock(), inputs=inputs, outputs=outputs)
    world.tokens = {
        "organiser": store.create_token(SLUG, "organiser", label="Organiser", at=DEADLINE),
        "lg": store.create_token(SLUG, "team", "lg", at=DEADLINE),
        "skt": store.create_token(SLUG, "team", "skt", at=DEADLINE),
        "e3": store.create_token(SLUG, "expert", "e3", at=DEADLINE),  # declared a conflict with lg
    }
    for e in spec.expert_panel.experts:
        world.tokens.setdefault(e.id, store.create_token(SLUG, "expert", e.id, at=DEADLINE))
    return world


def _template(tmp_path_factory, name: str, publish: bool) -> tuple[Path, World]:
    """Populate once; each test gets its own copy of the database file (migrating and
    populating per test would dominate the suite's time)."""
    path = tmp_path_factory.mktemp(name) / "web.sqlite"
    store = Store(f"sqlite:///{path}")
    template = populate(store, publish=publish)
    engine = store.sessions.kw["bind"]
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, template


def _copy(template: tuple[Path, World], tmp_path: Path) -> World:
    source, world = template
    target = tmp_path / source.parent.name / "web.sqlite"
    target.parent.mkdir()
    shutil.copyfile(source, target)
    store = Store(f"sqlite:///{target}")
    return World(store.url, store, Clock(), tokens=dict(world.tokens), inputs=world.inputs, outputs=world.outputs)


@pytest.fixture(scope="session")
def _world_template(tmp_path_factory) -> tuple[Path, World]:
    return _template(tmp_path_factory, "world", publish=True)


@pytest.fixture(scope="session")
def _draft_template(tmp_path_factory) -> tuple[Path, World]:
    return _template(tmp_path_factory, "draft-world", publish=False)


@pytest.fixture
def world(_world_template, tmp_path) -> World:
    """The first round decided and published."""
    return _copy(_world_template, tmp_path)


@pytest.fixture
def draft_world(_draft_template, tmp_path) -> World:
    """The first round decided, its decision still a draft: nothing of it is public."""
    return _copy(_draft_template, tmp_path)


def identity_leaks(text: str) -> list[str]:
    """Team keys (whole words), model names and organisations found in `text`."""
    found = [k for k in TEAMS if re.search(rf"(?<![A-Za-z0-9_-]){re.escape(k)}(?![A-Za-z0-9_-])", text)]
    for name, org in TEAMS.values():
        found += [term for term in (name, org) if term in text]
    return found


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page carries no CSRF field"
    return match.group(1)


# The browser tests' fixtures (served app, Chromium, screenshot folder), shared by every
# tests/web/test_browser*.py so that each role's flows can live in a file of its own.
from tests.web.browser_fixtures import browser, needs_browser, served, shots  # noqa: E402,F401
