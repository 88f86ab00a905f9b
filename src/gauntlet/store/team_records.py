"""What teams follow between decisions: their jobs' states (with retry
requests), their appeals, and the per-team and per-round views.

Nothing of a round is shown before its decision is published (the embargo):
a viewer sees a team's scores and audit verdicts for a round only once the
round's decision is published, unless the viewer is that team or an
organiser.  Appeals are filed and answered through `gauntlet.rounds.service`
(the rules live in `gauntlet.domain.lifecycle`); this module reads them back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import select

from gauntlet.errors import InputError, StoreError
from gauntlet.store.access import AccessDenied
from gauntlet.store.models import Decision, Submission, Team
from gauntlet.store.models_activity import AppealRecord, JobRecord
from gauntlet.store.own_work_records import own_work_of
from gauntlet.store.spec_view import appeal_window_days, round_names

JOB_STATES = ("queued", "running", "done", "failed")


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _job(row: JobRecord) -> dict:
    return {"key": row.key, "team": row.team.key if row.team else None, "round": row.round_key, "kind": row.kind,
            "description": row.description, "state": row.state, "attempts": row.attempts, "error": row.error,
            "completed": row.completed, "total": row.total, "note": row.note,
            "updated_at": _aware(row.updated_at).isoformat(),
            "retry_requested": row.retry_requested_at is not None}


def _appeal(row: AppealRecord, window_days: int, published_at: datetime) -> dict:
    return {"id": row.id, "round": row.round_key, "team": row.team.key, "team_name": row.team.name,
            "decision_sequence": row.decision_sequence, "grounds": row.grounds,
            "filed_at": _aware(row.filed_at).isoformat(), "upheld": row.upheld, "answer": row.answer,
            "answered_at": _aware(row.answered_at).isoformat() if row.answered_at else None,
            "window_closes": (published_at + timedelta(days=window_days)).isoformat()}


def _field(status: Any, name: str, default=None):
    value = status.get(name, default) if isinstance(status, Mapping) else getattr(status, name, default)
    return getattr(value, "value", value)  # JobState enums carry their text in .value


def _component(entry) -> dict:
    if isinstance(entry, dict):
        return {"value": entry["value"], "lower": entry["lower"], "upper": entry["upper"]}
    return {"value": entry, "lower": entry, "upper": entry}


def own_work_view(inputs: dict) -> dict[str, dict]:
    """Each team's evidence of own work as a decision weighed it (its inputs: the chain's
    verdict, the tasks found contaminated) and what the decision's own rule made of it
    (`gauntlet.domain.own_work`, on the same inputs), for teams with anything to show."""
    from gauntlet.domain.inputs import read_inputs
    from gauntlet.domain.own_work import rule_on_own_work

    if "own_work_policy" not in inputs and not any("chain" in t or "contamination" in t for t in inputs.get("teams", ())):
        return {}
    decided = read_inputs(inputs)
    policy = decided.own_work
    out = {}
    for team in decided.teams:
        ruling = rule_on_own_work(policy, team.chain, team.contamination,
                                  on_inconclusive=decided.independence.on_inconclusive)
        if team.chain is None and not policy.require_chain and not team.contamination:
            continue
        consequences = [text for text in (ruling.independence, ruling.contamination) if text]
        out[team.team] = {
            "chain": team.chain.verdict if team.chain else None, "chain_detail": team.chain.detail if team.chain else "",
            "chain_required": policy.require_chain, "tested": bool(team.contamination),
            "contaminated": [f.task for f in team.contamination if f.verdict == "contaminated"],
            "on_contamination": policy.on_contamination, "disqualified": bool(consequences),
            "consequences": consequences + [detail for _, detail in ruling.flags]}
    return out


def board_document(session, challenge, decision: Decision | None) -> dict:
    """The leaderboard document of a decision (None: the challenge before any decision): team
    details, each team's components exactly as the decision used them (its inputs: after a
    corrected re-decision, the corrected values), and the audit verdicts of the round."""
    components: dict[str, dict] = {}
    audits: dict[str, list] = {}
    if decision is not None:
        names = list(decision.inputs.get("weights", {}))
        for entry in decision.inputs.get("teams", ()):
            components[entry["team"]] = {n: _component(entry[n]) for n in names if n in entry}
        for sub in session.scalars(select(Submission).join(Team).where(
                Team.challenge_id == challenge.id, Submission.round_key == decision.round_key)):
            audits[sub.team.key] = [{"reference": a.reference, "verdict": a.verdict, "p_value": a.p_value}
                                    for a in sub.audits]
    return {
        "challenge": {"slug": challenge.slug, "name": challenge.name},
        "teams": {t.key: {"name": t.name, "organisation": t.organisation, "country": t.country}
                  for t in challenge.teams},
        "decision": None if decision is None else {
            "round": decision.round_key, "sequence": decision.sequence, "record_hash": decision.record_hash,
            "created_at": _aware(decision.created_at).isoformat(),
            "published_at": _aware(decision.published_at).isoformat() if decision.published_at else None,
            "outputs": decision.outputs},
        "component_names": list(decision.inputs.get("weights", {})) if decision is not None else [],
        "components": components,
        "audits": audits,
        "own_work": own_work_view(decision.inputs) if decision is not None else {},
    }


def _insider(viewer: dict | None, slug: str, team_key: str) -> bool:
    """Whether `viewer` may see the team's results before publication: the team itself or an organiser."""
    return bool(viewer) and viewer.get("challenge") == slug and (
        viewer.get("role") == "organiser" or (viewer.get("role") == "team" and viewer.get("subject") == team_key))


def public_prefix(records: list[dict]) -> list[dict]:
    """The record as the public may read it: every record before the first decision not yet
    published.  A prefix of a hash chain verifies on its own, and once the draft is published
    the records that follow appear with the same hashes, so nothing is ever rewritten; a draft's
    inputs and outputs never leave the organisers."""
    published = {ref for r in records if r["kind"] == "publication" for ref in r.get("references", ())}
    for i, record in enumerate(records):
        if record["kind"] in ("decision", "re-decision") and record["hash"] not in published:
            return records[:i]
    return records


def _own_work_summary(found: dict[str, dict]) -> dict:
    """A submission's stored own-work evidence, without the bulky report: the chain's
    verdict and detail, and each tested task's verdict, gap and corrected p-value."""
    out = {}
    if "chain" in found:
        out["chain"] = {"verdict": found["chain"]["verdict"], "detail": found["chain"]["detail"]}
    if "contamination" in found:
        out["contamination"] = {"verdict": found["contamination"]["verdict"], "tasks": [
            {k: r[k] for k in ("task", "verdict", "gap", "lower", "upper", "p_value")}
            for r in found["contamination"]["tasks"]]}
    return out


def _decisions(session, challenge, round_key: str | None = None, *, drafts: bool = False):
    query = select(Decision).where(Decision.challenge_id == challenge.id)
    if round_key is not None:
        query = query.where(Decision.round_key == round_key)
    if not drafts:
        query = query.where(Decision.published_at.is_not(None))
    return list(session.scalars(query.order_by(Decision.sequence)))


class TeamVerbs:
    """Mixed into `Store`."""

    # -- jobs ------------------------------------------------------------------------
    def record_job(self, slug: str, status: Any, *, at: datetime, team: str | None = None, round_key: str | None = None,
                   kind: str = "job") -> None:
        """Record the latest state of a job: a `gauntlet.jobs.JobStatus` (or its `to_dict()`).
        A job that runs again after a retry request clears the request."""
        key = _field(status, "key")
        state = _field(status, "state")
        if not key or state not in JOB_STATES:
            raise InputError(f"a job status needs a key and a state in {', '.join(JOB_STATES)}")
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            team_id = self._team(session, slug, team).id if team else None
            row = session.scalar(select(JobRecord).where(JobRecord.challenge_id == challenge.id, JobRecord.key == key))
            if row is None:
                row = JobRecord(challenge_id=challenge.id, key=key, kind=kind, team_id=team_id, round_key=round_key)
                session.add(row)
            elif state in ("queued", "running"):
                row.retry_requested_at = None
                row.retry_requested_by = None
            row.description = _field(status, "description") or key
            row.state = state
            row.attempts = int(_field(status, "attempts", 0) or 0)
            row.error = _field(status, "error")
            row.completed = int(_field(status, "completed", 0) or 0)
            row.total = _field(status, "total")
            row.note = _field(status, "note", "") or ""
            row.updated_at = at

    def job_recorder(self, slug: str, *, at: datetime, teams: Mapping[str, str] | None = None,
                     round_key: str | None = None, kind: str = "job") -> Callable[[Any], None]:
        """An `on_change` callback for `Executor.run`: records every state change, stamped with
        the time the executor measured it (`started_at`/`finished_at`), else the stage's `at`.
        `teams` maps job keys to the team each job works for."""
        def record(status: Any) -> None:
            measured = _field(status, "finished_at") or _field(status, "started_at")
            when = datetime.fromtimestamp(measured, timezone.utc) if measured else at
            self.record_job(slug, status, at=when, team=(teams or {}).get(_field(status, "key")),
                            round_key=round_key, kind=kind)
        return record

    def jobs(self, slug: str, team: str | None = None) -> list[dict]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            query = select(JobRecord).where(JobRecord.challenge_id == challenge.id)
            if team is not None:
                query = query.where(JobRecord.team_id == self._team(session, slug, team).id)
            return [_job(r) for r in session.scalars(query.order_by(JobRecord.id))]

    def request_retry(self, slug: str, job_key: str, requested_by: str, team: str | None = None, *,
                      at: datetime) -> None:
        """Ask for a failed job to run again (a team may ask only for its own jobs). The
        request stands, listed by `pending_retries` (the organisers' console shows them), until
        the job runs again: the rerun of its stage (`StageRunner.rerun_for`, the console's
        retry, or the CLI's stage command, each skipping what finished) clears it."""
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            row = session.scalar(select(JobRecord).where(JobRecord.challenge_id == challenge.id,
                                                         JobRecord.key == job_key))
            if row is None:
                raise StoreError(f"no job {job_key!r}")
            if team is not None and (row.team is None or row.team.key != team):
                raise AccessDenied(f"job {job_key!r} is not one of your team's jobs")
            if row.state != "failed":
                raise InputError(f"job {job_key!r} is {row.state}; only a failed job can be retried")
            if row.retry_requested_at is None:
                row.retry_requested_at = at
                row.retry_requested_by = requested_by

    def pending_retries(self, slug: str) -> list[str]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return list(session.scalars(select(JobRecord.key).where(
                JobRecord.challenge_id == challenge.id, JobRecord.retry_requested_at.is_not(None),
                JobRecord.state == "failed").order_by(JobRecord.retry_requested_at)))

    # -- appeals ---------------------------------------------------------------------
    def appeals(self, slug: str, team: str | None = None, open_only: bool = False) -> list[dict]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            query = select(AppealRecord).where(AppealRecord.challenge_id == challenge.id)
            if team is not None:
                query = query.where(AppealRecord.team_id == self._team(session, slug, team).id)
            if open_only:
                query = query.where(AppealRecord.upheld.is_(None))
            out = []
            for row in session.scalars(query.order_by(AppealRecord.id)):
                published = session.scalar(select(Decision.published_at).where(
                    Decision.challenge_id == challenge.id, Decision.sequence == row.decision_sequence))
                out.append(_appeal(row, appeal_window_days(challenge.spec_toml, row.round_key), _aware(published)))
            return out

    def appeal_window(self, slug: str, round_key: str) -> dict | None:
        """When the appeal window of the round's decision in force opens and closes."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            published = _decisions(session, challenge, round_key)
            if not published:
                return None
            decision = published[-1]
            opened = _aware(decision.published_at)
            closes = opened + timedelta(days=appeal_window_days(challenge.spec_toml, round_key))
            return {"opens": opened.isoformat(), "closes": closes.isoformat(), "sequence": decision.sequence}

    # -- public views ------------------------------------------------------------------
    def team_profile(self, slug: str, team_key: str, viewer: dict | None = None) -> dict:
        """A team and every submission it made, with files; its components and audits for a round
        only once the round's decision is published, unless `viewer` (an identity from
        `identify_token`) is this team or an organiser."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            team = self._team(session, slug, team_key)
            insider = _insider(viewer, slug, team_key)
            published = {d.round_key for d in _decisions(session, challenge)}
            subs = session.scalars(select(Submission).where(Submission.team_id == team.id).order_by(Submission.id))
            return {
                "key": team.key, "name": team.name, "organisation": team.organisation, "country": team.country,
                "submissions": [{
                    "round": s.round_key, "manifest_sha256": s.manifest_sha256, "total_bytes": s.total_bytes,
                    "submitted_at": _aware(s.submitted_at).isoformat(),
                    "published": s.round_key in published,
                    "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in s.files],
                    "components": {c.component: {"value": c.value, "lower": c.lower, "upper": c.upper}
                                   for c in s.components} if insider or s.round_key in published else {},
                    "audits": [{"reference": a.reference, "verdict": a.verdict, "p_value": a.p_value}
                               for a in s.audits] if insider or s.round_key in published else [],
                    "own_work": _own_work_summary(own_work_of(session, s.id)) if insider or s.round_key in published
                    else {},
                } for s in subs],
            }

    def rounds(self, slug: str, *, drafts: bool = False) -> list[dict]:
        """Rounds known to the store (the spec's, then any others seen), with counts of their
        published decisions (and of drafts too, for organisers: `drafts=True`)."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            names = round_names(challenge.spec_toml)
            decided: dict[str, int] = {}
            for d in _decisions(session, challenge, drafts=drafts):
                decided[d.round_key] = decided.get(d.round_key, 0) + 1
            submitted: dict[str, int] = {}
            for s in session.scalars(select(Submission).join(Team).where(Team.challenge_id == challenge.id)):
                submitted[s.round_key] = submitted.get(s.round_key, 0) + 1
            keys = list(names) + [k for k in (*decided, *submitted) if k not in names]
            return [{"key": k, "name": names.get(k, k), "decisions": decided.get(k, 0),
                     "submissions": submitted.get(k, 0)} for k in dict.fromkeys(keys)]

    def round_decisions(self, slug: str, round_key: str, *, drafts: bool = False) -> list[dict]:
        """Every published decision of a round, oldest first (re-decisions never erase originals);
        with `drafts`, the unpublished ones too (organisers only)."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = _decisions(session, challenge, round_key, drafts=drafts)
            if not rows:
                raise StoreError(f"round {round_key!r} of {slug!r} has no {'' if drafts else 'published '}decision")
            return [{"round": d.round_key, "sequence": d.sequence, "record_hash": d.record_hash,
                     "created_at": _aware(d.created_at).isoformat(),
                     "published_at": _aware(d.published_at).isoformat() if d.published_at else None,
                     "inputs": d.inputs, "outputs": d.outputs}
                    for d in rows]

    def round_board(self, slug: str, round_key: str, sequence: int | None = None, *, drafts: bool = False) -> dict:
        """`leaderboard()`'s document for one round's decision (the one in force, or `sequence`)."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = [d for d in _decisions(session, challenge, round_key, drafts=drafts)
                    if sequence is None or d.sequence == sequence]
            decision = rows[-1] if rows else None
            if decision is None:
                what = f"decision #{sequence}" if sequence is not None else "decision"
                raise StoreError(f"round {round_key!r} of {slug!r} has no {what}")
            return board_document(session, challenge, decision)

    # -- audit evidence ------------------------------------------------------------------
    def round_audits(self, slug: str, round_key: str, viewer: dict | None = None,
                     team_key: str | None = None) -> list[dict]:
        """Each team's stored audit reports of a round (one per reference, as the audit wrote
        them), for the teams `viewer` may see: every team once the round's decision is
        published, else only the viewer's own team (all of them for organisers).  A round
        nobody may see yet reads like a round with no decision."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            published = bool(_decisions(session, challenge, round_key))
            query = select(Submission).join(Team).where(Team.challenge_id == challenge.id,
                                                        Submission.round_key == round_key)
            if team_key is not None:
                query = query.where(Team.id == self._team(session, slug, team_key).id)
            out = [{"team": sub.team.key, "name": sub.team.name, "manifest_sha256": sub.manifest_sha256,
                    "references": [{**a.report, "reference": a.reference, "verdict": a.verdict,
                                    "p_value": a.p_value} for a in sorted(sub.audits, key=lambda a: a.reference)]}
                   for sub in session.scalars(query.order_by(Team.key))
                   if published or _insider(viewer, slug, sub.team.key)]
            if not out and not published:
                raise StoreError(f"round {round_key!r} of {slug!r} has no published decision")
            if team_key is not None and not out:
                raise StoreError(f"team {team_key!r} has no submission in round {round_key!r}")
            return out

    def redecision_causes(self, slug: str, round_key: str) -> dict[int, dict]:
        """For each re-decision of a round, by its sequence: the upheld appeal that caused it
        (its grounds, the answer and when it was given), read from the record's references."""
        from gauntlet.store.records import read_records

        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            by_hash = {r["hash"]: r for r in read_records(session, challenge)}
            sequences = {d.record_hash: d.sequence for d in _decisions(session, challenge, round_key, drafts=True)}
        appeals = {a["id"]: a for a in self.appeals(slug)}
        causes = {}
        for record_hash, sequence in sequences.items():
            record = by_hash.get(record_hash)
            if record is None or record["kind"] != "re-decision":
                continue
            answers = [by_hash[h] for h in record.get("references", ()) if by_hash.get(h, {}).get("kind") == "appeal-answer"]
            if answers and answers[0]["inputs"]["appeal"] in appeals:
                causes[sequence] = appeals[answers[0]["inputs"]["appeal"]]
        return causes
