"""A real round, stage by stage, over the store: what `gauntlet challenge ...` runs.

    ctx = open_context("challenge.toml", "work")          # gauntlet.rounds.workspace
    tokens = init_challenge(ctx)                          # teams, experts, role tokens
    submit(ctx, "lg", "models/lg", "first", now=...)      # intake, deadline, licence
    audit_round(ctx, "first", {"glm-4.5-air": "ref/"}, now=..., executor=...)
    evaluate_round(ctx, "first", "tasks/", now=..., executor=...)
    open_arena(ctx, "first", "prompts.jsonl", now=..., executor=...)
    open_panel(ctx, "first", now=...)
    # ... voters and experts act through the web app (/arena, /expert) ...
    decide_round(ctx, "first", now=...)                   # gauntlet.rounds.gather

Every stage reads its inputs from the store and writes its results there, so
stages can run on different days, from different machines, and a stage that
failed halfway is finished by running it again: teams already done are
skipped.  Jobs go through an executor with their states recorded for the team
pages.  The clock is always passed in; the first stage run after a round's
deadline records its lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.jobs.base import Job
from gauntlet.rounds.stage_jobs import (
    answers_job,
    audit_job,
    fingerprint_job,
    raise_failures,
    run_recorded,
    split_failures,
)
from gauntlet.rounds.workspace import RoundContext, aware

FINGERPRINT_SUFFIX = ".gfp"


# ----------------------------------------------------------------------------- registration


def init_challenge(ctx: RoundContext, *, now: datetime) -> list[tuple[str, str]]:
    """Register the spec's experts and issue one role token each, for every team and the
    organiser too (the teams were registered with the challenge).  Returns (who, token) pairs: tokens are shown once, only hashes are kept."""
    store, slug = ctx.store, ctx.slug
    experts = ctx.spec.expert_panel.experts if ctx.spec.expert_panel else ()
    for e in experts:
        store.add_expert(slug, e.id, e.name, e.affiliations, e.conflicts)
    tokens = [("organiser", store.create_token(slug, "organiser", label="organiser", at=now))]
    tokens += [(f"team {t.id}", store.create_token(slug, "team", t.id, label=f"team {t.name}", at=now))
               for t in ctx.spec.teams]
    tokens += [(f"expert {e.id}", store.create_token(slug, "expert", e.id, label=f"expert {e.name}", at=now))
               for e in experts]
    return tokens


# ----------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Receipt:
    team: str
    round: str
    submission_id: int
    manifest_sha256: str
    total_bytes: int
    licence: str | None
    licence_allowed: bool | None  # None: the spec has no eligibility rule


def submit(ctx: RoundContext, team_id: str, model_dir: str | Path, round_id: str, *, now: datetime,
           progress: bool = True, declared=None, link: bool = False) -> Receipt:
    """Accept a team's model for a round: the lifecycle's rules first (the team takes part,
    the round is open, the deadline by `now`), then the folder is validated and hashed in
    the content store's staging area, committed whole, and the submission, the licence its
    files declare and its event are recorded together (`gauntlet.rounds.service.submit`).

    `declared` (a `Manifest`: what a team said it sent, `gauntlet.artifacts.intakes`) must
    match the staged files exactly, else nothing is stored; `link` hard-links the store's
    own received files into staging instead of copying them."""
    from gauntlet.artifacts.content_store import IntakeLimits
    from gauntlet.artifacts.intake import staged_intake
    from gauntlet.artifacts.intakes import check_declared
    from gauntlet.domain.lifecycle import Event, RuleBroken, check
    from gauntlet.rounds import service
    from gauntlet.rounds.licences import detect_licence

    ctx.round(round_id)
    try:  # refuse before copying gigabytes; the service checks again inside its transaction
        check(ctx.state(), Event("submission", aware(now), round_id, {"team": team_id, "artifact": "?"}))
    except RuleBroken as exc:
        raise InputError(str(exc)) from None
    limits = IntakeLimits(ctx.spec.submissions.max_bytes, ctx.spec.submissions.max_files)
    with staged_intake(model_dir, ctx.workspace.content, progress=progress, limits=limits, link=link) as staged:
        if declared is not None:
            check_declared(declared, staged.manifest)
        stored = staged.commit()
    licence = detect_licence(stored.path)
    submission_id = service.submit(ctx.store, ctx.spec, team_id, round_id, stored, licence, now)
    allowed = None if ctx.spec.eligibility is None else licence in ctx.spec.eligibility.licences
    return Receipt(team_id, round_id, submission_id, stored.id, stored.manifest.total_bytes, licence, allowed)


def _submissions(ctx: RoundContext, round_id: str) -> list[dict]:
    subs = ctx.store.round_submissions(ctx.slug, round_id)
    if not subs:
        raise InputError(f"round {round_id!r} has no submissions")
    return subs


# ----------------------------------------------------------------------------- independence audit


def _reference_prints(ctx: RoundContext, references: Mapping[str, str | Path], library: str | Path | None,
                      round_id: str) -> tuple[dict[str, Path], list[Job]]:
    """The spec's references as fingerprint files (named and given their origin by the
    spec), and jobs to fingerprint those given as model folders."""
    from gauntlet.provenance import Fingerprint, Library

    policy = ctx.spec.independence
    out_dir = ctx.workspace.fingerprints / "references"
    out_dir.mkdir(parents=True, exist_ok=True)
    prints: dict[str, Path] = {}
    jobs: list[Job] = []
    for name, source in references.items():
        known = policy.reference(name)
        if known is None:
            listed = ", ".join(r.id for r in policy.references) or "none"
            raise InputError(f"--reference {name}: not one of the spec's [[independence.references]] ({listed})")
        origin = {"organisation": known.organisation, "country": known.country, "licence": known.licence}
        path, target = Path(source), out_dir / f"{name}{FINGERPRINT_SUFFIX}"
        if path.is_dir():
            jobs.append(Job(f"fingerprint-{round_id}-reference-{name}", fingerprint_job,
                            (str(path), name, origin, str(target)), description=f"fingerprint reference {name}"))
        elif path.is_file():
            # The spec, not the file, says where a reference comes from: the policy judges that origin.
            fingerprint = Fingerprint.load(path)
            fingerprint.name, fingerprint.origin = name, {**fingerprint.origin, **origin}
            fingerprint.save(target)
        else:
            raise InputError(f"--reference {name}={source}: no such model folder or fingerprint file")
        prints[name] = target
    if library is not None:
        for entry in Library.load(library):
            if entry.name in prints:
                raise InputError(f"reference {entry.name!r} is given both by --reference and in the library")
            prints[entry.name] = Path(entry.source)
    missing = [r.id for r in policy.references if r.id not in prints]
    if missing:
        raise InputError(f"the spec's reference {missing[0]!r} was not given: pass --reference {missing[0]}=PATH "
                         "(a model folder or fingerprint file) or a --library that holds it")
    return prints, jobs


def audit_round(ctx: RoundContext, round_id: str, references: Mapping[str, str | Path], *, now: datetime,
                executor, library: str | Path | None = None, alpha: float | None = None,
                progress: bool = True) -> dict[str, str]:
    """Fingerprint every submission and audit each one not yet audited against the
    spec's references and every other team; returns {team: verdict} for those audited now."""
    from gauntlet.provenance import DEFAULT_ALPHA

    ctx.require_locked(round_id, now)
    subs = _submissions(ctx, round_id)
    if all(sub["audits"] for sub in subs):
        return {}
    ref_prints, jobs = _reference_prints(ctx, references, library, round_id)
    team_prints: dict[str, Path] = {}
    owners: dict[str, str] = {}
    for sub in subs:
        team = sub["team"]
        path = ctx.workspace.fingerprints / f"{team}-{sub['manifest_sha256'][:16]}{FINGERPRINT_SUFFIX}"
        team_prints[team] = path
        if not path.exists():  # content-addressed: a stored model's fingerprint never changes
            key = f"fingerprint-{round_id}-{team}"
            owners[key] = team
            origin = {"organisation": sub["organisation"], "country": sub["country"]}
            jobs.append(Job(key, fingerprint_job, (sub["stored_path"], team, origin, str(path)),
                            description=f"fingerprint {team}"))
    done, failed = split_failures(run_recorded(executor, jobs, ctx.store, ctx.slug,
                                               round_id=round_id, kind="fingerprint", teams=owners,
                                               progress=progress, at=now))
    raise_failures("fingerprints", failed)

    evidence = ctx.workspace.audits(round_id)
    evidence.mkdir(parents=True, exist_ok=True)
    level = alpha if alpha is not None else DEFAULT_ALPHA
    audits, owners = [], {}
    for sub in subs:
        if sub["audits"]:
            continue
        team = sub["team"]
        others = [str(p) for t, p in team_prints.items() if t != team]
        key = f"audit-{round_id}-{team}"
        owners[key] = team
        audits.append(Job(key, audit_job, (str(team_prints[team]), [*map(str, ref_prints.values()), *others], level,
                                           str(evidence / f"{team}.html"), ctx.spec.language),
                          description=f"independence audit {team}"))
    done, failed = split_failures(run_recorded(executor, audits, ctx.store, ctx.slug, round_id=round_id,
                                               kind="audit", teams=owners, progress=progress, at=now))
    verdicts = {}
    by_team = {s["team"]: s for s in subs}
    for key, report in done.items():
        team = owners[key]
        for ref in report["references"]:
            document = {**ref, "alpha": report["alpha"], "evidence": f"{team}.html"}
            ctx.store.record_audit(by_team[team]["submission_id"], ref["reference"], ref["verdict"], ref["p_value"],
                                   document)
        verdicts[team] = report["verdict"]
    raise_failures("audit", failed)
    return verdicts


# ----------------------------------------------------------------------------- benchmarks


def round_suite(ctx: RoundContext, tasks_dir: str | Path, *, only_available: bool = False):
    """The spec's `[benchmarks]` as an evaluation suite over the task files in `tasks_dir`
    (each spec task id names a task YAML there; weights are points within the component,
    so each group weighs the sum of its tasks)."""
    from gauntlet.evaluation import Suite, SuiteEntry, find_task_refs

    if not ctx.spec.benchmarks:
        raise InputError(f"challenge {ctx.slug!r} declares no [benchmarks]")
    refs = {r.name: r for r in find_task_refs(tasks_dir)}
    entries, missing = [], []
    for task in ctx.spec.benchmarks:
        if task.id not in refs:
            missing.append(task.id)
            continue
        entries.append(SuiteEntry(task=task.id, ref=refs[task.id], weight=task.weight, metric=task.metric,
                                  group=task.group, target=task.target_model))
    if missing and not only_available:
        raise InputError(f"benchmark task {missing[0]!r} of the spec has no task file under {tasks_dir} "
                         f"({len(missing)} missing; --only-available scores the rest)")
    if not entries:
        raise InputError(f"none of the spec's benchmark tasks has a task file under {tasks_dir}")
    return Suite(name=f"{ctx.slug}", entries=tuple(entries)), missing


def evaluate_round(ctx: RoundContext, round_id: str, tasks_dir: str | Path, *, now: datetime, executor,
                   settings=None, seed: int = 0, targets: Mapping[str, str | Path] | None = None,
                   only_available: bool = False, progress: bool = True) -> dict:
    """Run the round's suite on every submission without a benchmark component and store
    the component (0-100, item-bootstrap interval and replicates) with its evidence."""
    from gauntlet.evaluation import BackendSettings, benchmark_score, evaluate_model

    ctx.require_locked(round_id, now)
    subs = _submissions(ctx, round_id)
    suite, missing = round_suite(ctx, tasks_dir, only_available=only_available)
    settings = settings or BackendSettings()
    needed = sorted({e.target for e in suite.entries if e.target})
    unknown = [t for t in needed if t not in (targets or {})]
    if unknown:
        raise InputError(f"suite entries are scored relative to target {unknown[0]!r}: pass --target {unknown[0]}=MODEL_DIR")
    options = {"backend": settings.backend, "device": settings.device, "batch_size": settings.batch_size,
               "dtype": settings.dtype, "base_url": settings.base_url, "served_model": settings.served_model,
               "max_length": settings.max_length, "cache_dir": str(ctx.workspace.eval_cache), "seed": seed,
               "progress": False}
    jobs, owners = [], {}
    for sub in subs:
        if "benchmark" in sub["components"]:
            continue
        key = f"evaluate-{round_id}-{sub['team']}"
        owners[key] = sub["team"]
        jobs.append(Job(key, evaluate_model, (sub["stored_path"], suite), {**options, "label": sub["team"]},
                        description=f"benchmarks {sub['team']}", retries=1))
    for name in needed if jobs else ():
        jobs.append(Job(f"evaluate-{round_id}-target-{name}", evaluate_model, (str(targets[name]), suite),
                        {**options, "label": name}, description=f"benchmarks of target {name}", retries=1))
    done, failed = split_failures(run_recorded(executor, jobs, ctx.store, ctx.slug, round_id=round_id,
                                               kind="evaluate", teams=owners, progress=progress, at=now))
    target_results = {name: done[f"evaluate-{round_id}-target-{name}"] for name in needed
                      if f"evaluate-{round_id}-target-{name}" in done}
    scores = {}
    by_team = {s["team"]: s for s in subs}
    for key, evaluation in done.items():
        team = owners.get(key)
        if team is None or (needed and len(target_results) < len(needed)):
            continue
        score = benchmark_score(evaluation, suite, targets=target_results or None, seed=seed)
        c = score.component
        detail = {"samples": list(c.samples), "suite": suite.to_dict(), "skipped_tasks": missing,
                  "groups": {g: s.to_dict() for g, s in score.groups.items()},
                  "entries": [e.to_dict() for e in score.entries], "model_hash": evaluation.model_hash,
                  "harness_version": evaluation.harness_version, "backend": evaluation.backend, "seed": seed}
        ctx.store.record_component(by_team[team]["submission_id"], "benchmark", c.value, c.lower, c.upper, detail)
        scores[team] = c
    raise_failures("benchmarks", failed)
    return scores


# ----------------------------------------------------------------------------- arena and panel


def read_prompts(path: str | Path, round_id: str):
    """A prompt set from JSON (a list, or {"prompts": [...]}), JSON Lines, or TOML
    (`[[prompts]]`); each prompt has `id`, `language` (ko or en) and `text`."""
    from gauntlet.files import parse_json, parse_toml, read_text
    from gauntlet.ratings.arena import Prompt, PromptSet

    path = Path(path)
    text = read_text(path, what="prompt file")
    what = f"prompt file {path}"
    if path.suffix == ".toml":
        rows = parse_toml(text, what=what).get("prompts")
    elif path.suffix == ".jsonl":
        rows = [parse_json(line, what=f"{what}: line {n}") for n, line in enumerate(text.splitlines(), 1)
                if line.strip()]
    else:
        document = parse_json(text, what=what)
        rows = document.get("prompts") if isinstance(document, dict) else document
    if not isinstance(rows, list) or not rows:
        raise InputError(f"prompt file {path}: expected a non-empty list of prompts")
    prompts = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("id", "language", "text")):
            raise InputError(f"prompt file {path}: prompt {i + 1} needs string fields id, language and text")
        prompts.append(Prompt(row["id"], row["language"], row["text"]))
    return PromptSet(round_id, tuple(prompts))


def open_arena(ctx: RoundContext, round_id: str, prompts_file: str | Path, *, now: datetime, executor,
               settings=None, seed: int = 0, max_new_tokens: int | None = None, progress: bool = True) -> dict:
    """Generate every submission's answers to the round's prompts (through the benchmark
    backends, cached by model content and settings) and store prompts and answers, so
    `/arena` serves blind battles.  Returns the store's {"stored", "excluded"} counts."""
    from gauntlet.evaluation import BackendSettings
    from gauntlet.evaluation.generation import DEFAULT_MAX_NEW_TOKENS
    from gauntlet.ratings.arena import AnswerCache

    ctx.require_locked(round_id, now)
    subs = _submissions(ctx, round_id)
    prompts = read_prompts(prompts_file, round_id)
    settings = settings or BackendSettings()
    tokens = max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    recipe = hashlib.sha256(json.dumps([settings.identity(), tokens, seed], sort_keys=True).encode()).hexdigest()[:16]
    cache = AnswerCache(ctx.workspace.arena_answers)
    answers, jobs, owners = {}, [], {}
    for sub in subs:
        cache_id = f"{sub['manifest_sha256']}:{recipe}"
        have = cache.get(cache_id)
        todo = [(p.id, p.text) for p in prompts.prompts if p.id not in have]
        answers[sub["team"]] = have
        if todo:
            key = f"arena-answers-{round_id}-{sub['team']}"
            owners[key] = sub["team"]
            jobs.append(Job(key, answers_job, (sub["stored_path"], todo, settings, seed, tokens),
                            description=f"arena answers {sub['team']}", retries=1))
    done, failed = split_failures(run_recorded(executor, jobs, ctx.store, ctx.slug, round_id=round_id,
                                               kind="arena", teams=owners, progress=progress, at=now))
    raise_failures("arena answers", failed)
    by_team = {s["team"]: s for s in subs}
    for key, fresh in done.items():
        team = owners[key]
        cache.put(f"{by_team[team]['manifest_sha256']}:{recipe}", fresh)
        answers[team] = {**answers[team], **fresh}
    ctx.store.add_arena_prompts(ctx.slug, round_id, prompts.prompts)
    identities = {t.id: [t.id, t.name, t.organisation] for t in ctx.spec.teams}
    return ctx.store.add_arena_answers(ctx.slug, round_id, {t: {p.id: answers[t][p.id] for p in prompts.prompts}
                                                            for t in answers},
                                       identities={t: identities[t] for t in answers})


def open_panel(ctx: RoundContext, round_id: str, *, now: datetime, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Assign each submission its anonymous code and k conflict-free reviewers; the
    experts review the round's arena answers, so the arena must be open first."""
    ctx.require_locked(round_id, now)
    subs = _submissions(ctx, round_id)
    answered = set(ctx.store.arena_teams(ctx.slug, round_id))
    lacking = [s["team"] for s in subs if s["team"] not in answered]
    if lacking:
        raise InputError(f"team {lacking[0]!r} has no arena answers in round {round_id!r}: the panel reviews them, "
                         "so open the arena first (gauntlet challenge arena open)")
    return ctx.store.assign_panel(ctx.slug, round_id, seed=seed, at=now)
