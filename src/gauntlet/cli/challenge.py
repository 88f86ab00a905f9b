"""`gauntlet challenge ...`: run a real round over the store, stage by stage.

    gauntlet challenge init challenge.toml                       # teams, experts, role tokens
    gauntlet challenge submit challenge.toml lg models/lg         # before the deadline
    gauntlet challenge audit challenge.toml --round first --reference glm-4.5-air=refs/glm
    gauntlet challenge evaluate challenge.toml --round first --tasks tasks/
    gauntlet challenge arena open challenge.toml --round first --prompts prompts.jsonl
    gauntlet challenge panel open challenge.toml --round first
    gauntlet serve --workspace gauntlet-store                    # voters on /arena, experts on /expert
    gauntlet challenge decide challenge.toml --round first       # a draft, for the organisers
    gauntlet challenge publish challenge.toml --round first      # public: report folder, bundle
    gauntlet challenge appeal|answer|redecide ...                # after publication
    gauntlet challenge join challenge.toml newco                 # an entrant, at its round

Every command takes its time from `--now` (the clock only when it is not
given) and is a few lines over `gauntlet.rounds` (the pipeline stages and the
application service, `gauntlet.rounds.service`).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from gauntlet.cli import app

challenge_app = typer.Typer(help="Run a challenge round over the store: register, submit, audit, evaluate, "
                                 "open the arena and the panel, decide.", no_args_is_help=True)
arena_app = typer.Typer(help="The round's public arena.", no_args_is_help=True)
panel_app = typer.Typer(help="The round's expert panel.", no_args_is_help=True)
app.add_typer(challenge_app, name="challenge")
challenge_app.add_typer(arena_app, name="arena")
challenge_app.add_typer(panel_app, name="panel")

SPEC = typer.Argument(..., help="The challenge spec (TOML) the challenge was registered with.")
STORE_HELP = "Workspace folder: stored models, fingerprints, evidence, caches, ledger, reports (and the SQLite store)."
DB_HELP = "SQLAlchemy database URL (default: $GAUNTLET_DB, else gauntlet.sqlite in the workspace)."
NOW_HELP = "The time to act at, ISO-8601 with zone (default: the clock); for tests and replays."
LANG_HELP = "Language of the HTML reports it writes: ko or en (default: the spec's language)."


def report_language(lang: str | None) -> str | None:
    """`--lang` checked: one of the languages Gauntlet speaks, or None for the spec's."""
    from gauntlet import i18n
    from gauntlet.errors import InputError

    if lang is None:
        return None
    if lang.strip().lower() not in i18n.LANGUAGES:
        raise InputError(f"--lang must be one of {', '.join(i18n.LANGUAGES)}, got {lang[:20]!r}")
    return lang.strip().lower()
WORKERS_HELP = "Worker processes for the jobs (default: one per two cores; 0 runs them in this process)."
RAY = typer.Option(None, "--ray", help="Run the jobs on Ray instead: 'auto' (this machine's cluster), "
                                       "HOST:PORT, ray://HOST:PORT, or 'local'. Model and store paths must be "
                                       "visible to every node.")
RAY_GPUS = typer.Option(0.0, "--ray-gpus", min=0.0, help="GPUs each Ray job asks for (e.g. 1 for vLLM).")
# The options every stage and record command shares, declared once.
ROUND = typer.Option(..., "--round", help="Round id.")
NOW = typer.Option(None, "--now", help=NOW_HELP)
DB = typer.Option(None, "--db", help=DB_HELP)
WORKERS = typer.Option(None, "--workers", help=WORKERS_HELP)
QUIET = typer.Option(False, "--quiet", help="No progress display.")


def _store_option():
    return typer.Option(Path("gauntlet-store"), "--store", help=STORE_HELP)


def _now(text: Optional[str]):
    from datetime import datetime, timezone

    from gauntlet.rounds.workspace import parse_time

    return parse_time(text) if text else datetime.now(timezone.utc)  # the only clock: the shell's


def _context(spec: Path, store: Path, db: Optional[str], register: bool = False):
    from gauntlet.rounds.workspace import open_context

    return open_context(spec, store, db, register=register)


def _pairs(values: List[str], option: str) -> dict[str, str]:
    from gauntlet.errors import InputError

    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"{option}: expected NAME=PATH, got {value!r}")
        if name.strip() in out:
            raise InputError(f"{option}: {name.strip()!r} is given twice")
        out[name.strip()] = path.strip()
    return out


def _settings(backend: str, device: str, batch_size: Optional[str], base_url: Optional[str],
              served_model: Optional[str]):
    from gauntlet.evaluation import BackendSettings

    size = int(batch_size) if batch_size and batch_size.isdigit() else batch_size
    return BackendSettings(backend=backend, device=device, batch_size=size, base_url=base_url,
                           served_model=served_model)


BACKEND = typer.Option("hf", "--backend", help="hf, vllm or local-completions (as for `gauntlet evaluate`).")
DEVICE = typer.Option("cpu", "--device", help="Device for the hf backend (cpu, cuda, ...).")
BATCH = typer.Option(None, "--batch-size", help="Integer or 'auto' (default: auto on GPU, 8 on CPU).")
BASE_URL = typer.Option(None, "--base-url", help="local-completions: the endpoint URL.")
SERVED = typer.Option(None, "--served-model", help="local-completions: model name sent to the endpoint.")


@challenge_app.command("init")
def init_command(spec: Path = SPEC, store: Path = _store_option(),
                 db: Optional[str] = DB,
                 now: Optional[str] = NOW) -> None:
    """Register the challenge, its teams and experts, and print their sign-in tokens.

    Validates the spec first. One token per role (organiser, each team, each
    expert) is printed once; the store keeps only their hashes.
    """
    from gauntlet.rounds.pipeline import init_challenge

    from gauntlet.rounds.workspace import open_context

    moment = _now(now)
    ctx = open_context(spec, store, db, register=True, at=moment)
    tokens = init_challenge(ctx, now=moment)
    typer.echo(f"registered challenge {ctx.slug!r}: {len(ctx.spec.teams)} teams, "
               f"{len(tokens) - 1 - len(ctx.spec.teams)} experts; store {ctx.workspace.db_url(db)}")
    typer.echo("sign-in tokens (shown once; only their hashes are stored):")
    for who, token in tokens:
        typer.echo(f"  {who}: {token}")


@challenge_app.command("submit")
def submit_command(
    spec: Path = SPEC,
    team: str = typer.Argument(..., help="The team's id in the spec."),
    model_dir: Path = typer.Argument(..., help="Model folder: config.json + *.safetensors (+ tokenizer, LICENSE)."),
    round_id: Optional[str] = typer.Option(None, "--round", help="Round id (default: the current round)."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Submit a team's model for a round (refused after the round's deadline).

    The folder is validated, hashed and stored immutably, locked as the team's
    one submission for the round, and the licence it declares is recorded.
    """
    from gauntlet.errors import InputError
    from gauntlet.rounds.pipeline import submit

    ctx = _context(spec, store, db)
    moment = _now(now)
    if round_id is None:
        current = ctx.state().current_round()
        if current is None:
            raise InputError(f"challenge {ctx.slug!r} is over: every round is decided")
        round_id = current.id
    receipt = submit(ctx, team, model_dir, round_id, now=moment, progress=not quiet)
    allowed = {None: "", True: " (allowed)", False: " (NOT on the spec's list: ineligible)"}[receipt.licence_allowed]
    typer.echo(f"team {receipt.team!r}, round {receipt.round!r}: submission #{receipt.submission_id} locked as "
               f"{receipt.manifest_sha256} ({receipt.total_bytes:,} bytes); licence {receipt.licence or 'none declared'}"
               f"{allowed}")


@challenge_app.command("audit")
def audit_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    reference: List[str] = typer.Option([], "--reference", help="NAME=PATH: a spec reference's model folder or "
                                                                 "fingerprint file (repeatable)."),
    library: Optional[Path] = typer.Option(None, "--library", help="Folder of reference fingerprints with origins."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Significance level for 'derived' (default 1e-4)."),
    workers: Optional[int] = WORKERS,
    ray: Optional[str] = RAY, ray_gpus: float = RAY_GPUS,
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    quiet: bool = QUIET,
) -> None:
    """Audit every submission of a closed round against the references and each other.

    Fingerprint and audit jobs run through the executor with their states on
    the team pages; each team's HTML evidence is kept in the workspace.
    """
    from gauntlet.rounds.pipeline import audit_round
    from gauntlet.rounds.stage_jobs import make_executor

    ctx = _context(spec, store, db)
    verdicts = audit_round(ctx, round_id, _pairs(reference, "--reference"), now=_now(now), library=library,
                           alpha=alpha, executor=make_executor(workers, ray=ray, ray_gpus=ray_gpus), progress=not quiet)
    if not verdicts:
        typer.echo(f"every submission of round {round_id!r} was already audited")
    for team, verdict in sorted(verdicts.items()):
        typer.echo(f"  {team}: {verdict}")
    typer.echo(f"evidence: {ctx.workspace.audits(round_id)}")


@challenge_app.command("evaluate")
def evaluate_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    tasks: Path = typer.Option(..., "--tasks", help="Folder of lm-eval task YAMLs named by the spec's benchmark ids."),
    target: List[str] = typer.Option([], "--target", help="NAME=MODEL_DIR for tasks scored relative to a target."),
    only_available: bool = typer.Option(False, "--only-available", help="Score the spec's tasks found in --tasks "
                                                                         "and record the others as skipped."),
    backend: str = BACKEND, device: str = DEVICE, batch_size: Optional[str] = BATCH,
    base_url: Optional[str] = BASE_URL, served_model: Optional[str] = SERVED,
    seed: int = typer.Option(0, "--seed", help="Seed for lm-eval and the item bootstrap."),
    workers: Optional[int] = WORKERS,
    ray: Optional[str] = RAY, ray_gpus: float = RAY_GPUS,
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    quiet: bool = QUIET,
) -> None:
    """Run the spec's benchmark suite on every submission of a closed round.

    Each team's evaluation is a job through lm-evaluation-harness (cached by
    model content and task); the benchmark component is stored with its interval.
    """
    from gauntlet.rounds.pipeline import evaluate_round
    from gauntlet.rounds.stage_jobs import make_executor

    ctx = _context(spec, store, db)
    scores = evaluate_round(ctx, round_id, tasks, now=_now(now), executor=make_executor(workers, ray=ray, ray_gpus=ray_gpus),
                            settings=_settings(backend, device, batch_size, base_url, served_model), seed=seed,
                            targets=_pairs(target, "--target"), only_available=only_available, progress=not quiet)
    if not scores:
        typer.echo(f"every submission of round {round_id!r} already has its benchmark component")
    for team, score in sorted(scores.items()):
        typer.echo(f"  {team}: benchmark {score.value:.1f} [{score.lower:.1f}, {score.upper:.1f}]")


@challenge_app.command("own-work")
def own_work_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    chain: List[str] = typer.Option([], "--chain", help="TEAM=CHAIN.json: a team's training-run chain (repeatable)."),
    reference: List[str] = typer.Option([], "--reference", help="NAME=PATH: a spec reference's model folder or "
                                                                 "fingerprint file (repeatable)."),
    tasks: Optional[Path] = typer.Option(None, "--tasks", help="Folder of lm-eval task YAMLs whose items are marked "
                                                               "published or held out (runs the contamination test)."),
    seed: int = typer.Option(0, "--seed", help="Seed for lm-eval and the item bootstrap."),
    workers: Optional[int] = WORKERS,
    ray: Optional[str] = RAY, ray_gpus: float = RAY_GPUS,
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    quiet: bool = QUIET,
) -> None:
    """Verify the teams' training-run chains and test their benchmarks for contamination.

    Each chain is verified against the references and every other team's model; the
    contamination test compares published with held-out items, corrected across every
    team and task. Results are stored for the decision; what is stored is skipped.
    """
    from gauntlet.errors import InputError
    from gauntlet.rounds.own_work import own_work_round
    from gauntlet.rounds.stage_jobs import make_executor

    ctx = _context(spec, store, db)
    references = _pairs(reference, "--reference")
    known = {r.id for r in ctx.spec.independence.references}
    for name in references:
        if name not in known:
            raise InputError(f"--reference {name}: not one of the spec's [[independence.references]] "
                             f"({', '.join(sorted(known)) or 'none'})")
    if not chain and tasks is None:
        raise InputError("nothing to do: pass --chain TEAM=CHAIN.json and/or --tasks DIR")
    result = own_work_round(ctx, round_id, tasks, now=_now(now), chains=_pairs(chain, "--chain"),
                            references=references, seed=seed, progress=not quiet,
                            executor=make_executor(workers, ray=ray, ray_gpus=ray_gpus))
    for team, found in sorted(result["chains"].items()):
        when = "" if team in result["done_now"] else " (verified before)"
        typer.echo(f"  {team}: chain {found['verdict']}{when}: {found['detail']}")
    for team, rows in sorted(result["contamination"].items()):
        found = [r["task"] for r in rows if r["verdict"] == "contaminated"]
        when = "" if "contamination" in result["done_now"] else " (tested before)"
        typer.echo(f"  {team}: contamination{when}: {', '.join(found) if found else 'none found'}")
    typer.echo(f"evidence: {ctx.workspace.audits(round_id)}")


@arena_app.command("open")
def arena_open_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    prompts: Path = typer.Option(..., "--prompts", help="Prompts (JSON, JSONL or TOML; each id, language, text)."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="Answer length cap."),
    backend: str = BACKEND, device: str = DEVICE, batch_size: Optional[str] = BATCH,
    base_url: Optional[str] = BASE_URL, served_model: Optional[str] = SERVED,
    seed: int = typer.Option(0, "--seed", help="Seed for generation."),
    workers: Optional[int] = WORKERS,
    ray: Optional[str] = RAY, ray_gpus: float = RAY_GPUS,
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    quiet: bool = QUIET,
) -> None:
    """Generate every submission's answers to the prompts and open the blind arena.

    Answers come through the benchmark backends (cached by model content and
    settings); once stored, `gauntlet serve` shows blind battles on /arena.
    """
    from gauntlet.rounds.pipeline import open_arena
    from gauntlet.rounds.stage_jobs import make_executor

    ctx = _context(spec, store, db)
    counts = open_arena(ctx, round_id, prompts, now=_now(now), executor=make_executor(workers, ray=ray, ray_gpus=ray_gpus),
                        settings=_settings(backend, device, batch_size, base_url, served_model), seed=seed,
                        max_new_tokens=max_new_tokens, progress=not quiet)
    typer.echo(f"arena of round {round_id!r} open: {counts['stored']} new answers shown blind, "
               f"{counts['excluded']} kept out because they name their model")


def _arena_state_command(state: str):
    def command(
        spec: Path = SPEC,
        round_id: str = ROUND,
        reason: str = typer.Option(..., "--reason", help="Why, kept on record."),
        now: Optional[str] = NOW,
        store: Path = _store_option(), db: Optional[str] = DB,
    ) -> None:
        from gauntlet.rounds import service

        ctx = _context(spec, store, db)
        entry = service.set_arena(ctx.store, ctx.spec, ctx.round(round_id).id, state, reason, _now(now))
        typer.echo(f"arena of round {round_id!r} {'open again' if state == 'open' else 'closed'}: {reason}; "
                   f"record {entry['hash'][:16]}")
    return command


arena_app.command("reopen", help="Reopen a round's closed arena, with the reason on record (as the organiser "
                                 "console does).")(_arena_state_command("open"))
arena_app.command("close", help="Close a round's arena by hand, with the reason on record (its decision "
                                "closes it too).")(_arena_state_command("closed"))


@panel_app.command("open")
def panel_open_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    seed: int = typer.Option(0, "--seed", help="Seed for the assignment and the anonymous codes."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Assign each submission an anonymous code and k conflict-free reviewers.

    Experts then sign in with their tokens and review on /expert.
    """
    from gauntlet.rounds.pipeline import open_panel

    ctx = _context(spec, store, db)
    reviewers = open_panel(ctx, round_id, now=_now(now), seed=seed)
    typer.echo(f"panel of round {round_id!r} assigned: {len(reviewers)} submissions")
    for code, experts in sorted(reviewers.items()):
        typer.echo(f"  {code}: {', '.join(experts)}")


@challenge_app.command("status")
def status_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Each team's standing, GPUs and dataset grants for the period before a round, what the
    store holds for each submission, and what is still missing to decide it."""
    from gauntlet.rounds.round_decision import round_status

    ctx = _context(spec, store, db)
    state = ctx.state()
    holdings, datasets = state.holdings(ctx.round(round_id).id), state.datasets(round_id)
    revoked = state.revoked_datasets(round_id)
    for team in ctx.spec.teams:
        standing = state.standing(team.id)
        held = ", ".join(f"{n} {k}" for k, n in sorted(holdings.get(team.id, {}).items())) or "no GPUs"
        grants = ", ".join(datasets.get(team.id, ())) or ("revoked: " + ", ".join(revoked[team.id])
                                                          if team.id in revoked else "no datasets")
        where = f" ({standing.round}: {standing.reason})" if standing.reason else ""
        typer.echo(f"  {team.id}: {standing.status}{where}; holds {held}; datasets {grants}")
    if not ctx.store.round_submissions(ctx.slug, round_id):
        typer.echo(f"round {round_id!r} has no submissions yet")
        return
    rows, gaps = round_status(ctx, round_id)
    for row in rows:
        comps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(row["components"].items())) or "no components"
        own = "".join(f", {kind} {verdict}" for kind, verdict in sorted(row["own_work"].items()))
        typer.echo(f"  {row['team']}: {row['manifest']} licence {row['licence'] or '-'}, audit {row['audit'] or '-'}"
                   f"{own}, {row['votes']} counted votes; {comps}")
    typer.echo("ready to decide" if not gaps else "missing: " + "; ".join(gaps))


# The commands that write the record (decide, publish, redecide, join, lock, appeal, answer).
from gauntlet.cli import record  # noqa: E402,F401
