"""The application layer of rounds: gather results -> decide (pure domain) -> record.

The API the rest of Gauntlet uses:

    from gauntlet.rounds import decide, decision_inputs, TeamResult, Ledger, publish, replay_bundle

- `decide(document) -> dict`: the decision contract (`gauntlet round decide`);
  raises `InputError` naming the bad key.
- `decision_inputs(spec, round_id, results, seed=0, draws=4000) -> dict`: the
  input document for one round from the spec and per-team `TeamResult`s.
- `findings_from_audit(report, spec) -> (verdict, findings)`: read an audit's
  JSON into module findings with origins for the independence policy.
- `Ledger(path)`: a ledger file (what `gauntlet ledger export` writes):
  `.verify(published_head=None)`, `.head`, `.records()`.
- `publish(ledger, path)` / `replay_bundle(bundle)`: published bundles.
- `gauntlet.rounds.service`: one function per event of a challenge's life
  (register, join, submit, lock, decide, publish, appeal, answer, redecide),
  each one transaction over the store's record.
"""

from gauntlet.rounds.bundle import make_bundle, publish
from gauntlet.rounds.bundle import replay as replay_bundle
from gauntlet.rounds.decisions import code_version, decide, what_if
from gauntlet.rounds.inputs import TeamResult, decision_inputs, findings_from_audit, module_kind
from gauntlet.rounds.ledger_file import Ledger

__all__ = [
    "Ledger", "TeamResult", "code_version", "decide", "decision_inputs", "findings_from_audit", "make_bundle",
    "module_kind", "publish", "replay_bundle", "what_if",
]
