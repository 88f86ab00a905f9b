"""Publishing a round, and the files derived from the record.

`publish_round` records the publication (`gauntlet.rounds.service.publish`),
then rebuilds every published decision's folder that is missing.  A folder is
derived, never trusted: it is built elsewhere and renamed into place, so it is
either whole or absent, and building it again from the same record gives the
same bundle bytes.  After a crash at any point, running `gauntlet challenge
publish` again completes what is missing.

    reports/<round>/decision-<sequence>/
        index.html               the report (leaderboard, audits, arena, panel)
        decision-inputs.json     what `gauntlet round decide` re-decides
        decision-bundle.json     inputs, outputs, ledger record, chain head
        arena-votes.csv, arena-vote-log.csv, audits/<team>.html
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from gauntlet.domain.canonical import canonical_json
from gauntlet.errors import InputError, StorageUnavailable
from gauntlet.i18n import _
from gauntlet.rounds.workspace import RoundContext


@dataclass(frozen=True)
class Publication:
    round: str
    sequence: int
    record_hash: str
    ledger_head: str
    folder: Path
    newly_published: bool

    @property
    def report(self) -> Path:
        return self.folder / "index.html"

    @property
    def bundle(self) -> Path:
        return self.folder / "decision-bundle.json"

    @property
    def inputs_file(self) -> Path:
        return self.folder / "decision-inputs.json"


def publish_round(ctx: RoundContext, round_id: str, *, now: datetime, language: str | None = None) -> Publication:
    """Publish the round's draft (if it has one) and build what is missing of its folders."""
    from gauntlet.rounds import service

    ctx.round(round_id)
    state = ctx.state()
    fresh = state.draft(round_id) is not None
    if fresh:
        service.publish(ctx.store, ctx.spec, round_id, now)
    elif state.in_force(round_id) is None:
        raise InputError(f"round {round_id!r} has no decision to publish (gauntlet challenge decide first)")
    rebuild(ctx, language=language)
    in_force = ctx.store.round_decisions(ctx.slug, round_id)[-1]
    head = ctx.store.ledger_head(ctx.slug, drafts=True)["head"]
    return Publication(round_id, in_force["sequence"], in_force["record_hash"], head,
                       folder_of(ctx, round_id, in_force["sequence"]), fresh)


def folder_of(ctx: RoundContext, round_id: str, sequence: int) -> Path:
    return ctx.workspace.report(round_id) / f"decision-{sequence}"


def rebuild(ctx: RoundContext, *, language: str | None = None) -> list[Path]:
    """Build every published decision's folder that is not there yet, its report in `language`
    (default: the spec's); returns those built."""
    records = ctx.store.records(ctx.slug)
    publications = {ref: r for r in records if r["kind"] == "publication" for ref in r["references"]}
    by_hash = {r["hash"]: r for r in records}
    built = []
    for rnd in ctx.spec.rounds:
        try:
            decisions = ctx.store.round_decisions(ctx.slug, rnd.id)
        except Exception:  # noqa: BLE001 - StoreError: nothing published for this round
            continue
        for decision in decisions:
            target = folder_of(ctx, rnd.id, decision["sequence"])
            if target.is_dir():
                continue
            record, publication = by_hash[decision["record_hash"]], publications.get(decision["record_hash"])
            head = publication["hash"] if publication else record["hash"]
            _build_atomically(target, lambda out: _write_folder(ctx, decision, record, head, out,
                                                               language or ctx.spec.language))
            built.append(target)
    return built


def _build_atomically(target: Path, write) -> None:
    partial = target.parent / f".{target.name}.partial-{os.getpid()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f".{target.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a build that was killed
        partial.mkdir()
        write(partial)
        os.replace(partial, target)
    except OSError as exc:  # a full or read-only disk: the record is fine, the folder is not there yet
        shutil.rmtree(partial, ignore_errors=True)
        raise StorageUnavailable(f"cannot write {target}: {exc.strerror or exc}; what is on record stays, and "
                                 "`gauntlet challenge publish` run again once there is room builds the folder") from None


def _write_folder(ctx: RoundContext, decision: dict, record: dict, head: str, out: Path, language: str) -> None:
    from gauntlet import i18n

    with i18n.using(language):  # the report and every section built for it speak one language
        _write_contents(ctx, decision, record, head, out, language)


def _write_contents(ctx: RoundContext, decision: dict, record: dict, head: str, out: Path, language: str) -> None:
    from gauntlet.provenance import DEFAULT_ALPHA
    from gauntlet.rounds.bundle import make_bundle
    from gauntlet.rounds.gather import copy_evidence, copy_file, gather_round
    from gauntlet.rounds.orchestrate import audit_rows
    from gauntlet.rounds.own_work import report_context
    from gauntlet.rounds.report import render_round_report
    from gauntlet.rounds.round_decision import arena_section, panel_section, write_votes

    inputs, outputs = decision["inputs"], decision["outputs"]
    (out / "decision-inputs.json").write_text(json.dumps(inputs, indent=1, sort_keys=True, ensure_ascii=False),
                                              encoding="utf-8")
    (out / "decision-bundle.json").write_text(canonical_json(make_bundle(record, head)) + "\n", encoding="utf-8")
    evidence = gather_round(ctx, decision["round"], seed=inputs.get("monte_carlo", {}).get("seed", 0))
    sections = []
    if evidence.arena is not None:
        write_votes(evidence, out)
        sections.append(arena_section(evidence))
    if evidence.panel is not None:
        sections.append(panel_section(evidence.panel))
    if record["note"]:
        sections.append({"title": _("On the record"), "html": f"<p>{escape(record['note'])}</p>"})
    unc = outputs.get("uncertainty", {}).get("teams", {})
    intervals = {t: (v["total_lower"], v["total_upper"]) for t, v in unc.items() if "total_lower" in v}
    audits = copy_evidence(evidence.audits, out / "audits")
    board = ctx.store.round_board(ctx.slug, decision["round"], decision["sequence"])
    own_work = report_context(evidence.own_work, (inputs.get("own_work_policy") or {}).get("on_contamination", "flag"),
                              {k: v["name"] for k, v in board["teams"].items()})
    for chain in (own_work or {}).get("chains", ()):
        copied = copy_file(ctx.workspace.audits(decision["round"]) / chain["html"], out / "audits") if chain["html"] else None
        chain["html"] = f"audits/{copied.name}" if copied else None
    render_round_report(out / "index.html", board=board,
                        weights=inputs["weights"], audit_rows=audit_rows(audits, out), alpha=DEFAULT_ALPHA,
                        inputs_file="decision-inputs.json", ledger_head=head, total_intervals=intervals,
                        extra_sections=sections, language=language, own_work=own_work)
