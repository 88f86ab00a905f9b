"""Decide a round from what the store holds: gather -> decision inputs -> a draft.

The draft, its inputs, the arena and panel components it used, and its ledger
record are written in one transaction (`gauntlet.rounds.service.decide`).
Nothing is public yet: organisers inspect the draft (survival probabilities,
too-close-to-call, what-if) and publish it with `gauntlet challenge publish`
(`gauntlet.rounds.publication`), which also builds the report folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.i18n import _
from gauntlet.rounds.arena_desk import close_arena, reopen_arena
from gauntlet.rounds.gather import DEFAULT_BOOTSTRAP, RoundEvidence, gather_round, missing_error
from gauntlet.rounds.workspace import RoundContext


@dataclass(frozen=True)
class RoundDecision:
    round: str
    sequence: int
    record_hash: str
    inputs: dict
    outputs: dict
    gaps: tuple[str, ...] = ()
    evidence: RoundEvidence | None = field(default=None, repr=False)


def decide_round(ctx: RoundContext, round_id: str, *, now: datetime, seed: int = 0, allow_missing: bool = False,
                 bootstrap: int = DEFAULT_BOOTSTRAP, draws: int = 4000) -> RoundDecision:
    """Draft a closed round's decision, once.  Refuses with one line naming every gap (a team
    short of reviews, votes, a benchmark result or an audit) unless `allow_missing`."""
    from gauntlet.rounds import decision_inputs, service

    ctx.require_locked(round_id, now)
    if ctx.state().history(round_id):
        first = ctx.state().history(round_id)[0]
        raise InputError(f"round {round_id!r} was already decided (record {first.record[:12]}); a decision is "
                         "never replaced, only re-decided after an upheld appeal")
    # No vote lands after the votes are read; a refused decision leaves the arena as it was.
    arena_closed = close_arena(ctx.store, ctx.slug, round_id, reason=f"round {round_id!r} was decided", at=now)
    evidence = gather_round(ctx, round_id, seed=seed, bootstrap=bootstrap)
    if evidence.gaps and not allow_missing:
        if arena_closed:
            reopen_arena(ctx.store, ctx.slug, round_id, reason="the decision was refused for gaps", at=now)
        raise missing_error(round_id, evidence.gaps)
    inputs = decision_inputs(ctx.spec, round_id, evidence.team_results(fill_missing=allow_missing),
                             seed=seed, draws=draws)
    note = ("decided with gaps: " + "; ".join(evidence.gaps)) if evidence.gaps else ""
    human: dict[str, dict] = {}
    for name, scores in (("user", evidence.arena.scores if evidence.arena else {}),
                         ("expert", evidence.panel.scores if evidence.panel else {})):
        for team, score in scores.items():
            human.setdefault(team, {})[name] = score
    sequence, record = service.decide(ctx.store, ctx.spec, round_id, inputs, now, note=note, components=human)
    return RoundDecision(round_id, sequence, record["hash"], inputs, record["outputs"], tuple(evidence.gaps), evidence)


def write_votes(evidence: RoundEvidence, out: Path) -> None:
    """The counted votes in FastChat's columns (`gauntlet ratings fit votes.csv` refits them)
    and every vote with the reason it was or was not counted."""
    import csv

    review = evidence.arena.review
    with (out / "arena-votes.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["model_a", "model_b", "winner", "question_id", "day"])
        for v in review.accepted:
            writer.writerow([v.model_a, v.model_b, v.winner, v.prompt_id, v.day])
    reasons = {e.vote.sequence: e.reason for e in review.excluded}
    votes = sorted([*review.accepted, *(e.vote for e in review.excluded)], key=lambda v: v.sequence)
    with (out / "arena-vote-log.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["model_a", "model_b", "winner", "question_id", "day", "counted", "reason"])
        for v in votes:
            writer.writerow([v.model_a, v.model_b, v.winner, v.prompt_id, v.day,
                             "no" if v.sequence in reasons else "yes", reasons.get(v.sequence, "")])


def arena_section(evidence: RoundEvidence) -> dict:
    review, board = evidence.arena.review, evidence.arena.leaderboard
    reasons = review.reasons()
    excluded = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(reasons.items())) or _("none")
    rows = "" if board is None else "".join(
        f"<tr><td>{escape(r.model)}</td><td class='num'>{r.rating:.0f}</td>"
        f"<td class='num'>[{r.lower:.0f}, {r.upper:.0f}]</td><td class='num'>{r.rank}</td></tr>"
        for r in board.entries())
    html = ("<p>" + _("%(n)s blind votes cast on the web counted; excluded votes by reason: %(excluded)s (every vote "
                      "is in %(log)s). Ratings are Bradley–Terry on the Elo scale with 95%% bootstrap intervals; "
                      "%(command)s reproduces them.", n=format(len(review.accepted), ","), excluded=excluded,
                      log="<code>arena-vote-log.csv</code>", command="<code>gauntlet ratings fit arena-votes.csv</code>")
            + "</p><table><thead><tr>" + "".join(f"<th{cls}>{escape(label)}</th>" for cls, label in (
                ("", _("Model")), (" class='num'", _("Rating")), (" class='num'", _("95% interval")),
                (" class='num'", _("Rank")))) + f"</tr></thead><tbody>{rows}</tbody></table>")
    return {"title": _("Public arena"), "html": html}


def panel_section(result) -> dict:
    low = '<span class="badge close">' + escape(_("low agreement")) + "</span>"
    ok = _("ok")
    rows = "".join(f"<tr><td>{escape(r.key)}</td><td class='num'>{'—' if r.alpha is None else f'{r.alpha:.2f}'}</td>"
                   f"<td>{low if r.flagged else ok}</td></tr>" for r in result.reliability)
    html = ("<p>" + _("%(n)s reviews submitted by experts without a conflict of interest (aggregated by %(how)s, robust "
                      "to one extreme reviewer). Inter-rater reliability per criterion (Krippendorff's α; below 0.667 "
                      "is flagged):", n=len(result.reviews), how=escape(result.aggregation))
            + "</p><table><thead><tr><th>" + escape(_("Criterion")) + "</th><th class='num'>α</th><th>"
            + escape(_("Agreement")) + f"</th></tr></thead><tbody>{rows}</tbody></table>")
    return {"title": _("Expert panel"), "html": html}


def round_status(ctx: RoundContext, round_id: str, *, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Per team, what the store holds for the round, and what is still missing to decide it."""
    evidence = gather_round(ctx, round_id, seed=seed, bootstrap=0)  # point ratings are enough to show progress
    votes = {}
    if evidence.arena is not None:
        for v in evidence.arena.review.accepted:
            for m in (v.model_a, v.model_b):
                votes[m] = votes.get(m, 0) + 1
    rows = []
    for team in evidence.teams:
        sub = evidence.submissions[team]
        audit = evidence.audits.get(team)
        rows.append({"team": team, "manifest": sub["manifest_sha256"][:12], "licence": sub["licence"],
                     "audit": audit.verdict if audit else None,
                     "components": {k: v.value for k, v in evidence.components[team].items()},
                     "votes": votes.get(team, 0),
                     "own_work": {kind: found["verdict"] for kind, found in evidence.own_work.get(team, {}).items()}})
    return rows, evidence.gaps
