"""Which components a round gathers is decided by the spec's weights and the stages that
exist (`gauntlet.rounds.gather.STAGES`), never by a list of names kept beside them."""

from types import SimpleNamespace

from gauntlet.domain.components import ComponentScore
from gauntlet.rounds import gather


class _Store:
    """What `gather_round` reads from a store: one team with a benchmark result and no audit."""

    def round_submissions(self, slug, round_id):
        return [{"team": "lg", "organisation": "LG AI Research", "licence": "apache-2.0", "intake_recorded": True,
                 "audits": [], "components": {"benchmark": {"value": 71.0, "lower": 69.0, "upper": 73.0,
                                                            "detail": {}}}}]

    def round_own_work(self, slug, round_id):
        return {}


def _context(tmp_path, weights):
    return SimpleNamespace(slug="k", spec=SimpleNamespace(scoring=SimpleNamespace(weights=weights)),
                           store=_Store(), workspace=SimpleNamespace(audits=lambda round_id: tmp_path),
                           round=lambda round_id: None)


def test_a_weighed_component_no_stage_produces_is_a_gap_naming_the_stages_that_exist(tmp_path):
    evidence = gather.gather_round(_context(tmp_path, {"benchmark": 60, "safety": 40}), "first")
    assert f"no stage produces the spec's component 'safety' (known: {', '.join(gather.STAGES)})" in evidence.gaps
    assert evidence.components["lg"] == {"benchmark": ComponentScore(71.0, 69.0, 73.0)}
    # Only the stages the spec weighs run: this store has no arena and no panel to read.
    assert evidence.arena is None and evidence.panel is None


def test_a_new_stage_is_all_a_spec_needs_to_weigh_its_component(tmp_path, monkeypatch):
    monkeypatch.setitem(gather.STAGES, "safety",
                        lambda g: SimpleNamespace(scores={team: ComponentScore.exact(8.0) for team in g.teams}))
    evidence = gather.gather_round(_context(tmp_path, {"benchmark": 60, "safety": 40}), "first")
    assert not any("no stage produces" in gap for gap in evidence.gaps)
    assert evidence.components["lg"]["safety"] == ComponentScore.exact(8.0)
