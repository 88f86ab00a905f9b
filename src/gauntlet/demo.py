"""The demo behind `gauntlet demo`: one whole first round, end to end, on real tiny models.

Nothing here decides an outcome, and nothing here runs a stage of its own. The
demo generates a bilingual world, lets one foreign lab and five teams train
(or, for one team, fine-tune the foreign model), and then plays the organisers'
part with the same calls `gauntlet challenge ...` makes (`gauntlet.rounds.pipeline`):
register the challenge, take each team's submission before the deadline, audit,
evaluate, open the arena and the panel, and decide from what the store holds.
Change a team's recipe and the outcome changes with it.

The only simulated people are the voters and experts, and they act through the
store the way real people act through the web app: voters are served blind
battles by the web arena's own desk (`gauntlet.rounds.arena_desk.ArenaDesk`, with its
active pair sampling and daily cap) and cast votes with the store's vote verb;
experts read and score only the anonymous submissions the panel assigned them.
They judge each model by its *measured* quality (held-out bits per byte on text
none of the models trained on), plus noise, bias, lazy and adversarial voters and
a harsh expert, so the vote filters and the robust aggregation have work to do.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gauntlet.console import err_console
from gauntlet.errors import InputError

MARKER = ".gauntlet-demo"
ROUND = "first"
LICENCE = "apache-2.0"
KST = timezone(timedelta(hours=9))
DEADLINE = datetime(2025, 12, 30, 18, 0, tzinfo=KST)
DECISION_DATE = datetime(2026, 1, 15, 10, 0, tzinfo=KST)
# The organisers' clock: teams submit before the deadline, the stages run the next
# morning, the public votes for a week, the experts review, and the round is decided.
REGISTERED_AT = DEADLINE - timedelta(days=30)
SUBMITTED_AT = DEADLINE - timedelta(days=2)
STAGES_AT = DEADLINE + timedelta(hours=15)
ARENA_DAYS = 7
# Simulated voters: ten quality points (0-100) are one logit of preference (about 73% of decisive votes).
QUALITY_POINTS_PER_LOGIT = 10.0


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    report: Path
    inputs: Path
    ledger: Path
    ledger_head: str
    outputs: dict


# ----------------------------------------------------------------------------- spec


def demo_spec_toml(teams, reference, benchmark_tasks, *, votes: int) -> str:
    """The demo challenge, modelled on the programme's first round (weights 40/35/25,
    one performance cut, independence disqualification, a B200 + H100 pool)."""
    from gauntlet.evaluation import PROGRAMME_GROUP_WEIGHTS
    from gauntlet.evaluation.tasks import METRICS_BY_OUTPUT_TYPE
    from gauntlet.ratings.panel import default_rubric

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    lines = [
        "[challenge]",
        'id = "k-sovereign-demo"',
        'name = "Sovereign AI Foundation Model Challenge (demo)"',
        'organiser = "Gauntlet demo, modelled on Korea\'s 2026 programme"',
        "",
        "[scoring]",
        'user_score_conversion = "win_rate"',
        "[scoring.weights]",
        "benchmark = 40", "expert = 35", "user = 25", "",
    ]
    for team in teams:
        lines += ["[[teams]]", f"id = {q(team.name)}", f"name = {q(team.name.capitalize())}",
                  f"organisation = {q(team.organisation)}", f"country = {q(team.country)}", ""]
    lines += [
        "[[rounds]]", f'id = "{ROUND}"', 'name = "First evaluation"',
        f"submission_deadline = {DEADLINE.isoformat()}", f"decision_date = {DECISION_DATE.isoformat()}",
        "appeal_window_days = 10", "policy = { eliminate_lowest = 1 }", "pool = { B200 = 1024, H100 = 1024 }", "",
        "[[rounds]]", 'id = "second"', 'name = "Second evaluation"',
        "submission_deadline = 2026-06-30T18:00:00+09:00", "decision_date = 2026-07-20T10:00:00+09:00",
        "appeal_window_days = 10", "policy = { advance_at_most = 3 }", "pool = { B200 = 1024, H100 = 1024 }", "",
        "[[rounds]]", 'id = "final"', 'name = "Final evaluation"',
        "submission_deadline = 2026-12-18T18:00:00+09:00", "decision_date = 2027-01-20T10:00:00+09:00",
        "appeal_window_days = 10", "policy = { winners = 2 }", "",
        "[benchmarks]", "tasks = [",
    ]
    # The pipeline weighs a group by the sum of its tasks' weights: split each programme
    # group weight (agency 10, common 20, individual 10) evenly over the group's tasks.
    in_group: dict[str, int] = {}
    for task in benchmark_tasks:
        in_group[task.group] = in_group.get(task.group, 0) + 1
    for task in benchmark_tasks:
        metric = METRICS_BY_OUTPUT_TYPE[task.output_type][0]
        weight = PROGRAMME_GROUP_WEIGHTS.get(task.group, 10.0) / in_group[task.group]
        lines.append(f"  {{ id = {q(task.name)}, group = {q(task.group)}, metric = {q(metric)}, weight = {weight!r} }},")
    lines += ["]", "", "[expert_panel]", "reviews_per_submission = 4", ""]
    for c in default_rubric().criteria:
        lines += ["[[expert_panel.criteria]]", f"key = {q(c.key)}",
                  f"name = {{ ko = {q(c.name_ko)}, en = {q(c.name_en)} }}",
                  f"instructions = {{ ko = {q(c.instructions_ko)}, en = {q(c.instructions_en)} }}",
                  f"scale = [{c.scale_min}, {c.scale_max}]", f"weight = {c.weight}", ""]
    # Seven experts; two are affiliated with a team and must be recused from it.
    experts = [("e1", "KAIST", None), ("e2", "Seoul National University", None), ("e3", "POSTECH", None),
               ("e4", "Yonsei University", None), ("e5", "ETRI", None),
               ("e6", f"{teams[0].organisation} (advisory)", teams[0].name),
               ("e7", f"{teams[-1].organisation} (former)", teams[-1].name)]
    for ident, affiliation, conflict in experts:
        lines += ["[[expert_panel.experts]]", f"id = {q(ident)}", f"name = {q('Expert ' + ident[1:])}",
                  f"affiliations = [{q(affiliation)}]"]
        if conflict:
            lines.append(f"conflicts = [{q(conflict)}]")
        lines.append("")
    lines += [
        "[arena]", f"votes_per_round = {votes}", "daily_cap_per_voter = 60",
        "votes_per_second_per_voter = 1", "votes_per_second_per_address = 5", "",
        "[independence]",
        'disqualifying_modules = ["embedding", "attention", "mlp", "vision_encoder", "audio_encoder", "lm_head", "router"]',
        'disqualifying_origins = { countries = ["*"] }', "exempt_own_organisation = true", 'on_inconclusive = "flag"', "",
        "[[independence.references]]", f"id = {q(reference.name)}", f"organisation = {q(reference.organisation)}",
        f"country = {q(reference.country)}", 'licence = "apache-2.0"', "",
        "[eligibility]", f'licences = ["{LICENCE}", "mit"]', "",
        # Chains are voluntary here (one team hands one in); a task a team is found to have
        # trained on leaves that team's benchmark score.
        "[own_work]", "require_chain = false", 'on_contamination = "drop_task"', "",
        "[resources]", 'allocation = "equal"', "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the round


def _prepare(workdir: Path) -> None:
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise InputError(f"{workdir} is not empty and is not a Gauntlet demo folder; choose another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by `gauntlet demo`; safe to delete\n")


def _stage(number: int, title: str) -> None:
    err_console.rule(f"[bold]{number}. {title}")


def _quality(bits_per_byte: float) -> float:
    """100 x the geometric-mean probability the model gives each next byte of unseen text."""
    return 100.0 * 2.0 ** -bits_per_byte


def _license_text(organisation: str) -> str:
    return (f"Copyright 2026 {organisation}\n\nLicensed under the Apache License, Version 2.0 (the \"License\");\n"
            "you may not use this file except in compliance with the License.\n")


def _write_prompts(world, path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": p.id, "language": p.lang, "text": p.text}, ensure_ascii=False) + "\n"
                            for p in world.arena_prompts), encoding="utf-8")
    return path


def run_demo(workdir: Path, *, scale: float = 1.0, seed: int = 2026, progress: bool = True,
             cast=None) -> DemoResult:
    """Play the round in `workdir` (emptied first if it holds an earlier demo). `cast`
    replaces the default recipes (`gauntlet.synth.DEMO_CAST`), e.g. to show that a
    different team fine-tuning the reference changes who is disqualified."""
    from gauntlet.demo_people import review_as_experts, vote_as_crowd
    from gauntlet.evaluation import write_tasks
    from gauntlet.evaluation.contamination import published_split, published_texts
    from gauntlet.jobs.local import InlineExecutor
    from gauntlet.rounds.own_work import own_work_round
    from gauntlet.rounds.pipeline import audit_round, evaluate_round, init_challenge, open_arena, open_panel, submit
    from gauntlet.rounds.publication import publish_round
    from gauntlet.rounds.round_decision import decide_round
    from gauntlet.rounds.workspace import DB_FILE, open_context
    from gauntlet.synth import DEMO_CAST, build_cast, generate_world, heldout_bits_per_byte

    started = time.perf_counter()
    workdir = Path(workdir)
    _prepare(workdir)
    cast = cast or DEMO_CAST
    teams = list(cast.teams)
    team_names = [t.name for t in teams]
    # Jobs run in this process: on two cores a worker process's start-up (torch, lm-eval)
    # costs more than the tiny models' work it would take over.
    executor = InlineExecutor()

    _stage(1, "A bilingual world, its benchmark tasks, and the challenge")
    world = generate_world(seed, scale=scale)
    votes = max(300, round(3000 * scale))
    tasks_dir = workdir / "organiser" / "tasks"
    # Each task's pool is split at random into published items (shown to teams) and held-out ones.
    benchmark_tasks = [published_split(t, fraction=0.5, seed=seed + i) for i, t in enumerate(world.benchmark_tasks)]
    write_tasks(benchmark_tasks, tasks_dir)
    prompts_file = _write_prompts(world, workdir / "organiser" / "arena-prompts.jsonl")
    spec_path = workdir / "challenge.toml"
    spec_path.write_text(demo_spec_toml(teams, cast.reference, world.benchmark_tasks, votes=votes), encoding="utf-8")
    db_url = f"sqlite:///{(workdir / DB_FILE).resolve()}"  # the demo's own store, whatever GAUNTLET_DB says
    ctx = open_context(spec_path, workdir, db_url, register=True, at=REGISTERED_AT)
    tokens = init_challenge(ctx, now=REGISTERED_AT)
    err_console.print(f"{len(world.train_texts):,} training documents, "
                      f"{sum(len(t.items) for t in world.benchmark_tasks):,} benchmark items in "
                      f"{len(world.benchmark_tasks)} tasks, {len(world.arena_prompts)} arena prompts")
    err_console.print(f"challenge {ctx.slug!r} registered: {len(ctx.spec.teams)} teams, "
                      f"{len(ctx.spec.expert_panel.experts)} experts, {len(tokens)} sign-in tokens issued")

    _stage(2, "Teams train their models (one fine-tunes the foreign reference)")
    published = [text for task in benchmark_tasks for text in published_texts(task)]
    folders = build_cast(world, workdir / "submitted", scale=scale, progress=progress, cast=cast, published=published)
    for team in teams:
        (folders[team.name] / "LICENSE").write_text(_license_text(team.organisation))

    _stage(3, "Submissions before the deadline: layout and header checks, content hashes, immutable store")
    for name in team_names:
        receipt = submit(ctx, name, folders[name], ROUND, now=SUBMITTED_AT, progress=progress)
        err_console.print(f"  {name:10s} {receipt.manifest_sha256[:16]}  {receipt.total_bytes:>10,} bytes  "
                          f"licence {receipt.licence}")

    _stage(4, "Independence audit: every team against the foreign reference and each other")
    verdicts = audit_round(ctx, ROUND, {cast.reference.name: folders[cast.reference.name]}, now=STAGES_AT,
                           executor=executor, progress=progress)
    for name in team_names:
        err_console.print(f"  {name:10s} {verdicts[name]}")

    _stage(5, "Benchmarks through lm-evaluation-harness")
    benchmark = evaluate_round(ctx, ROUND, tasks_dir, now=STAGES_AT, executor=executor, seed=seed, progress=progress)
    for name in team_names:
        score = benchmark[name]
        err_console.print(f"  {name:10s} benchmark {score.value:5.1f}  [{score.lower:.1f}, {score.upper:.1f}]")

    _stage(6, "Evidence of own work: training-run chains, and published against held-out benchmark items")
    chains = {t.name: folders[t.name].parent / f"{t.name}-chain" / "chain.json" for t in teams if t.chain_checkpoints}
    own = own_work_round(ctx, ROUND, tasks_dir, now=STAGES_AT, chains=chains, seed=seed, executor=executor,
                         references={cast.reference.name: folders[cast.reference.name]}, progress=progress)
    for name, chain in own["chains"].items():
        err_console.print(f"  {name:10s} chain {chain['verdict']}: {chain['detail']}")
    for name in team_names:
        found = [r["task"] for r in own["contamination"].get(name, []) if r["verdict"] == "contaminated"]
        err_console.print(f"  {name:10s} contamination: {', '.join(found) if found else 'none found'}")

    _stage(7, "Measured quality (held-out text no model trained on): what the simulated people perceive")
    quality = {name: _quality(heldout_bits_per_byte(folders[name], world.heldout_texts)) for name in team_names}
    for name in team_names:
        err_console.print(f"  {name:10s} quality {quality[name]:5.1f} / 100")

    _stage(8, "Public arena: answers, then a week of blind battles voted through the store")
    counts = open_arena(ctx, ROUND, prompts_file, now=STAGES_AT, executor=executor, seed=seed, progress=progress)
    err_console.print(f"  {counts['stored']:,} answers stored for blind battles, {counts['excluded']:,} held back "
                      "for naming their model")
    crowd = vote_as_crowd(ctx, ROUND, {n: q / QUALITY_POINTS_PER_LOGIT for n, q in quality.items()}, votes,
                          seed=seed, start=STAGES_AT + timedelta(hours=1), days=ARENA_DAYS, progress=progress)
    refused = ", ".join(f"{k}: {v}" for k, v in sorted(crowd.refused.items())) or "none"
    err_console.print(f"  {crowd.cast:,} votes cast by {crowd.voters} visitors; refused by the arena: {refused}")

    _stage(9, "Expert panel: conflict-free assignment, blind reviews through the store")
    reviewers = open_panel(ctx, ROUND, now=STAGES_AT, seed=seed)
    reviews = review_as_experts(ctx, ROUND, quality, seed=seed, at=STAGES_AT + timedelta(days=ARENA_DAYS))
    err_console.print(f"  {len(reviewers)} anonymous submissions, {reviews} reviews submitted")

    _stage(10, "Decision from the store: a draft for the organisers, then published with its report and bundle")
    decision = decide_round(ctx, ROUND, now=DECISION_DATE - timedelta(days=1), seed=seed)
    published = publish_round(ctx, ROUND, now=DECISION_DATE)
    evidence = decision.evidence
    if evidence.arena is not None:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(evidence.arena.review.reasons().items())) or "none"
        err_console.print(f"  arena: {len(evidence.arena.review.accepted):,} votes counted; excluded by reason: "
                          f"{reasons} (every vote with its reason: {published.folder / 'arena-vote-log.csv'})")
    if evidence.panel is not None:
        err_console.print(f"  panel: {len(evidence.panel.reviews)} reviews; low-agreement criteria: "
                          f"{', '.join(evidence.panel.flagged_criteria) or 'none'}")
    tokens_file = workdir / "web-tokens.txt"
    tokens_file.write_text("".join(f"{who}: {token}\n" for who, token in tokens), encoding="utf-8")

    _print_summary(decision.outputs, ctx.spec, evidence.components, time.perf_counter() - started)
    ledger = workdir / "record.jsonl"
    ledger.write_text(ctx.store.export_ledger(ctx.slug), encoding="utf-8")
    err_console.print(f"\nReport:        [bold]{published.report}[/bold]")
    err_console.print(f"Inputs:        {published.inputs_file}  "
                      f"(recompute: gauntlet round decide {published.inputs_file} --json)")
    err_console.print(f"Ledger head:   {published.ledger_head}  ({ledger}: gauntlet ledger export, then verify)")
    err_console.print(f"Web:           gauntlet serve --workspace {workdir} --db {db_url}"
                      f"  (sign-in tokens for the organiser, every team and expert: {tokens_file})")
    return DemoResult(workdir, published.report, published.inputs_file, ledger, published.ledger_head,
                      decision.outputs)


def _print_summary(outputs: dict, spec, components: dict, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    # Wide enough for the whole table even when stderr is not a terminal (Rich then assumes 80 columns).
    console = Console(stderr=True, width=max(err_console.width, 110))
    names = {t.id: t.name for t in spec.teams}
    out = {e["team"]: e["reason"] for e in outputs["eliminated"]}
    survival = outputs.get("uncertainty", {}).get("teams", {})
    gpus = sorted({gpu for grant in outputs["allocation"].values() for gpu in grant})
    table = Table(title=f"{spec.name}: round '{ROUND}' ({seconds:.0f} s)")
    for col in ("#", "Team", "Benchmark", "Expert", "User", "Total", "P(survive)", "Outcome", *gpus):
        table.add_column(col, justify="left" if col in ("Team", "Outcome") else "right")
    for row in outputs["ranking"]:
        team = row["team"]
        c = components[team]
        grant = outputs["allocation"].get(team, {})
        table.add_row(
            str(row["rank"]), names.get(team, team), f"{c['benchmark'].value:.1f}", f"{c['expert'].value:.1f}",
            f"{c['user'].value:.1f}", f"[bold]{row['total']:.1f}",
            f"{100 * survival.get(team, {}).get('survival_probability', 0):.0f}%",
            f"[red]out: {out[team]}" if team in out else "[green]advances",
            *(str(grant.get(gpu, "-")) for gpu in gpus),
        )
    console.print(table)
    if outputs.get("uncertainty", {}).get("close_calls"):
        console.print("[yellow]Too close to call: " + ", ".join(outputs["uncertainty"]["close_calls"])
                      + " (outcome holds in fewer than 95% of plausible score draws)")
