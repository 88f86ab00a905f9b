"""The expert panel's stored record: experts, the assignment of anonymous
submissions to them (with recusal), and their reviews.

A review is drafted, then submitted: an expert saves a draft (some or all
criteria, a comment) as often as they like and sees it again; submitting it
(every criterion) makes it final.  A draft is seen by its expert only and is
never counted: every reader of scores (`panel_rounds`, the decision's expert
component) reads submitted reviews only.

Recusal is enforced twice: `assign_experts` never assigns an expert to a team
they are affiliated with or declared a conflict with, and every read or write
of review material re-checks both the assignment and the conflict, so an
expert can neither open nor score a submission outside their own list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping

from sqlalchemy import select

from gauntlet.errors import InputError, StoreError
from gauntlet.ratings.identity import redact
from gauntlet.ratings.panel import Expert, Rubric, Submission, assign_experts, default_rubric, rubric_from_dict
from gauntlet.store.access import AccessDenied
from gauntlet.store.models import Submission as StoredSubmission
from gauntlet.store.models import Team
from gauntlet.store.models_activity import (
    ArenaAnswer,
    ArenaPrompt,
    ExpertReview,
    PanelEntry,
    PanelExpert,
    PanelRound,
    ReviewAssignment,
    ReviewDraft,
)
from gauntlet.store.spec_view import DEFAULT_REVIEWS_PER_SUBMISSION, panel_rubric_table

MAX_COMMENT = 4000


def rubric_to_table(rubric: Rubric) -> dict:
    return {"level_of_measurement": rubric.level_of_measurement, "criteria": [
        {"key": c.key, "name": {"ko": c.name_ko, "en": c.name_en},
         "instructions": {"ko": c.instructions_ko, "en": c.instructions_en},
         "scale": [c.scale_min, c.scale_max], "weight": c.weight} for c in rubric.criteria]}


def _checked(rubric: Rubric, scores: Mapping[str, float], comment: str, *, complete: bool) -> dict[str, float]:
    """The scores as floats, each on its criterion's scale; every criterion when `complete`."""
    if len(comment) > MAX_COMMENT:
        raise InputError(f"the comment is longer than {MAX_COMMENT} characters")
    unknown = sorted(set(scores) - {c.key for c in rubric.criteria})
    if unknown:
        raise InputError(f"the rubric has no criterion {unknown[0]!r}")
    clean = {}
    for c in rubric.criteria:
        value = scores.get(c.key)
        if value is None and not complete:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not c.scale_min <= value <= c.scale_max:
            raise InputError(f"{c.key} must be a number from {c.scale_min} to {c.scale_max}")
        clean[c.key] = float(value)
    return clean


def _expert(row: PanelExpert) -> Expert:
    return Expert(row.key, row.name, frozenset(row.affiliations), frozenset(row.conflicts))


class PanelVerbs:
    """Mixed into `Store`."""

    def add_expert(self, slug: str, key: str, name: str, affiliations: Iterable[str] = (),
                   conflicts: Iterable[str] = ()) -> None:
        """Register an expert with their affiliations (organisations) and declared conflicts
        (team keys or organisations).  Registering the same expert again is a no-op; changing
        a registered expert's declarations is refused (they decide the recusal on record)."""
        affiliations, conflicts = sorted(set(affiliations)), sorted(set(conflicts))
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            row = session.scalar(select(PanelExpert).where(PanelExpert.challenge_id == challenge.id,
                                                           PanelExpert.key == key))
            if row is None:
                session.add(PanelExpert(challenge_id=challenge.id, key=key, name=name,
                                        affiliations=affiliations, conflicts=conflicts))
            elif (row.name, row.affiliations, row.conflicts) != (name, affiliations, conflicts):
                raise StoreError(f"expert {key!r} is already registered with other declarations")

    def experts(self, slug: str) -> list[dict]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return [{"key": e.key, "name": e.name, "affiliations": e.affiliations, "conflicts": e.conflicts}
                    for e in session.scalars(select(PanelExpert).where(PanelExpert.challenge_id == challenge.id)
                                             .order_by(PanelExpert.key))]

    def assign_panel(self, slug: str, round_key: str, *, at: datetime, k: int | None = None,
                     rubric: Rubric | None = None, seed: int = 0) -> dict[str, tuple[str, ...]]:
        """Give every submission of the round an anonymous code and `k` reviewers with no
        conflict (`gauntlet.ratings.panel.assign_experts`).  The rubric and k default to the
        spec's expert panel, else `default_rubric()` and 3.  Returns {code: expert keys}."""
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            if session.scalar(select(PanelRound).where(PanelRound.challenge_id == challenge.id,
                                                       PanelRound.round_key == round_key)) is not None:
                raise InputError(f"the panel of round {round_key!r} is already assigned")
            from_spec = panel_rubric_table(challenge.spec_toml)
            if rubric is not None:
                table = rubric_to_table(rubric)
            elif from_spec is not None:
                table = from_spec[0]
            else:
                table = rubric_to_table(default_rubric())
            rubric_from_dict(table)  # validates
            k = k or (from_spec[1] if from_spec else DEFAULT_REVIEWS_PER_SUBMISSION)
            teams = list(session.scalars(select(Team).join(StoredSubmission).where(
                Team.challenge_id == challenge.id, StoredSubmission.round_key == round_key).order_by(Team.key)))
            if not teams:
                raise InputError(f"round {round_key!r} has no submissions to review")
            rows = list(session.scalars(select(PanelExpert).where(PanelExpert.challenge_id == challenge.id)
                                        .order_by(PanelExpert.key)))
            experts = [_expert(r) for r in rows]
            assignment = assign_experts([Submission(t.key, t.organisation) for t in teams], experts, k, seed=seed)
            panel = PanelRound(challenge_id=challenge.id, round_key=round_key, rubric=table,
                               reviews_per_submission=k, created_at=at)
            session.add(panel)
            by_key = {r.key: r for r in rows}
            for team in teams:
                code = assignment.codes[team.key]
                entry = PanelEntry(panel=panel, team_id=team.id, code=code)
                session.add(entry)
                for expert_key in assignment.reviewers[code]:
                    session.add(ReviewAssignment(entry=entry, expert=by_key[expert_key]))
            return dict(assignment.reviewers)

    # -- what an expert may see ----------------------------------------------------
    def _entry_for_expert(self, session, slug: str, expert_key: str, round_key: str, code: str):
        challenge = self._challenge(session, slug)
        expert = session.scalar(select(PanelExpert).where(PanelExpert.challenge_id == challenge.id,
                                                          PanelExpert.key == expert_key))
        if expert is None:
            raise StoreError(f"no expert {expert_key!r} in challenge {slug!r}")
        entry = session.scalar(select(PanelEntry).join(PanelRound).where(
            PanelRound.challenge_id == challenge.id, PanelRound.round_key == round_key, PanelEntry.code == code))
        if entry is None:
            raise StoreError(f"no submission {code!r} in the panel of round {round_key!r}")
        # A conflicted submission is refused in the same words as any other unassigned one:
        # naming the conflict would tell the expert which anonymous code is which team's.
        assignment = session.scalar(select(ReviewAssignment).where(ReviewAssignment.entry_id == entry.id,
                                                                   ReviewAssignment.expert_id == expert.id))
        if assignment is None or not _expert(expert).may_review(Submission(entry.team.key, entry.team.organisation)):
            raise AccessDenied(f"submission {code} is not assigned to you")
        return entry, assignment

    def expert_queue(self, slug: str, expert_key: str) -> list[dict]:
        """The expert's own assignments only: round, anonymous code, reviewed or not."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = session.execute(
                select(ReviewAssignment, PanelEntry, PanelRound)
                .join(PanelEntry, ReviewAssignment.entry_id == PanelEntry.id)
                .join(PanelRound, PanelEntry.panel_id == PanelRound.id)
                .join(PanelExpert, ReviewAssignment.expert_id == PanelExpert.id)
                .where(PanelRound.challenge_id == challenge.id, PanelExpert.key == expert_key)
                .order_by(PanelRound.id, PanelEntry.code))
            return [{"round": p.round_key, "code": e.code, "reviewed": a.review is not None,
                     "drafted": a.review is None and a.draft is not None,
                     "submitted_at": a.review.submitted_at.isoformat() if a.review else None} for a, e, p in rows]

    def review_material(self, slug: str, expert_key: str, round_key: str, code: str) -> dict:
        """What the expert reviews, blind: the rubric, and the submission's arena answers with
        its team, model and organisation names replaced by its code."""
        with self.sessions() as session:
            entry, assignment = self._entry_for_expert(session, slug, expert_key, round_key, code)
            team = entry.team
            terms = (team.key, team.name, team.organisation)
            prompts = {p.prompt_key: p for p in session.scalars(select(ArenaPrompt).where(
                ArenaPrompt.challenge_id == team.challenge_id, ArenaPrompt.round_key == round_key))}
            answers = session.scalars(select(ArenaAnswer).where(
                ArenaAnswer.team_id == team.id, ArenaAnswer.round_key == round_key).order_by(ArenaAnswer.id))
            samples = [{"prompt_id": a.prompt_key, "language": prompts[a.prompt_key].language,
                        "prompt": prompts[a.prompt_key].text, "answer": redact(a.text, terms, code)}
                       for a in answers if a.prompt_key in prompts]
            sub = session.scalar(select(StoredSubmission).where(StoredSubmission.team_id == team.id,
                                                                StoredSubmission.round_key == round_key))
            review, draft = assignment.review, assignment.draft
            return {
                "round": round_key, "code": code, "rubric": rubric_from_dict(entry.panel.rubric),
                "samples": samples,
                "artifact": None if sub is None else {"manifest_sha256": sub.manifest_sha256,
                                                      "total_bytes": sub.total_bytes,
                                                      "files": len(sub.files)},
                "review": None if review is None else {"scores": review.scores, "comment": review.comment,
                                                       "submitted_at": review.submitted_at.isoformat()},
                "draft": None if review is not None or draft is None else {
                    "scores": draft.scores, "comment": draft.comment, "saved_at": draft.saved_at.isoformat()},
            }

    def save_review_draft(self, slug: str, expert_key: str, round_key: str, code: str,
                          scores: Mapping[str, float], comment: str = "", *, at: datetime) -> None:
        """Keep the expert's unfinished review (the criteria scored so far, each on its scale),
        replacing their previous draft.  Refused once the review is submitted."""
        with self.sessions.begin() as session:
            entry, assignment = self._entry_for_expert(session, slug, expert_key, round_key, code)
            clean = _checked(rubric_from_dict(entry.panel.rubric), scores, comment, complete=False)
            if assignment.review is not None:
                raise InputError(f"your review of {code} was already submitted; a submitted review is final")
            if assignment.draft is None:
                session.add(ReviewDraft(assignment=assignment, scores=clean, comment=comment, saved_at=at))
            else:
                assignment.draft.scores, assignment.draft.comment, assignment.draft.saved_at = clean, comment, at

    def record_review(self, slug: str, expert_key: str, round_key: str, code: str, scores: Mapping[str, float],
                      comment: str = "", at: datetime | None = None) -> None:
        """Submit an expert's scores for one assigned submission (every criterion, on its scale):
        the review is final, and the expert's draft of it is gone."""
        with self.sessions.begin() as session:
            entry, assignment = self._entry_for_expert(session, slug, expert_key, round_key, code)
            clean = _checked(rubric_from_dict(entry.panel.rubric), scores, comment, complete=True)
            if assignment.review is not None:
                raise InputError(f"your review of {code} was already submitted; a submitted review is final")
            if at is None:  # the caller's clock: the store reads none
                raise InputError("a review is recorded with the time it was submitted")
            if assignment.draft is not None:
                session.delete(assignment.draft)
            session.add(ExpertReview(assignment=assignment, scores=clean, comment=comment, submitted_at=at))

    # -- what organisers see -------------------------------------------------------
    def panel_rounds(self, slug: str) -> list[dict]:
        """Every assigned panel: rubric, k, and per anonymous code its team (sealed from
        experts), reviewers and the reviews in so far."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            out = []
            for panel in session.scalars(select(PanelRound).where(PanelRound.challenge_id == challenge.id)
                                         .order_by(PanelRound.id)):
                entries = []
                for e in panel.entries:
                    entries.append({"code": e.code, "team": e.team.key,
                                    "reviewers": sorted(a.expert.key for a in e.assignments),
                                    "reviews": [{"expert": a.expert.key, "scores": a.review.scores}
                                                for a in sorted(e.assignments, key=lambda a: a.expert.key)
                                                if a.review is not None]})
                out.append({"round": panel.round_key, "rubric": panel.rubric, "k": panel.reviews_per_submission,
                            "entries": entries})
            return out

