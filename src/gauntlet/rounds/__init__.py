"""Orchestration of rounds: gather results -> decide (pure domain) -> ledger.

The API the rest of Gauntlet uses:

    from gauntlet.rounds import decide, decision_inputs, TeamResult, Ledger, publish, replay_bundle

- `decide(document) -> dict`: the decision contract (`gauntlet round decide`);
  raises `InputError` naming the bad key.
- `decision_inputs(spec, round_id, results, seed=0, draws=4000) -> dict`: the
  input document for one round from the spec and per-team `TeamResult`s
  (`ComponentScore`s, audit verdict and findings, licence).
- `findings_from_audit(report, spec) -> (verdict, findings)`: read an audit's
  JSON into module findings with origins for the independence policy.
- `Ledger(path)`: `.append_decision(inputs, round_id=, spec_hash=, recorded_at=)`,
  `.append(...)`, `.verify(published_head=None)`, `.head`, `.records()`.
- `publish(ledger, path)` / `replay_bundle(bundle)`: published bundles.
- `Challenge(spec, directory)`: the multi-round life (join, submit, lock,
  decide, appeal, answer, redecide) over an event journal and the ledger.
"""

from gauntlet.rounds.bundle import make_bundle, publish
from gauntlet.rounds.bundle import replay as replay_bundle
from gauntlet.rounds.challenge import Challenge
from gauntlet.rounds.decisions import code_version, decide, what_if
from gauntlet.rounds.inputs import TeamResult, decision_inputs, findings_from_audit, module_kind
from gauntlet.rounds.ledger_store import Ledger
from gauntlet.rounds.lifecycle import ChallengeState, LifecycleError

__all__ = [
    "Challenge", "ChallengeState", "LifecycleError", "Ledger", "TeamResult", "code_version", "decide",
    "decision_inputs", "findings_from_audit", "make_bundle", "module_kind", "publish", "replay_bundle", "what_if",
]
