"""The demo behind `gauntlet demo`: one whole first round, end to end, on real tiny models.

Nothing here decides an outcome. The demo generates a bilingual world, lets
one foreign lab and five teams train (or, for one team, fine-tune the foreign
model), and then runs the same pipeline a real round runs: intake, the
independence audit, lm-eval benchmarks, a simulated public arena and expert
panel, the pure decision, the ledger and the report. Change a team's recipe
and the outcome changes with it.

The only simulated people are the voters and experts. They judge each model
by its *measured* quality (held-out bits per byte on text none of the models
trained on), plus noise, bias, lazy and adversarial voters and a harsh expert,
so the filters and the robust aggregation have something to do.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gauntlet.console import err_console
from gauntlet.errors import InputError

MARKER = ".gauntlet-demo"
ROUND = "first"
LICENCE = "apache-2.0"
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
        "submission_deadline = 2025-12-30T18:00:00+09:00", "decision_date = 2026-01-15T10:00:00+09:00",
        "appeal_window_days = 10", "policy = { eliminate_lowest = 1 }", "pool = { B200 = 1024, H100 = 1024 }", "",
        "[[rounds]]", 'id = "second"', 'name = "Second evaluation"',
        "submission_deadline = 2026-06-30T18:00:00+09:00", "decision_date = 2026-07-20T10:00:00+09:00",
        "appeal_window_days = 10", "policy = { advance_at_most = 3 }", "pool = { B200 = 1024, H100 = 1024 }", "",
        "[[rounds]]", 'id = "final"', 'name = "Final evaluation"',
        "submission_deadline = 2026-12-18T18:00:00+09:00", "decision_date = 2027-01-20T10:00:00+09:00",
        "appeal_window_days = 10", "policy = { winners = 2 }", "",
        "[benchmarks]", "tasks = [",
    ]
    for task in benchmark_tasks:
        metric = "exact_match" if task.output_type == "generate_until" else "acc"
        lines.append(f"  {{ id = {q(task.name)}, group = {q(task.group)}, metric = {q(metric)}, weight = 1 }},")
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
        "[arena]", f"votes_per_round = {votes}", "daily_cap_per_voter = 60", "",
        "[independence]",
        'disqualifying_modules = ["embedding", "attention", "mlp", "vision_encoder", "audio_encoder", "lm_head", "router"]',
        'disqualifying_origins = { countries = ["*"] }', "exempt_own_organisation = true", 'on_inconclusive = "flag"', "",
        "[[independence.references]]", f"id = {q(reference.name)}", f"organisation = {q(reference.organisation)}",
        f"country = {q(reference.country)}", 'licence = "apache-2.0"', "",
        "[eligibility]", f'licences = ["{LICENCE}", "mit"]', "",
        "[resources]", 'allocation = "equal"', "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- stages


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


def run_demo(workdir: Path, *, scale: float = 1.0, seed: int = 2026, progress: bool = True,
             cast=None) -> DemoResult:
    """Play the round in `workdir` (emptied first if it holds an earlier demo). `cast`
    replaces the default recipes (`gauntlet.synth.DEMO_CAST`), e.g. to show that a
    different team fine-tuning the reference changes who is disqualified."""
    from rich.table import Table

    from gauntlet.artifacts.content_store import ContentStore
    from gauntlet.artifacts.intake import intake
    from gauntlet.rounds import Ledger, decision_inputs, publish
    from gauntlet.rounds.licences import detect_licence
    from gauntlet.rounds.orchestrate import audit_rows, audit_teams, fingerprint_models, team_results
    from gauntlet.spec import loads
    from gauntlet.store.repository import Store
    from gauntlet.synth import DEMO_CAST, build_cast, generate_world

    started = time.perf_counter()
    workdir = Path(workdir)
    _prepare(workdir)
    cast = cast or DEMO_CAST
    teams = list(cast.teams)
    team_names = [t.name for t in teams]

    _stage(1, "A bilingual world and its benchmark tasks")
    world = generate_world(seed, scale=scale)
    votes = max(300, round(3000 * scale))
    spec_text = demo_spec_toml(teams, cast.reference, world.benchmark_tasks, votes=votes)
    (workdir / "challenge.toml").write_text(spec_text, encoding="utf-8")
    spec = loads(spec_text, source="challenge.toml")
    err_console.print(f"{len(world.train_texts):,} training documents, "
                      f"{sum(len(t.items) for t in world.benchmark_tasks):,} benchmark items in "
                      f"{len(world.benchmark_tasks)} tasks, {len(world.arena_prompts)} arena prompts")

    _stage(2, "Teams train their models (one fine-tunes the foreign reference)")
    folders = build_cast(world, workdir / "submitted", scale=scale, progress=progress, cast=cast)
    for team in teams:
        (folders[team.name] / "LICENSE").write_text(_license_text(team.organisation))

    _stage(3, "Intake: layout and header checks, content hashes, immutable store")
    store = Store(f"sqlite:///{(workdir / 'gauntlet.sqlite').resolve()}")
    store.register_challenge(spec.id, spec.name, spec_text)
    for team in spec.teams:
        store.register_team(spec.id, team.id, team.name, team.organisation, team.country)
    content = ContentStore(workdir / "store")
    stored, submission_ids, licences = {}, {}, {}
    for name in team_names:
        stored[name] = intake(folders[name], content, progress=progress)
        submission_ids[name] = store.record_submission(spec.id, name, ROUND, stored[name])
        licences[name] = detect_licence(stored[name].path)
        err_console.print(f"  {name:10s} {stored[name].id[:16]}  {stored[name].manifest.total_bytes:>10,} bytes  "
                          f"licence {licences[name]}")
    models = {name: stored[name].path for name in team_names}

    _stage(4, "Independence audit: every team against the foreign reference and each other")
    origins = {t.name: {"organisation": t.organisation, "country": t.country} for t in cast.members}
    origins[cast.reference.name]["licence"] = "apache-2.0"
    prints = fingerprint_models({cast.reference.name: folders[cast.reference.name], **models}, origins,
                                workdir / "fingerprints", progress=progress)
    audits = audit_teams({n: prints[n] for n in team_names}, {cast.reference.name: prints[cast.reference.name]},
                         spec, workdir / "report" / "audits")
    for name, team_audit in audits.items():
        for ref in team_audit.report["references"]:
            store.record_audit(submission_ids[name], ref["reference"], ref["verdict"], ref["p_value"], ref)
        err_console.print(f"  {name:10s} {team_audit.verdict}")

    _stage(5, "Benchmarks through lm-evaluation-harness")
    benchmark = _benchmarks(world, models, workdir, seed, progress)

    _stage(6, "Measured quality (held-out text no model trained on)")
    from gauntlet.synth import heldout_bits_per_byte

    quality = {name: _quality(heldout_bits_per_byte(models[name], world.heldout_texts)) for name in team_names}
    for name in team_names:
        err_console.print(f"  {name:10s} quality {quality[name]:5.1f} / 100")

    _stage(7, "Public arena: blind battles, vote filters, Bradley-Terry ratings")
    user, arena, prompts, answers = _arena(world, spec, models, quality, workdir, seed, votes)
    # The same prompts and answers open the web app's live blind arena.
    store.add_arena_prompts(spec.id, ROUND, prompts.prompts)
    store.add_arena_answers(spec.id, ROUND, answers)

    _stage(8, "Expert panel: recusal, robust aggregation, inter-rater reliability")
    expert, panel = _panel(spec, quality, seed)
    for e in spec.expert_panel.experts:
        store.add_expert(spec.id, e.id, e.name, e.affiliations, e.conflicts)
    store.assign_panel(spec.id, ROUND, seed=seed)

    _stage(9, "Decision, ledger and report")
    components = {n: {"benchmark": benchmark[n], "expert": expert[n], "user": user[n]} for n in team_names}
    for name in team_names:
        for component, score in components[name].items():
            store.record_component(submission_ids[name], component, score.value, score.lower, score.upper)
    inputs = decision_inputs(spec, ROUND, team_results(components, audits, licences), seed=seed)
    inputs_path = workdir / "decision-inputs.json"
    inputs_path.write_text(json.dumps(inputs, indent=1, sort_keys=True, ensure_ascii=False))
    ledger = Ledger(workdir / "ledger.jsonl")
    record = ledger.append_decision(inputs, round_id=ROUND, spec_hash=spec.spec_hash)
    outputs = record["outputs"]
    store.record_decision(spec.id, ROUND, inputs, outputs, record["hash"])
    store.record_ledger_head(spec.id, ledger.head, records=len(ledger.records()))
    publish(ledger, workdir / "decision-bundle.json")
    tokens = {"organiser": store.create_token(spec.id, "organiser", label="demo organiser"),
              f"team {team_names[0]}": store.create_token(spec.id, "team", team_names[0], label="demo team"),
              f"expert {spec.expert_panel.experts[0].id}": store.create_token(
                  spec.id, "expert", spec.expert_panel.experts[0].id, label="demo expert")}
    (workdir / "web-tokens.txt").write_text("".join(f"{role}: {token}\n" for role, token in tokens.items()))
    report = _report(store, spec, inputs, outputs, audits, arena, panel, workdir, ledger.head)

    _print_summary(outputs, spec, components, time.perf_counter() - started)
    err_console.print(f"\nReport:        [bold]{report}[/bold]")
    err_console.print(f"Inputs:        {inputs_path}  (recompute: gauntlet round decide {inputs_path} --json)")
    err_console.print(f"Ledger head:   {ledger.head}  ({workdir / 'ledger.jsonl'})")
    err_console.print(f"Web:           gauntlet serve --db sqlite:///{(workdir / 'gauntlet.sqlite').resolve()}"
                      f"  (sign-in tokens for organiser, team and expert pages: {workdir / 'web-tokens.txt'})")
    return DemoResult(workdir, report, inputs_path, workdir / "ledger.jsonl", ledger.head, outputs)


def _benchmarks(world, models, workdir: Path, seed: int, progress: bool) -> dict:
    from gauntlet.evaluation import PROGRAMME_GROUP_WEIGHTS, Suite, benchmark_score, evaluate_models, write_tasks

    refs = write_tasks(world.benchmark_tasks, workdir / "tasks")
    groups = {r.group for r in refs}
    suite = Suite.from_task_refs(refs, name="demo", group_weights={g: PROGRAMME_GROUP_WEIGHTS.get(g, 10.0)
                                                                 for g in sorted(groups)})
    evaluations = evaluate_models(models, suite, cache_dir=workdir / "eval-cache", seed=seed, progress=progress)
    scores = {}
    for name, evaluation in evaluations.items():
        scores[name] = benchmark_score(evaluation, suite, seed=seed).component
        err_console.print(f"  {name:10s} benchmark {scores[name].value:5.1f}  "
                          f"[{scores[name].lower:.1f}, {scores[name].upper:.1f}]")
    return scores


def _arena(world, spec, models, quality, workdir: Path, seed: int, votes: int):
    import hashlib

    from gauntlet.ratings.arena import AnswerCache, Prompt, PromptSet, collect_answers
    from gauntlet.ratings.arena_simulation import simulate_arena
    from gauntlet.ratings.user_component import user_component_scores
    from gauntlet.ratings.vote_quality import VotePolicy
    from gauntlet.evaluation.generation import generate_answers

    prompts = PromptSet(ROUND, tuple(Prompt(p.id, p.lang, p.text) for p in world.arena_prompts))
    # Answers are cached per exact set of submitted models.
    key = hashlib.sha256("".join(sorted(str(p) for p in models.values())).encode()).hexdigest()[:16]
    cache = AnswerCache(workdir / "arena" / "answers" / key)

    def generate(model: str, batch):
        # The same lm-eval backend that produced the benchmark scores writes the arena answers.
        return generate_answers(models[model], [(p.id, p.text) for p in batch], seed=seed)

    answers = collect_answers(list(models), prompts, generate, cache=cache)
    identities = {t.id: [t.id, t.name, t.organisation] for t in spec.teams}
    outcome = simulate_arena(list(models), answers, {n: q / QUALITY_POINTS_PER_LOGIT for n, q in quality.items()},
                             votes, seed, prompts=prompts, identities=identities,
                             vote_policy=VotePolicy(daily_cap=spec.arena.daily_cap_per_voter))
    outcome.write_counted_votes(workdir / "arena" / "votes.csv")
    outcome.write_vote_log(workdir / "arena" / "vote-log.jsonl")
    err_console.print(f"  {len(outcome.accepted):,} votes counted, {len(outcome.excluded_votes):,} excluded "
                      f"(kept with reasons in arena/vote-log.jsonl)")
    scores = user_component_scores(outcome.leaderboard, method=spec.scoring.user_score_conversion)
    return scores, outcome, prompts, answers


def _panel(spec, quality, seed: int):
    from gauntlet.ratings.panel import Criterion, Expert, Rubric
    from gauntlet.ratings.panel_scoring import simulate_panel

    rubric = Rubric(tuple(Criterion(c.key, c.name.ko, c.name.en, c.instructions.ko, c.instructions.en,
                                    c.scale_min, c.scale_max, c.weight) for c in spec.expert_panel.criteria))
    experts = tuple(Expert(e.id, e.name, frozenset(e.affiliations), frozenset(e.conflicts))
                    for e in spec.expert_panel.experts)
    organisations = {t.id: t.organisation for t in spec.teams}
    result = simulate_panel(quality, rubric, experts, spec.expert_panel.reviews_per_submission, seed,
                            organisations=organisations)
    flagged = ", ".join(result.flagged_criteria) or "none"
    err_console.print(f"  {len(result.reviews)} reviews; low-agreement criteria: {flagged}")
    return result.scores, result


def _report(store, spec, inputs, outputs, audits, arena, panel, workdir: Path, ledger_head: str) -> Path:
    from gauntlet.rounds.orchestrate import audit_rows
    from gauntlet.web.report import render_round_report

    report_dir = workdir / "report"
    report_dir.mkdir(exist_ok=True)
    shutil.copy(workdir / "decision-inputs.json", report_dir / "decision-inputs.json")
    board = store.leaderboard(spec.id)
    teams_unc = outputs.get("uncertainty", {}).get("teams", {})
    intervals = {t: (v.get("total_lower", 0.0), v.get("total_upper", 0.0)) for t, v in teams_unc.items()
                 if "total_lower" in v}
    from gauntlet.provenance import DEFAULT_ALPHA

    sections = [_arena_section(arena), _panel_section(panel)]
    return render_round_report(
        report_dir / "index.html", board=board, weights=inputs["weights"], audit_rows=audit_rows(audits, report_dir),
        alpha=DEFAULT_ALPHA, inputs_file="decision-inputs.json", ledger_head=ledger_head,
        total_intervals=intervals, extra_sections=sections,
    )


def _arena_section(outcome) -> dict:
    from html import escape

    reasons: dict[str, int] = {}
    for excluded in outcome.excluded_votes:
        reasons[excluded.reason] = reasons.get(excluded.reason, 0) + 1
    rows = "".join(f"<tr><td>{escape(r.model)}</td><td class='num'>{r.rating:.0f}</td>"
                   f"<td class='num'>[{r.lower:.0f}, {r.upper:.0f}]</td><td class='num'>{r.rank}</td></tr>"
                   for r in outcome.leaderboard.entries())
    excluded = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(reasons.items())) or "none"
    html = (f"<p>{len(outcome.accepted):,} blind votes counted; excluded votes by reason: {excluded}. "
            "Ratings are Bradley–Terry on the Elo scale with 95% bootstrap intervals; "
            "<code>gauntlet ratings fit arena/votes.csv</code> reproduces them.</p>"
            "<table><thead><tr><th>Model</th><th class='num'>Rating</th><th class='num'>95% interval</th>"
            f"<th class='num'>Rank</th></tr></thead><tbody>{rows}</tbody></table>")
    return {"title": "Public arena", "html": html}


def _panel_section(result) -> dict:
    from html import escape

    low = '<span class="badge close">low agreement</span>'
    rows = "".join(f"<tr><td>{escape(r.key)}</td><td class='num'>{'—' if r.alpha is None else f'{r.alpha:.2f}'}</td>"
                   f"<td>{low if r.flagged else 'ok'}</td></tr>"
                   for r in result.reliability)
    html = (f"<p>{len(result.reviews)} reviews by experts without a conflict of interest "
            f"(aggregated by {escape(result.aggregation)}, robust to one extreme reviewer). "
            "Inter-rater reliability per criterion (Krippendorff's α; below 0.667 is flagged):</p>"
            "<table><thead><tr><th>Criterion</th><th class='num'>α</th><th>Agreement</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
    return {"title": "Expert panel", "html": html}


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
