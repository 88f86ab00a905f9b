"""The round's evidence of own work: each team's training-run chain and the
benchmark-contamination test, run once the round is closed (`gauntlet challenge own-work`).

`own_work_round` verifies every chain a team handed in (against the spec's
references and every other team's submission) and tests every submission on
every task whose items carry the published/held-out split, Holm-corrected across
all teams and tasks at the spec's level, on each task's scored metric. When the
spec drops contaminated tasks (`on_contamination = "drop_task"`), the team's
benchmark component without them is computed here too.

Results go to the store (`gauntlet.store.own_work_records`), one row per team and
kind, and `gather_round` reads them into the decision inputs, so the decision,
its bundle and its reasons carry them. Like every stage, it runs its work as
executor jobs recorded for the team pages, and running it again skips what is
recorded: a chain already verified, or the contamination test once it is stored
(its rows are written together, because they are corrected together). Each chain's
HTML evidence is kept beside the audits' in the round's evidence folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from gauntlet.domain.components import ComponentScore
from gauntlet.domain.own_work import ChainEvidence, ContaminationFinding
from gauntlet.errors import InputError
from gauntlet.i18n import N_
from gauntlet.jobs.base import Job
from gauntlet.rounds.stage_jobs import chain_job, raise_failures, run_recorded, split_failures
from gauntlet.rounds.workspace import RoundContext

CONSEQUENCES = {"flag": N_("flagged for the panel"),
                "drop_task": N_("the task is dropped from that team's benchmark score"),
                "disqualify": N_("the team is disqualified")}


def own_work_round(ctx: RoundContext, round_id: str, tasks_dir: str | Path | None, *, now: datetime,
                   chains: Mapping[str, str | Path] | None = None, references: Mapping[str, str | Path] | None = None,
                   seed: int = 0, executor=None, progress: bool = False) -> dict:
    """Verify the chains not yet verified and, with `tasks_dir`, run the contamination test
    if it is not stored yet. Returns {"round", "chains": {team: ...}, "contamination": {team:
    [task rows]}, "done_now": [team or "contamination", ...]} from the store."""
    from gauntlet.jobs.local import InlineExecutor

    ctx.require_locked(round_id, now)
    subs = {s["team"]: s for s in ctx.store.round_submissions(ctx.slug, round_id)}
    if not subs:
        raise InputError(f"round {round_id!r} has no submissions")
    unknown = sorted(set(chains or {}) - set(subs))
    if unknown:
        raise InputError(f"chain given for team {unknown[0]!r}, which has no submission in round {round_id!r}")
    for team, path in (chains or {}).items():
        if not Path(path).is_file():
            raise InputError(f"chain of team {team!r}: no such file {path}")
    executor = executor or InlineExecutor()
    recorded = ctx.store.round_own_work(ctx.slug, round_id)
    folder = ctx.workspace.audits(round_id)
    folder.mkdir(parents=True, exist_ok=True)
    done_now = _verify_chains(ctx, round_id, subs, chains or {}, references or {}, recorded, executor, progress, now)
    tested = any("contamination" in kinds for kinds in recorded.values())
    if tasks_dir is not None and not tested:
        _contamination(ctx, round_id, subs, tasks_dir, seed, executor, progress, now)
        done_now.append("contamination")
    stored = ctx.store.round_own_work(ctx.slug, round_id)
    return {"round": round_id, "done_now": done_now,
            "chains": {t: k["chain"] for t, k in stored.items() if "chain" in k},
            "contamination": {t: k["contamination"]["tasks"] for t, k in stored.items() if "contamination" in k}}


def _verify_chains(ctx, round_id, subs, chains, references, recorded, executor, progress, now) -> list[str]:
    jobs, owners = [], {}
    folder = ctx.workspace.audits(round_id)
    for team, chain_file in sorted(chains.items()):
        if "chain" in recorded.get(team, {}):
            continue
        refs = {**{name: str(path) for name, path in references.items()},
                **{t: s["stored_path"] for t, s in sorted(subs.items()) if t != team}}
        key = f"chain-{round_id}-{team}"
        owners[key] = team
        jobs.append(Job(key, chain_job, (str(chain_file), refs, str(folder / f"{team}-chain.html")),
                        description=f"training-run chain {team}"))
    done, failed = split_failures(run_recorded(executor, jobs, ctx.store, ctx.slug, round_id=round_id,
                                               kind="own-work", teams=owners, progress=progress, at=now))
    ctx.store.record_own_work([(subs[owners[key]]["submission_id"], "chain", result["verdict"],
                                {k: v for k, v in result.items() if k != "verdict"}) for key, result in done.items()])
    raise_failures("chain verification", failed)
    return sorted(owners[key] for key in done)


def _contamination(ctx, round_id, subs, tasks_dir, seed, executor, progress, now) -> None:
    from gauntlet.evaluation import benchmark_score, evaluate_model
    from gauntlet.evaluation.contamination import gap_tests, overall_verdict, read_published_flags, split_scores
    from gauntlet.evaluation.suites import Suite
    from gauntlet.rounds.pipeline import round_suite

    suite, _ = round_suite(ctx, tasks_dir, only_available=True)
    split = []
    for entry in suite.entries:
        try:
            read_published_flags(entry.ref)
        except InputError:
            continue  # a task without a published/held-out split has nothing to test
        split.append(entry)
    level = ctx.spec.own_work.contamination_level if ctx.spec.own_work else 0.01
    policy = ctx.spec.own_work.on_contamination if ctx.spec.own_work else "flag"
    if not split:
        ctx.store.record_own_work([(s["submission_id"], "contamination", "inconclusive",
                                    {"level": level, "tasks": [], "note": "no task of the round has a published/"
                                                                          "held-out split"}) for s in subs.values()])
        return
    options = {"cache_dir": str(ctx.workspace.eval_cache), "seed": seed, "progress": False}
    owners = {f"contamination-{round_id}-{team}": team for team in sorted(subs)}
    jobs = [Job(key, evaluate_model, (subs[team]["stored_path"], suite), {**options, "label": team},
                description=f"published and held-out items {team}", retries=1) for key, team in owners.items()]
    done, failed = split_failures(run_recorded(executor, jobs, ctx.store, ctx.slug, round_id=round_id,
                                               kind="own-work", teams=owners, progress=progress, at=now))
    raise_failures("contamination test", failed)  # corrected across every team: all of them, or none stored
    evaluations = {owners[key]: evaluation for key, evaluation in done.items()}
    refs, metrics = [e.ref for e in split], {e.task: e.scored_metric for e in split}
    rows = gap_tests({team: split_scores(ev, refs, metrics) for team, ev in sorted(evaluations.items())}, level=level)
    records = []
    for team, team_rows in rows.items():
        document = {"level": level, "tasks": [r.to_dict() for r in team_rows]}
        dropped = {r.task for r in team_rows if r.verdict == "contaminated"}
        kept = tuple(e for e in suite.entries if e.task not in dropped)
        if policy == "drop_task" and dropped and kept:
            c = benchmark_score(evaluations[team], Suite(suite.name, kept, suite.group_weights), seed=seed).component
            document["benchmark_without"] = {"value": c.value, "lower": c.lower, "upper": c.upper,
                                             "samples": list(c.samples), "dropped": sorted(dropped)}
        records.append((subs[team]["submission_id"], "contamination", overall_verdict(team_rows), document))
    ctx.store.record_own_work(records)


# ----------------------------------------------------------------------------- read back


def chain_evidence(own_work: Mapping[str, Mapping]) -> dict[str, ChainEvidence]:
    return {team: ChainEvidence(k["chain"]["verdict"], k["chain"]["detail"])
            for team, k in own_work.items() if "chain" in k}


def contamination_findings(own_work: Mapping[str, Mapping]) -> dict[str, tuple[ContaminationFinding, ...]]:
    return {team: tuple(ContaminationFinding(r["task"], r["verdict"], r["p_value"], r["gap"])
                        for r in k["contamination"]["tasks"] if r["p_value"] is not None)
            for team, k in own_work.items() if "contamination" in k}


def benchmark_without_dropped(own_work: Mapping[str, Mapping]) -> dict[str, ComponentScore]:
    out = {}
    for team, k in own_work.items():
        c = k.get("contamination", {}).get("benchmark_without")
        if c:
            out[team] = ComponentScore(c["value"], c["lower"], c["upper"], tuple(c["samples"]))
    return out


def report_context(own_work: Mapping[str, Mapping], policy: str, names: Mapping[str, str]) -> dict | None:
    """What the round report shows: each team's chain (verdict, detail, plot, findings) and
    the contamination table per team and task, with what the spec says a finding does."""
    from gauntlet.provenance.chain_report import chain_plot

    if not own_work:
        return None
    chains = [{"team": names.get(team, team), "verdict": k["chain"]["verdict"], "detail": k["chain"]["detail"],
               "plot": chain_plot(k["chain"]["report"]), "findings": k["chain"]["report"]["findings"],
               "html": k["chain"].get("html")}
              for team, k in sorted(own_work.items()) if "chain" in k]
    rows = [{"team": names.get(team, team), **r}
            for team, k in sorted(own_work.items()) if "contamination" in k for r in k["contamination"]["tasks"]]
    return {"chains": chains, "contamination": rows, "consequence": CONSEQUENCES.get(policy, policy),
            "tested": any("contamination" in k for k in own_work.values())}
