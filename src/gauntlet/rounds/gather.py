"""Gather a round's evidence from the store into the round engine's inputs.

Everything comes from what the store holds, as real people and jobs left it:
benchmark components from `challenge evaluate`; the arena votes cast on
`/arena` (after the same vote-quality rules the web app applies, so the
counted votes are the ones `/api/arena/votes.csv` publishes), fitted by
Bradley-Terry with a bootstrap and converted by the spec's rule; the expert
reviews submitted on `/expert`, aggregated by `score_panel`; the audit
findings of `challenge audit`; the licences found at intake.  Gathering twice
from the same store gives the same inputs (every random draw is seeded), which
is what lets anyone check that a decision used exactly what was recorded.

What is missing is listed as gaps, one phrase each, never filled silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import GauntletError, InputError, StoreError
from gauntlet.rounds.inputs import TeamResult
from gauntlet.rounds.orchestrate import TeamAudit, stored_team_audit
from gauntlet.rounds.workspace import RoundContext

DEFAULT_BOOTSTRAP = 100
DEFAULT_PANEL_BOOTSTRAP = 1000


@dataclass
class ArenaEvidence:
    review: object  # gauntlet.ratings.vote_quality.VoteFilterResult
    leaderboard: object | None  # gauntlet.ratings.bradley_terry.Leaderboard
    scores: dict[str, ComponentScore]


@dataclass
class RoundEvidence:
    round: str
    teams: list[str]
    submissions: dict[str, dict]
    components: dict[str, dict[str, ComponentScore]]
    audits: dict[str, TeamAudit]
    licences: dict[str, str | None]
    required: tuple[str, ...]  # the spec's scoring components
    gaps: list[str] = field(default_factory=list)
    arena: ArenaEvidence | None = None
    panel: object | None = None  # gauntlet.ratings.panel_scoring.PanelResult
    own_work: dict = field(default_factory=dict)  # {team: {"chain"|"contamination": ...}} (gauntlet.rounds.own_work)

    def team_results(self, *, fill_missing: bool) -> list[TeamResult]:
        """Per-team results; with `fill_missing`, a missing component counts 0 and a
        missing audit is `inconclusive` (flagged for the panel, never a pass)."""
        from gauntlet.rounds.orchestrate import team_results

        components = {}
        for team in self.teams:
            have = dict(self.components.get(team, {}))
            if fill_missing:
                for name in self.required:
                    have.setdefault(name, ComponentScore.exact(0.0))
            components[team] = have
        from gauntlet.rounds.own_work import benchmark_without_dropped, chain_evidence, contamination_findings

        for team, score in benchmark_without_dropped(self.own_work).items():
            components[team]["benchmark"] = score
        return team_results(components, self.audits, self.licences, chains=chain_evidence(self.own_work),
                            contamination=contamination_findings(self.own_work))


@dataclass(frozen=True)
class Gathering:
    """What every stage reads: the round, its teams and submissions, the seeds, and the gaps
    it adds to."""

    ctx: RoundContext
    round_id: str
    teams: list[str]
    submissions: dict[str, dict]
    seed: int
    bootstrap: int
    gaps: list[str]


@dataclass
class BenchmarkEvidence:
    scores: dict[str, ComponentScore]


def _benchmark(g: Gathering) -> BenchmarkEvidence:
    scores = {}
    for team in g.teams:
        stored = g.submissions[team]["components"].get("benchmark")
        if stored is None:
            g.gaps.append(f"team {team!r} has no benchmark result (gauntlet challenge evaluate)")
            continue
        scores[team] = ComponentScore(stored["value"], stored["lower"], stored["upper"],
                                      tuple(stored["detail"].get("samples", ())))
    return BenchmarkEvidence(scores)


def _arena(g: Gathering) -> ArenaEvidence | None:
    from gauntlet.ratings.bradley_terry import fit_leaderboard
    from gauntlet.ratings.user_component import user_component_scores
    from gauntlet.ratings.vote_quality import filter_votes
    from gauntlet.ratings.votes import PairwiseVotes
    from gauntlet.rounds.arena_desk import arena_rules

    ctx, round_id, teams, gaps = g.ctx, g.round_id, g.teams, g.gaps
    try:
        pool = ctx.store.arena_pool(ctx.slug, round_id)
    except StoreError:
        gaps.append(f"the arena of round {round_id!r} was never opened (gauntlet challenge arena open)")
        return None
    policy = arena_rules(ctx.spec_text).policy  # the web app's rules, read the same way
    review = filter_votes(ctx.store.arena_votes(ctx.slug, round_id), policy, pool.revealing)
    counted = [v for v in review.accepted if v.model_a in teams and v.model_b in teams]
    voted = {m for v in counted for m in (v.model_a, v.model_b)}
    for team in teams:
        if team not in voted:
            gaps.append(f"team {team!r} has no counted arena votes")
    if len(voted) < 2:
        return ArenaEvidence(review, None, {})
    votes = PairwiseVotes.from_records([v.model_a for v in counted], [v.model_b for v in counted],
                                       [v.winner for v in counted])
    try:
        board = fit_leaderboard(votes, bootstrap=g.bootstrap, seed=g.seed)
    except InputError as exc:
        gaps.append(f"arena: {exc}")
        return ArenaEvidence(review, None, {})
    scores = user_component_scores(board, method=ctx.spec.scoring.user_score_conversion)
    return ArenaEvidence(review, board, scores)


def _panel(g: Gathering):
    from gauntlet.ratings.panel import PanelAssignment, Submission, rubric_from_dict
    from gauntlet.ratings.panel_scoring import Review, score_panel

    ctx, round_id, teams, gaps = g.ctx, g.round_id, g.teams, g.gaps
    organisations = {t: s["organisation"] for t, s in g.submissions.items()}
    panel = next((p for p in ctx.store.panel_rounds(ctx.slug) if p["round"] == round_id), None)
    if panel is None:
        gaps.append(f"the expert panel of round {round_id!r} was never assigned (gauntlet challenge panel open)")
        return None
    k = panel["k"]
    entries = {e["team"]: e for e in panel["entries"]}
    complete = []
    for team in teams:
        entry = entries.get(team)
        if entry is None:
            gaps.append(f"team {team!r} is not in the expert panel")
        elif len(entry["reviews"]) < k:
            gaps.append(f"team {team!r} has {len(entry['reviews'])} of {k} expert reviews")
        else:
            complete.append(team)
    if not complete:
        return None
    codes = {t: entries[t]["code"] for t in complete}
    reviewers = {entries[t]["code"]: tuple(entries[t]["reviewers"]) for t in complete}
    loads: dict[str, int] = {}
    for names in reviewers.values():
        for name in names:
            loads[name] = loads.get(name, 0) + 1
    assignment = PanelAssignment(codes, reviewers, k, max(loads.values()),
                                 tuple(Submission(t, organisations.get(t, "")) for t in complete))
    reviews = [Review(r["expert"], entries[t]["code"], r["scores"]) for t in complete for r in entries[t]["reviews"]]
    return score_panel(rubric_from_dict(panel["rubric"]), assignment, reviews,
                       bootstrap=DEFAULT_PANEL_BOOTSTRAP, seed=g.seed)


# The one place that says which stage produces which component: a spec may weigh exactly
# these.  Each returns its evidence (with `.scores`, team -> score) or None, adding its gaps.
STAGES: dict[str, Callable[[Gathering], object | None]] = {
    "benchmark": _benchmark,  # `challenge evaluate`
    "expert": _panel,  # the reviews submitted on /expert
    "user": _arena,  # the votes cast on /arena
}


def gather_round(ctx: RoundContext, round_id: str, *, seed: int = 0, bootstrap: int = DEFAULT_BOOTSTRAP) -> RoundEvidence:
    """Every team's components, audit and licence for one round, from the store."""
    ctx.round(round_id)
    subs = {s["team"]: s for s in ctx.store.round_submissions(ctx.slug, round_id)}
    if not subs:
        raise InputError(f"round {round_id!r} has no submissions")
    teams = sorted(subs)
    required = tuple(ctx.spec.scoring.weights)
    gaps: list[str] = []
    gathering = Gathering(ctx, round_id, teams, subs, seed, bootstrap, gaps)
    components: dict[str, dict[str, ComponentScore]] = {t: {} for t in teams}
    found: dict[str, object] = {}
    for name in required:
        stage = STAGES.get(name)
        if stage is None:
            gaps.append(f"no stage produces the spec's component {name!r} (known: {', '.join(STAGES)})")
            continue
        found[name] = stage(gathering)
        for team, score in getattr(found[name], "scores", {}).items():
            components[team][name] = score
    audits = {}
    evidence = ctx.workspace.audits(round_id)
    for team in teams:
        if not subs[team]["audits"]:
            gaps.append(f"team {team!r} has no independence audit (gauntlet challenge audit)")
            continue
        audits[team] = stored_team_audit(team, subs[team]["audits"], ctx.spec, evidence)
    for team in teams:
        if not subs[team]["intake_recorded"]:
            gaps.append(f"team {team!r} has no intake record (its licence was never read)")
    return RoundEvidence(round_id, teams, subs, components, audits, {t: subs[t]["licence"] for t in teams},
                         required, gaps, found.get("user"), found.get("expert"),
                         ctx.store.round_own_work(ctx.slug, round_id))


def missing_error(round_id: str, gaps: list[str]) -> GauntletError:
    return InputError(f"cannot decide round {round_id!r}: " + "; ".join(gaps)
                      + " (--allow-missing decides anyway: a missing component scores 0, a missing audit is inconclusive)")


def copy_evidence(audits: dict[str, TeamAudit], target: Path) -> dict[str, TeamAudit]:
    """The audits' HTML evidence copied next to the report, so the report folder stands alone."""
    from dataclasses import replace

    target.mkdir(parents=True, exist_ok=True)
    out = {}
    for team, team_audit in audits.items():
        html = team_audit.html
        out[team] = replace(team_audit, html=copy_file(html, target) if html is not None else None)
    return out


def copy_file(source: Path, target: Path) -> Path | None:
    """`source` copied into the folder `target` (None if it is not there)."""
    import shutil

    if not source.is_file():
        return None
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / source.name)
    return target / source.name
