"""The simulated people of `gauntlet demo`: a crowd on the public arena and the expert
panel, acting through the store the way real people act through the web app.

Voters are served blind battles by the web arena's own desk
(`gauntlet.rounds.arena_desk.ArenaDesk`: active pair sampling, prompt draws, the daily
cap, no battle judged twice) and cast their votes with the store's vote verb;
which votes count is decided later, by the same filters, when the round is
decided.  Experts open only the anonymous submissions the panel assigned them
(recusal is the store's) and submit one final review each.

What is simulated is only the judgement (`gauntlet.ratings.arena_simulation`,
`gauntlet.ratings.panel_scoring`): it needs the true quality of the model
behind an anonymous answer, which a real person never learns, so the
simulation looks it up where the server keeps it — the pair the desk
sealed into each battle id, the team behind each panel code — and nowhere else.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Mapping

import numpy as np

from gauntlet.errors import InputError


@dataclass
class CrowdActivity:
    cast: int = 0  # votes the store accepted (the round's filters decide later which count)
    voters: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # why the arena turned a request away

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


def vote_as_crowd(ctx, round_id: str, strength: Mapping[str, float], attempts: int, *, seed: int,
                  start: datetime, days: int, progress: bool = True) -> CrowdActivity:
    """`attempts` requests from a simulated crowd (`default_voters`: honest voters whose
    choices follow `strength`, each model's quality on the Bradley-Terry log-odds scale,
    plus lazy, adversarial and spamming visitors), spread evenly over `days` from `start`.

    A spammer sometimes re-sends its last vote; the desk refuses it.  Votes go through
    `ArenaDesk.vote`, as on the web, so the desk's pair sampler learns from each one."""
    from gauntlet.console import progress_bar
    from gauntlet.ratings.arena_simulation import CrowdSchedule, default_voters, judge_battle
    from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached
    from gauntlet.rounds.battle_tickets import UnknownBattle

    if attempts < 1 or days < 1:
        raise InputError("a simulated crowd needs at least one request and one day")
    rng = np.random.default_rng(seed)
    schedule = CrowdSchedule(default_voters(int(rng.integers(2**31))), rng)
    desk = ArenaDesk(ctx.store, seed=seed)
    activity = CrowdActivity()
    last: dict[str, str] = {}
    seen: set[str] = set()
    start = start.astimezone(timezone.utc)  # the web app's clock; a vote's day is its UTC date
    bar = progress_bar(transient=True) if progress else None
    with bar or nullcontext():
        task = bar.add_task("arena votes", total=attempts) if bar else None
        for k in range(attempts):
            if bar:
                bar.advance(task)
            at = start + timedelta(days=days) * (k / attempts)
            voter = schedule.next_voter()
            seen.add(voter.id)
            if schedule.resubmits(voter, voter.id in last):
                battle_id = last[voter.id]
            else:
                try:
                    battle_id = desk.serve(ctx.slug, round_id, voter.id, at)["battle_id"]
                except DailyCapReached:
                    activity.refuse("daily cap")
                    continue
                last[voter.id] = battle_id
            try:
                battle = desk.battle_behind(battle_id, at)  # the server's side: which models they were
                choice = judge_battle(voter.kind, strength[battle.model_a], strength[battle.model_b], rng)
                desk.vote(ctx.slug, battle_id, voter.id, choice, at)
            except (InputError, UnknownBattle):  # a re-sent vote, or a battle served days ago
                activity.refuse("voted twice")
                continue
            activity.cast += 1
    activity.voters = len(seen)
    return activity


def review_as_experts(ctx, round_id: str, quality: Mapping[str, float], *, seed: int, at: datetime) -> int:
    """Every expert of the spec opens their own queue and reviews each assigned anonymous
    submission once (`simulate_review` of its model's quality, 0-100, with the expert's
    bias; one expert is harsh).  Returns the number of reviews submitted."""
    from gauntlet.ratings.panel_scoring import expert_biases, simulate_review

    panel = next((p for p in ctx.store.panel_rounds(ctx.slug) if p["round"] == round_id), None)
    if panel is None:
        raise InputError(f"the expert panel of round {round_id!r} is not open")
    team_of = {entry["code"]: entry["team"] for entry in panel["entries"]}  # sealed from the experts themselves
    rng = np.random.default_rng(seed)
    experts = [e.id for e in ctx.spec.expert_panel.experts]
    bias = expert_biases(experts, rng)
    submitted = 0
    for expert in experts:
        for item in ctx.store.expert_queue(ctx.slug, expert):
            if item["round"] != round_id or item["reviewed"]:
                continue
            material = ctx.store.review_material(ctx.slug, expert, round_id, item["code"])
            scores = simulate_review(quality[team_of[item["code"]]], material["rubric"], bias[expert], rng)
            ctx.store.record_review(ctx.slug, expert, round_id, item["code"], scores,
                                    f"read {len(material['samples'])} answers", at)
            submitted += 1
    return submitted
